import { Logger, type LoggerService } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { authorize } from '@chorus/auth';
import { poolOf } from '@chorus/database';
import { validateOpShape, type TextSelection } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import { compactOps, ensureDocument, lockHead, purgeSessionDocuments, snapshotAtOrBelow } from './persistence/doc.repository';
import { DocumentCache } from './documents/document-cache';
import { DocumentReader } from './documents/document-reader';
import { parseCaller, parseInput } from './documents/document.input';
import { assertStorableOp } from './documents/storable-text';
import { FileLocks } from './locks/file-locks';
import { documentKind } from './yjs/yjs.repository';
import { CommitMonitor, type CommitFailureCounts } from './submit/commit-failures';
import { OpCommitter } from './submit/op-committer';
import { ConflictWorkflow } from './conflicts/conflict-workflow';
import { parseWorkflowInput } from './conflicts/workflow.input';
import type { ConflictResolution } from '@chorus/contracts';
import type { ConflictList, ConflictView } from '@chorus/protocol';
import {
  DEFAULT_CONFLICT_OPTIONS,
  type Caller,
  type ConflictOptions,
  type DocumentState,
  type FileLocked,
  type FileUnlocked,
  type HistoryEntry,
  type HistoryPage,
  type OpsPage,
  type SessionLocks,
  type SubmitResult,
} from './documents/document.types';

/**
 * The conflict service's handler-facing API: one method per message, each taking the trusted `Caller` (built
 * by the gateway from the authenticated connection) and the payload (untrusted; checked here). Methods throw
 * ChorusError with a stable code; transports map it once.
 *
 * One instance per process (replica). Any number of replicas may serve the same documents at once: order is
 * decided in Postgres (commit-batch.ts), never in memory.
 */
export class ConflictService {
  readonly options: ConflictOptions;
  private readonly committer: OpCommitter;
  private readonly reader: DocumentReader;
  private readonly locks: FileLocks;
  private readonly workflow: ConflictWorkflow;

  constructor(
    private readonly db: DataSource,
    options: Partial<ConflictOptions> = {},
    logger: LoggerService = new Logger('ConflictService'),
  ) {
    this.options = { ...DEFAULT_CONFLICT_OPTIONS, ...options };
    const cache = new DocumentCache(this.options.cacheDocs, this.options.cacheOpsPerDoc);
    this.committer = new OpCommitter(poolOf(db, { prepared: this.options.preparedStatements }), cache, this.options, new CommitMonitor(logger));
    this.reader = new DocumentReader(db, this.options);
    this.locks = new FileLocks(db, this.options);
    this.workflow = new ConflictWorkflow(db, this.reader, (submit) => this.committer.submit(submit), this.options, logger);
  }

  /** `open_document {session_id, doc_id}` → `document {doc_id, version, content}`. */
  async openDocument(caller: Caller, payload: unknown): Promise<DocumentState> {
    authorize(parseCaller(caller).role, 'document.read');
    const input = parseInput('open', payload);
    // A Yjs document is not a text one (docs/yjs.md): its kind was chosen when it was created.
    if ((await documentKind(this.db, input.session_id, input.doc_id)) === 'yjs') throw new ChorusError('CONFLICT', `Document ${input.doc_id} is a Yjs document: open it with yjs_sync (docs/yjs.md).`);
    return this.reader.open(input.session_id, input.doc_id);
  }

  /**
   * Creates a document at version 0 with initial text (e.g. a file of the uploaded project). If it already
   * exists nothing changes and its current state is returned.
   */
  async createDocument(caller: Caller, payload: unknown): Promise<DocumentState & { created: boolean }> {
    authorize(parseCaller(caller).role, 'document.edit');
    const input = parseInput('create', payload);
    const shape = validateOpShape(input.content === '' ? [] : [input.content], this.options.limits);
    if (!shape.ok) throw ChorusError.validation('content', `content: ${shape.error.message}`);
    if ([...input.content].length > this.options.limits.maxDocLength) throw new ChorusError('PAYLOAD_TOO_LARGE', `A document may have at most ${this.options.limits.maxDocLength} characters.`);
    const created = await ensureDocument(this.db, input.session_id, input.doc_id, input.content);
    return { ...(await this.reader.open(input.session_id, input.doc_id)), created };
  }

