import type { DataSource } from 'typeorm';
import { authorize } from '@chorus/auth';
import type { Caller, YjsRestored, YjsVersion, YjsVersionInfo, YjsVersionPage } from '@chorus/contracts';
import { ChorusError, text } from '@chorus/protocol';
import { z } from 'zod';
import { docIdSchema, parseCaller } from '../documents/document.input';
import { documentKind, readYjs } from './yjs.repository';
import type { YjsService } from './yjs.service';
import { compactState, mergeStored } from './yjs-update';
import { DEFAULT_YJS_TEXT, restoreUpdate, textOf } from './yjs-restore';
import { insertVersion, latestVersion, listVersions, lockHead, readVersion } from './yjs-versions.repository';

const version = z.number().int().positive().max(2_147_483_647);
const ref = z.strictObject({ session_id: z.uuid(), doc_id: docIdSchema });
const listInput = ref.extend({ before: version.optional(), limit: z.number().int().min(1).max(200).optional() });
const readInput = ref.extend({ version, text: text().min(1).max(256).optional() });
const saveInput = ref.extend({ label: text().min(1).max(200).optional() });
const restoreInput = ref.extend({ version });

function parse<T>(schema: z.ZodType<T>, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw ChorusError.validation(issue?.path.join('.') || '(payload)', issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/**
 * Version history of Yjs documents (docs/yjs.md "Version history"): snapshots of the whole state, taken by the
 * compaction job and by explicit saves, listed and read by everyone in the session; restored by editors and owners
 * as ONE NEW UPDATE (appended through YjsService like any client's, so it is durable, idempotent on retry and
 * pushed to every connected client by the gateway) — the log is never rewritten.
 */
export class YjsVersions {
  constructor(
    private readonly db: DataSource,
    private readonly yjs: YjsService,
  ) {}

  async list(caller: Caller, payload: unknown): Promise<YjsVersionPage> {
    authorize(parseCaller(caller).role, 'history.read');
    const input = parse(listInput, payload);
    await this.mustBeYjs(input.session_id, input.doc_id);
    const limit = input.limit ?? 50;
    const versions = await listVersions(this.db, input.session_id, input.doc_id, input.before, limit);
    const last = versions[versions.length - 1];
    return { doc_id: input.doc_id, versions, next_before: versions.length === limit && last !== undefined && last.version > 1 ? last.version : null };
  }

  async read(caller: Caller, payload: unknown): Promise<YjsVersion> {
    authorize(parseCaller(caller).role, 'history.read');
    const input = parse(readInput, payload);
    const found = await this.versionOf(input.session_id, input.doc_id, input.version);
    const { state, ...info } = found;
    const textName = input.text ?? DEFAULT_YJS_TEXT;
    return { ...info, update: state.toString('base64'), text_name: textName, text: textOf(state, textName) };
  }

  /**
   * Saves the current state as a version. Under the head row's lock (appends wait, so the state read is exactly
   * `seq`); a save when the newest version already holds this seq answers that version (`created: false`): a
   * retried save stores nothing twice.
   */
  async save(caller: Caller, payload: unknown): Promise<YjsVersionInfo & { created: boolean }> {
    const who = parseCaller(caller);
    authorize(who.role, 'document.edit');
    const input = parse(saveInput, payload);
    await this.mustBeYjs(input.session_id, input.doc_id);
    return this.db.transaction(async (tx) => {
      const head = await lockHead(tx, input.session_id, input.doc_id);
      if (head === undefined) throw new ChorusError('NOT_FOUND', `Yjs document ${input.doc_id} does not exist.`);
      const latest = await latestVersion(tx, input.session_id, input.doc_id);
      if (latest && latest.seq === head && (input.label === undefined || latest.label === input.label)) return { ...latest, created: false };
      const stored = await readYjs(tx, input.session_id, input.doc_id);
      if (!stored) throw new ChorusError('NOT_FOUND', `Yjs document ${input.doc_id} does not exist.`);
      const state = Buffer.from(compactState(stored.snapshot, stored.updates));
      const saved = await insertVersion(tx, { sessionId: input.session_id, docId: input.doc_id, seq: stored.headSeq, state, reason: 'saved', label: input.label ?? null, author: who.user_id });
      if (!saved) throw new ChorusError('NOT_FOUND', `Yjs document ${input.doc_id} does not exist.`);
      return { ...saved, created: true };
    });
  }

  /**
   * The current state and the version, diffed into one update that makes the content equal the version's
   * (yjs-restore.ts), appended as the caller's own update. Nothing to change → no append (`changed: false`), so
   * a retried restore appends nothing more. An update appended concurrently is merged as usual (it survives).
   */
  async restore(caller: Caller, payload: unknown): Promise<YjsRestored> {
    const who = parseCaller(caller);
    authorize(who.role, 'document.edit');
    const input = parse(restoreInput, payload);
    const found = await this.versionOf(input.session_id, input.doc_id, input.version);
    const stored = await readYjs(this.db, input.session_id, input.doc_id);
    if (!stored) throw new ChorusError('NOT_FOUND', `Yjs document ${input.doc_id} does not exist.`);
    const diff = restoreUpdate(mergeStored(stored.snapshot, stored.updates), found.state);
    if (!diff.changed) return { doc_id: input.doc_id, version: input.version, seq: stored.headSeq, changed: false, update: null, skipped: diff.skipped };
    const update = Buffer.from(diff.update).toString('base64');
    const appended = await this.yjs.append(caller, { session_id: input.session_id, doc_id: input.doc_id, update });
    return { doc_id: input.doc_id, version: input.version, seq: appended.seq, changed: !appended.duplicate, update: appended.duplicate ? null : update, skipped: diff.skipped };
  }

  private async versionOf(sessionId: string, docId: string, v: number): Promise<YjsVersionInfo & { state: Buffer }> {
    const found = await readVersion(this.db, sessionId, docId, v);
    if (found) return found;
    await this.mustBeYjs(sessionId, docId);
    throw new ChorusError('NOT_FOUND', `Yjs document ${docId} has no version ${v}.`);
  }

  private async mustBeYjs(sessionId: string, docId: string): Promise<void> {
    const kind = await documentKind(this.db, sessionId, docId);
    if (kind === 'yjs') return;
    if (kind === 'text') throw new ChorusError('CONFLICT', `Document ${docId} is a text (OT) document: its versions are its op versions (history, versions/:version).`, { field: 'doc_id' });
    throw new ChorusError('NOT_FOUND', `Yjs document ${docId} does not exist.`);
  }
}
