import type { Pool } from 'pg';
import { inTransaction } from '@chorus/database';
import { applyChecked, findConflicts, transformAgainst, type TextOp } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import {
  byKey,
  commitIfHeads,
  commitMany,
  compareKeys,
  docKey,
  ensureDocuments,
  loadOpsAndDuplicatesMany,
  lockHeads,
  type LockedHead,
  type NewHead,
  type NewOp,
  type NewSnapshot,
  type StoredOp,
} from '../persistence/commit.repository';
import type { CachedDoc, CachedOp, DocumentCache } from '../documents/document-cache';
import { replayText } from '../documents/head-text';
import type { Caller, ConflictDetected, ConflictOptions, SubmitResult } from '../documents/document.types';
import { classifyStoreError, isResendCollision, refusalOf, STORE_UNAVAILABLE, type CommitMonitor } from './commit-failures';

/** One submit waiting to be committed: its op already passed libs/ot shape validation (canonical). */
export interface PendingSubmit {
  readonly caller: Caller;
  readonly sessionId: string;
  readonly docId: string;
  readonly version: number;
  readonly seq: number;
  readonly op: TextOp;
}

export type BatchOutcome = { ok: true; result: SubmitResult } | { ok: false; error: ChorusError };

/** The queued submits of one document, in arrival order. */
export interface DocBatch {
  readonly key: string;
  readonly sessionId: string;
  readonly docId: string;
  readonly submits: readonly PendingSubmit[];
}

/**
 * THE place that decides op order. Commits the queued submits of several documents together — for each
 * document its submits in arrival order — and returns one outcome per submit (`outcomes.get(key)[i]` answers
 * `submits[i]`).
 *
 * 1. **Fast path** for the documents whose last commit this replica made (cache at head, no file lock): planned
 *    against the cache, committed by ONE autocommit statement that moves each head only if its row is still
 *    where this replica left it (commitIfHeads). Documents whose row moved, whose batch has a refusal or an
 *    invalid op (to be confirmed against the true head), or all of them if a resend hit the (client_id, seq)
 *    key, go to the locked path.
 * 2. **Locked path**, one transaction for all the other documents:
 *    - create missing documents first (own autocommit statement), then lock every head row in key order
 *      (`SELECT … ORDER BY key FOR UPDATE`): every committer of a document on every replica queues on its
 *      row, and replicas locking overlapping sets in one order never deadlock. Nobody commits on a stale head:
 *      no retry loop.
 *    - one read: the ops each document's batch must be transformed against (skipped when cached) and any op
 *      already committed under the batch's (client_id, seq)s. Dedupe comes FIRST: a resend gets its original
 *      ack whatever version it claims (ShareDB only dedupes among the ops it transforms against).
 *    - per document, per submit in arrival order: refuse a base ahead of head or too far behind (RELOAD_REQUIRED,
 *      reload), refuse an edit of a file locked by someone else, transform against everything committed after
 *      its base (including earlier submits of this batch), validate against the head text with the limits,
 *      apply (planBatch, pure).
 *    - one statement inserts every op, writes the snapshots reached and moves every head (unnest); COMMIT.
 *
 * A submit refused by planning is refused alone; the others — of its document and of the others — still
 * commit. One submit's store failure fails only that submit, never its batch-mates (commitIsolated): a
 * transient failure fails the attempt's submits with UNAVAILABLE (resend with the same seq); any other is
 * bisected until the guilty submit stands alone and gets a non-retryable error. The cache is updated only
 * after COMMIT.
 */
export async function commitDocuments(db: Pool, cache: DocumentCache, options: ConflictOptions, batches: readonly DocBatch[], monitor: CommitMonitor): Promise<Map<string, BatchOutcome[]>> {
  const outcomes = new Map<string, BatchOutcome[]>();
  const fast = batches.filter((b) => cache.get(b.key)?.meta);
  if (fast.length > 0) {
    // Nothing of a failed fast-path statement was written (one atomic statement): its documents take the
    // locked path. A resend's dedupe-key hit is the expected case; anything else is logged and counted.
    const done = await tryFastPath(db, cache, options, fast).catch((err: unknown) => {
      if (!isResendCollision(err)) monitor.fastPathFailed(err, classifyStoreError(err), fast.length);
      return new Map<string, BatchOutcome[]>();
    });
    for (const [key, list] of done) outcomes.set(key, list);
  }
  const rest = batches.filter((b) => !outcomes.has(b.key));
  if (rest.length === 0) return outcomes;
  for (const [key, list] of await commitIsolated(db, cache, options, rest, monitor)) outcomes.set(key, list);
  return outcomes;
}