  /**
   * `submit_op {session_id, doc_id, version, op, seq}` → ack (`op_ack`), the committed op to broadcast (`op`),
   * and `conflict_detected` events. `caller.client_id` is the dedupe identity: a resent seq returns the
   * original result and is never applied twice. Errors: VALIDATION_ERROR (bad op; nothing applied),
   * RELOAD_REQUIRED field `version`, FILE_LOCKED field `doc_id` (locked by someone else), PERMISSION_DENIED,
   * UNAVAILABLE (store failed transiently: resend with the same seq). Text Postgres cannot hold (NUL, unpaired
   * surrogates) in the op, doc_id or ids is VALIDATION_ERROR before planning; a deterministic store failure of
   * this submit alone is VALIDATION_ERROR / PAYLOAD_TOO_LARGE, never its batch-mates' failure.
   */
  async submitOp(caller: Caller, payload: unknown): Promise<SubmitResult> {
    const who = parseCaller(caller);
    authorize(who.role, 'document.edit');
    const input = parseInput('submit', payload);
    const shape = validateOpShape(input.op, this.options.limits);
    if (!shape.ok) {
      const tooLarge = shape.error.reason === 'op_too_large' || shape.error.reason === 'too_many_components';
      throw tooLarge
        ? new ChorusError('PAYLOAD_TOO_LARGE', `Op refused: ${shape.error.message}. Nothing was applied.`, { field: shape.error.field })
        : ChorusError.validation(shape.error.field, `Op refused (${shape.error.reason}): ${shape.error.message}. Nothing was applied.`);
    }
    assertStorableOp(shape.op);
    const submit = { caller: who, sessionId: input.session_id, docId: input.doc_id, version: input.version, seq: input.seq, op: shape.op };
    // Overlaps are recorded (conflict_resolutions) before the result goes back: durable before the push.
    return this.workflow.record(submit, await this.committer.submit(submit));
  }

  /** `resolve_conflict {conflict_id, strategy, text?}` → the resolution and the op that applied it (broadcast it). */
  async resolveConflict(caller: Caller, payload: unknown): Promise<ConflictResolution> {
    const who = parseCaller(caller);
    const input = parseWorkflowInput('resolve', payload);
    if (input.text !== undefined) assertStorableOp([input.text]);
    return this.workflow.resolve(who, input.session_id, input.conflict_id, input.strategy, input.text);
  }

  /** One recorded conflict. */
  async getConflict(caller: Caller, payload: unknown): Promise<ConflictView> {
    const input = parseWorkflowInput('get', payload);
    return this.workflow.get(parseCaller(caller), input.session_id, input.conflict_id);
  }

  /** `GET /sessions/:id/conflicts?state=open|resolved`: the session's recorded conflicts, oldest first. */
  async listConflicts(caller: Caller, payload: unknown): Promise<ConflictList> {
    const input = parseWorkflowInput('list', payload);
    return this.workflow.list(parseCaller(caller), input.session_id, input.query);
  }

  /** Conflicts recorded, failed to record, and resolved on this replica (metrics). */
  conflictCounters(): { recorded: number; recordFailures: number; resolved: number } {
    return this.workflow.counters();
  }

  /** `fetch_ops {session_id, doc_id, from_version}` → `ops {doc_id, ops, head}` in version order. */
  async fetchOps(caller: Caller, payload: unknown): Promise<OpsPage> {
    authorize(parseCaller(caller).role, 'document.read');
    const input = parseInput('fetch', payload);
    return this.reader.fetchOps(input.session_id, input.doc_id, input.from_version, input.limit);
  }

  /** The text at a past version `{session_id, doc_id, version}` → `{doc_id, version, content}`. */
  async documentAt(caller: Caller, payload: unknown): Promise<DocumentState> {
    authorize(parseCaller(caller).role, 'history.read');
    const input = parseInput('at', payload);
    // A Yjs document's versions are snapshots (yjs/yjs-versions.ts): the gateway's REST route asks for them on this.
    if ((await documentKind(this.db, input.session_id, input.doc_id)) === 'yjs') throw new ChorusError('CONFLICT', `Document ${input.doc_id} is a Yjs document: its versions are snapshots (GET …/documents/:docId/versions, docs/yjs.md).`);
    return this.reader.textAt(input.session_id, input.doc_id, input.version);
  }