/**
 * The locked path, with failure isolation. Group commit puts many users' submits, of many sessions, in one
 * transaction; a submit Postgres refuses (a NUL the input checks missed, a bug) must not fail the others, nor
 * be answered "resend" when a resend can never succeed. So a failed attempt that is not transient is split in
 * two — documents first, then one document's submits (first half before second: per-document order holds) —
 * and each half is committed on its own, recursively, until the guilty submit is alone: it gets the
 * deterministic error, everything else commits. A poison costs about 2·log2(batch) extra transactions, paid
 * only when a commit fails. Retrying is safe: a failed attempt wrote nothing (and if a COMMIT's outcome were
 * unknown, the retry's dedupe under the head locks would answer the committed submits as duplicates).
 */
async function commitIsolated(db: Pool, cache: DocumentCache, options: ConflictOptions, batches: readonly DocBatch[], monitor: CommitMonitor): Promise<Map<string, BatchOutcome[]>> {
  try {
    return await commitLocked(db, cache, options, batches);
  } catch (err) {
    // Nothing of these batches committed (or we cannot know: then the resend's dedupe answers). Drop the cache:
    // it may be ahead of what this replica saw committed.
    for (const b of batches) cache.forget(b.key);
    if (err instanceof ChorusError) return failAll(batches, err);
    const kind = classifyStoreError(err);
    const submits = batches.reduce((n, b) => n + b.submits.length, 0);
    monitor.commitFailed(err, kind, batches.length, submits);
    if (kind === 'transient') return failAll(batches, STORE_UNAVAILABLE());
    if (submits === 1) {
      const b = batches[0];
      monitor.submitRefused(err, kind, { sessionId: b.sessionId, docId: b.docId, clientId: b.submits[0].caller.client_id, seq: b.submits[0].seq });
      return failAll(batches, refusalOf(kind, err));
    }
    const [first, second] = halves(batches);
    const outcomes = await commitIsolated(db, cache, options, first, monitor);
    for (const [key, list] of await commitIsolated(db, cache, options, second, monitor)) outcomes.set(key, [...(outcomes.get(key) ?? []), ...list]);
    return outcomes;
  }
}

/** Two halves of an attempt: by documents, or, for one document, its submits in order (earlier half first). */
function halves(batches: readonly DocBatch[]): [DocBatch[], DocBatch[]] {
  if (batches.length > 1) {
    const mid = Math.ceil(batches.length / 2);
    return [batches.slice(0, mid), batches.slice(mid)];
  }
  const [b] = batches;
  const mid = Math.ceil(b.submits.length / 2);
  return [[{ ...b, submits: b.submits.slice(0, mid) }], [{ ...b, submits: b.submits.slice(mid) }]];
}

function failAll(batches: readonly DocBatch[], error: ChorusError): Map<string, BatchOutcome[]> {
  return new Map(batches.map((b) => [b.key, b.submits.map((): BatchOutcome => ({ ok: false, error }))]));
}

/** One attempt of the locked path for `rest` (see commitDocuments): throws if anything of it failed. */
async function commitLocked(db: Pool, cache: DocumentCache, options: ConflictOptions, rest: readonly DocBatch[]): Promise<Map<string, BatchOutcome[]>> {
  const outcomes = new Map<string, BatchOutcome[]>();
  const plans = new Map<string, { plan: Plan; meta: CachedDoc['meta'] }>();
  const uncached = rest.filter((b) => !cache.get(b.key));
  if (uncached.length > 0) await ensureDocuments(db, uncached);
  await inTransaction(db, async (tx) => {
    plans.clear();
    const sorted = byKey(rest);
    // Taken once, before any await: another flush may evict an entry meanwhile (entries are replaced, never mutated).
    const cachedOf = new Map(sorted.map((b) => [b.key, cache.get(b.key)]));
    const heads = await lockHeads(tx, sorted.map((b) => ({ sessionId: b.sessionId, docId: b.docId, cachedVersion: cachedOf.get(b.key)?.version ?? -1 })));
    const headOf = new Map(heads.map((h) => [docKey(h.sessionId, h.docId), h]));
    const missing = sorted.filter((b) => !headOf.has(b.key));
    // A cached document (so not re-ensured above) that is gone: its session was purged (session.purge) since
    // this replica cached it. Forget it and fail the attempt as transient: the resend finds it uncached,
    // re-creates it at version 0 and is answered as for any new document (CONFLICT if its base is ahead).
    const purged = missing.filter((b) => cachedOf.get(b.key) !== undefined);
    if (purged.length > 0) {
      for (const b of purged) cache.forget(b.key);
      throw Object.assign(new Error(`documents vanished since cached (purged?): ${purged.map((b) => b.docId).join(', ')}`), { code: 'EVANISHED' });
    }
    if (missing.length > 0) throw new Error(`documents vanished after creation: ${missing.map((b) => b.docId).join(', ')}`);

    // Which earlier ops each document needs: from the lowest acceptable base of its batch up to head.
    const need = sorted.map((b) => {
      const head = headOf.get(b.key) as LockedHead;
      const cached = cachedOf.get(b.key);
      const acceptable = b.submits.filter((s) => s.version <= head.version && s.version >= head.min_version && head.version - s.version <= options.maxCatchUpOps);
      const lowestBase = acceptable.reduce((lo, s) => Math.min(lo, s.version), head.version);
      // The head text is rebuilt from the cached text when it is between the checkpoint and the head (the
      // query then did not send the checkpoint), else from the checkpoint: plus the ops after it.
      const textFrom = head.content === null ? { version: (cached as CachedDoc).version, content: (cached as CachedDoc).content } : { version: head.content_version, content: head.content };
      const atHead = cached !== undefined && cached.version === head.version;
      const fromCache = cache.opsBetween(atHead ? cached : undefined, lowestBase, head.version);
      return { batch: b, head, atHead, lowestBase, fromCache, textFrom };
    });
    const rows = await loadOpsAndDuplicatesMany(
      tx,
      need.map((n) => ({ sessionId: n.batch.sessionId, docId: n.batch.docId, after: n.fromCache ? null : Math.min(n.lowestBase, n.textFrom.version) })),
      sorted.flatMap((b) => b.submits.map((s) => ({ sessionId: b.sessionId, docId: b.docId, userId: s.caller.user_id, clientId: s.caller.client_id, seq: s.seq }))),
    );
    const rowsOf = new Map<string, StoredOp[]>();
    for (const r of rows) {
      const key = docKey(r.sessionId, r.docId);
      const list = rowsOf.get(key);
      if (list) list.push(r);
      else rowsOf.set(key, [r]);
    }

    const ops: NewOp[] = [];
    const newHeads: NewHead[] = [];
    const snapshots: NewSnapshot[] = [];
    for (const n of need) {
      const { batch: b, head } = n;
      const found = rowsOf.get(b.key) ?? [];
      const dupes = new Map<string, CachedOp>();
      for (const r of found) dupes.set(dedupeKeyOf(r.user_id, r.client_id, r.seq), r);
      const log: CachedOp[] = n.fromCache ? [...n.fromCache] : found.filter((r) => r.version > n.lowestBase);
      const headContent = replayText(b.docId, n.textFrom.content, n.textFrom.version, head.version, n.fromCache ? [] : found);
      const plan = planBatch(b.docId, b.submits, head, headContent, log, n.lowestBase + 1, dupes, options);
      // Offer the fast path next time only if nobody else committed since our last commit (our cached text was
      // current) and no file lock is live: on a document several replicas write, it would mostly miss.
      const meta = head.lock === null && n.atHead ? { meta_seq: head.meta_seq, min_version: head.min_version } : null;
      plans.set(b.key, { plan, meta });
      if (plan.fresh.length === 0) continue;
      for (const op of plan.fresh) ops.push({ sessionId: b.sessionId, docId: b.docId, ...op });
      newHeads.push({ sessionId: b.sessionId, docId: b.docId, version: plan.version, checkpoint: checkpointOf(plan) });
      for (const s of plan.snapshots) snapshots.push({ sessionId: b.sessionId, docId: b.docId, ...s });
    }
    if (ops.length > 0) await commitMany(tx, ops, newHeads, snapshots);
  });
  for (const b of rest) {
    const { plan, meta } = plans.get(b.key) as { plan: Plan; meta: CachedDoc['meta'] };
    cache.set(b.key, plan.version, plan.content, plan.log, meta);
    outcomes.set(b.key, plan.outcomes);
  }
  return outcomes;
}