  /** Who changed what: `{session_id, doc_id, from_version, limit?}` → entries oldest first. */
  async history(caller: Caller, payload: unknown): Promise<HistoryEntry[]> {
    authorize(parseCaller(caller).role, 'history.read');
    const input = parseInput('history', payload);
    return this.reader.history(input.session_id, input.doc_id, input.from_version ?? 0, input.limit);
  }

  /** `document_history {session_id, doc_id, from_version?, limit?}` → a `history` page (op summaries, oldest first). */
  async historyPage(caller: Caller, payload: unknown): Promise<HistoryPage> {
    authorize(parseCaller(caller).role, 'history.read');
    const input = parseInput('history', payload);
    return this.reader.historyPage(input.session_id, input.doc_id, input.from_version, input.limit);
  }

  /**
   * Deletes everything of a deleted session (documents, ops, snapshots, locks). Only the session service's
   * deletion drives it (never a client); idempotent and safe on any number of replicas at once.
   */
  async purgeSession(payload: unknown): Promise<{ removed: number }> {
    const input = parseInput('purge', payload);
    return { removed: await purgeSessionDocuments(this.db, input.session_id) };
  }

  /** A cursor/selection made on `version`, carried to head: `{doc_id, version: head, selection}`. */
  async transformSelection(caller: Caller, payload: unknown): Promise<{ doc_id: string; version: number; selection: TextSelection }> {
    authorize(parseCaller(caller).role, 'document.read');
    const input = parseInput('selection', payload);
    return this.reader.transformSelection(input.session_id, input.doc_id, input.version, input.selection, input.owner_client_id);
  }

  /** `lock_file {session_id, doc_id, ttl_ms?}` → `file_locked` (broadcast it to the session). */
  async lockFile(caller: Caller, payload: unknown): Promise<FileLocked> {
    const input = parseInput('lock', payload);
    return this.locks.lock(parseCaller(caller), input.session_id, input.doc_id, input.ttl_ms);
  }

  /** `unlock_file {session_id, doc_id, force?}` → `file_unlocked` (broadcast it), or null if nothing was locked. */
  async unlockFile(caller: Caller, payload: unknown): Promise<FileUnlocked | null> {
    const input = parseInput('unlock', payload);
    return this.locks.unlock(parseCaller(caller), input.session_id, input.doc_id, input.force ?? false);
  }

  /** `locks.list {session_id}` → the session's live locks (for `joined.locks`), at most MAX_JOINED_LOCKS. */
  async listLocks(caller: Caller, payload: unknown): Promise<SessionLocks> {
    const input = parseInput('locks', payload);
    return this.locks.list(parseCaller(caller), input.session_id);
  }

  /** Maintenance (a timer on any replica): deletes expired locks and returns their `file_unlocked` events. */
  expireLocks(limit?: number): Promise<FileUnlocked[]> {
    return this.locks.expire(limit);
  }

  /**
   * Maintenance: drops ops at or below the newest snapshot <= `keepFromVersion` (their text stays readable at
   * the snapshot). Clients based before it must reload. Returns the new oldest retained version.
   */
  async compact(sessionId: string, docId: string, keepFromVersion: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const head = await lockHead(tx, sessionId, docId);
      if (!head) throw new ChorusError('NOT_FOUND', `Document ${docId} does not exist.`);
      const snap = await snapshotAtOrBelow(tx, sessionId, docId, Math.min(keepFromVersion, head.version));
      if (!snap || snap.version <= head.min_version) return head.min_version;
      await compactOps(tx, sessionId, docId, snap.version);
      return snap.version;
    });
  }

  /** Commit transactions and submits so far on this replica (batching factor = submits / transactions). */
  commitCounters(): { transactions: number; submits: number } {
    return this.committer.counters();
  }

  /** Commit failures caught on this replica, by kind: fast-path errors, failed attempts, isolated submits. */
  commitFailures(): CommitFailureCounts {
    return this.committer.failures();
  }
}