/**
 * The fast path, for documents whose last commit this replica made (their cache is at head, as when the
 * transport routes a document's submits to one replica): no transaction, one statement for all of them. Each
 * batch is planned against the cached head; a document whose batch has any refusal or invalid op is left to
 * the locked path (confirmed against the true head, dedupe first). The statement moves a head only if it is
 * still at the cached version and meta_seq, inserting that document's ops in the same statement. Nothing is
 * ever committed by both paths: the statement is atomic, and what it did not move it did not write.
 */
async function tryFastPath(db: Pool, cache: DocumentCache, options: ConflictOptions, batches: readonly DocBatch[]): Promise<Map<string, BatchOutcome[]>> {
  const planned: Array<{ batch: DocBatch; plan: Plan; meta: NonNullable<CachedDoc['meta']>; expected: number }> = [];
  for (const b of batches) {
    const cached = cache.get(b.key);
    if (!cached?.meta) continue;
    const lowestBase = b.submits.reduce((lo, s) => Math.min(lo, s.version), cached.version);
    const log = cache.opsBetween(cached, lowestBase, cached.version);
    if (!log) continue;
    const head = { version: cached.version, min_version: cached.meta.min_version, lock: null };
    const plan = planBatch(b.docId, b.submits, head, cached.content, [...log], lowestBase + 1, new Map(), options);
    if (plan.fresh.length !== b.submits.length) continue;
    planned.push({ batch: b, plan, meta: cached.meta, expected: cached.version });
  }
  const done = new Map<string, BatchOutcome[]>();
  if (planned.length === 0) return done;
  const sorted = planned.sort((x, y) => compareKeys(x.batch, y.batch));
  const moved = await commitIfHeads(
    db,
    sorted.flatMap(({ batch: b, plan }) => plan.fresh.map((op) => ({ sessionId: b.sessionId, docId: b.docId, ...op }))),
    sorted.map(({ batch: b, plan, meta, expected }) => ({
      sessionId: b.sessionId,
      docId: b.docId,
      version: plan.version,
      checkpoint: checkpointOf(plan),
      expectedVersion: expected,
      expectedMetaSeq: meta.meta_seq,
    })),
    sorted.flatMap(({ batch: b, plan }) => plan.snapshots.map((s) => ({ sessionId: b.sessionId, docId: b.docId, ...s }))),
  );
  for (const { batch: b, plan, meta } of sorted) {
    if (!moved.has(b.key)) continue;
    cache.set(b.key, plan.version, plan.content, plan.log, meta);
    done.set(b.key, plan.outcomes);
  }
  return done;
}

/**
 * The checkpoint a commit writes into documents.content: only the newest snapshot the batch reached (so the head
 * stays < snapshotEvery ops past it and a commit's cost does not grow with the text), or none.
 */
function checkpointOf(plan: Plan): NewHead['checkpoint'] {
  return plan.snapshots.length > 0 ? plan.snapshots[plan.snapshots.length - 1] : null;
}

interface Plan {
  outcomes: BatchOutcome[];
  fresh: CachedOp[];
  snapshots: Array<{ version: number; content: string }>;
  version: number;
  content: string;
  /** The committed ops from logStart to the new head (for the cache). */
  log: CachedOp[];
}

/** What planning needs of a head: the locked row's, or the cache's on the fast path (which never runs while a lock is live). */
type PlanHead = Pick<LockedHead, 'version' | 'min_version' | 'lock'>;

/**
 * Pure: per submit, in arrival order — dedupe, refusals, transform against everything committed after its base
 * (`log[i]` is version logStart + i; ops planned earlier in the batch are appended), validate against the
 * current text, apply. A refused submit is refused alone; the others still go.
 */
function planBatch(
  docId: string,
  batch: readonly PendingSubmit[],
  head: PlanHead,
  headContent: string,
  log: CachedOp[],
  logStart: number,
  dupes: Map<string, CachedOp>,
  options: ConflictOptions,
): Plan {
  let version = head.version;
  let content = headContent;
  const fresh: CachedOp[] = [];
  const snapshots: Array<{ version: number; content: string }> = [];
  const outcomes = batch.map((s): BatchOutcome => {
    const dedupeKey = dedupeKeyOf(s.caller.user_id, s.caller.client_id, s.seq);
    const original = dupes.get(dedupeKey);
    if (original) return { ok: true, result: duplicateResult(docId, original) };
    const refusal = refuse(s, head, options);
    if (refusal) return { ok: false, error: refusal };
    const against = log.slice(s.version + 1 - logStart);
    const transformed = transformAgainst(s.op, against.map((c) => c.op));
    // Validate against the head text with the limits, make invertible and apply: one step, at the op's cost on a
    // text without surrogates (libs/ot applyChecked).
    const applied = applyChecked(content, transformed, options.limits);
    if (!applied.ok) {
      return { ok: false, error: ChorusError.validation(applied.error.field, `Op refused (${applied.error.reason}): ${applied.error.message}. Nothing was applied.`) };
    }
    const op = applied.op;
    content = applied.doc;
    version += 1;
    const row: CachedOp = { version, base_version: s.version, op, client_id: s.caller.client_id, seq: s.seq, user_id: s.caller.user_id };
    log.push(row);
    fresh.push(row);
    dupes.set(dedupeKey, row);
    if (version % options.snapshotEvery === 0) snapshots.push({ version, content });
    return { ok: true, result: { ...duplicateResult(docId, row), duplicate: false, conflicts: detectConflicts(docId, s, row, against) } };
  });
  return { outcomes, fresh, snapshots, version, content, log };
}

/**
 * A resend is the same author's op under the same client id and seq (doc_ops_author_client_seq_key): another
 * user's op under the same client id is never answered as a duplicate of it. NUL cannot occur in stored ids.
 */
function dedupeKeyOf(userId: string, clientId: string, seq: number): string {
  return `${userId}\u0000${clientId}\u0000${seq}`;
}

function refuse(s: PendingSubmit, head: PlanHead, options: ConflictOptions): ChorusError | undefined {
  if (s.version > head.version) {
    return new ChorusError('RELOAD_REQUIRED', `Version ${s.version} is ahead of the document (head ${head.version}): reload the document.`, { field: 'version' });
  }
  if (s.version < head.min_version) {
    return new ChorusError('RELOAD_REQUIRED', `Ops after version ${s.version} are no longer retained (oldest ${head.min_version}): reload the document.`, { field: 'version' });
  }
  if (head.version - s.version > options.maxCatchUpOps) {
    return new ChorusError('RELOAD_REQUIRED', `Version ${s.version} is ${head.version - s.version} versions behind (limit ${options.maxCatchUpOps}): reload the document.`, { field: 'version' });
  }
  if (head.lock !== null && head.lock.holder_id !== s.caller.user_id) {
    // The same details as lock_file's refusal: who, until when, and how long to wait if no file_unlocked comes.
    const { holder_id, expires_at, ms_left } = head.lock;
    return new ChorusError('FILE_LOCKED', `The file is locked by ${holder_id} until ${expires_at}; only the holder may edit it until the lock is released or expires.`, {
      field: 'doc_id',
      locked_by: holder_id,
      locked_until: expires_at,
      retry_after_ms: ms_left,
    });
  }
  return undefined;
}

function duplicateResult(docId: string, row: CachedOp): SubmitResult {
  return {
    ack: { doc_id: docId, version: row.version, seq: row.seq },
    broadcast: { doc_id: docId, version: row.version, op: row.op, peer_id: row.client_id, seq: row.seq },
    conflicts: [],
    duplicate: true,
  };
}

/** Overlaps of the submitted op with the ops other clients committed after its base (libs/ot findConflicts). */
function detectConflicts(docId: string, s: PendingSubmit, row: CachedOp, against: readonly CachedOp[]): ConflictDetected[] {
  if (against.length === 0) return [];
  const own = (c: CachedOp): boolean => c.client_id === s.caller.client_id && c.user_id === s.caller.user_id;
  const found = findConflicts(s.op, against.map((c) => c.op)).filter((c) => !own(against[c.index]));
  if (found.length === 0) return [];
  const overlaps = found.map((c) => ({ version: against[c.index].version, peer_id: against[c.index].client_id, user_id: against[c.index].user_id, ranges: c.ranges }));
  const peers = [...new Set([s.caller.client_id, ...overlaps.map((o) => o.peer_id)])];
  return [{ doc_id: docId, version: row.version, base_version: s.version, peer_id: s.caller.client_id, user_id: s.caller.user_id, overlaps, peers }];
}
