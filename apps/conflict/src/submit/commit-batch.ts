import type { DataSource } from 'typeorm';
import { applyOp, findConflicts, makeInvertible, transformAgainst, validateOp, type TextOp } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import { commitOps, ensureDocument, loadOpsAndDuplicates, lockHead, type NewOpRow } from '../persistence/doc.repository';
import { DocumentCache, type CachedOp } from '../documents/document-cache';
import type { Caller, ConflictDetected, ConflictOptions, SubmitResult } from '../documents/document.types';

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

/**
 * THE place that decides a document's op order. One transaction for a batch of submits to one document:
 *
 *   1. lock the head row (`SELECT … FOR UPDATE`; create the document first if it has none). Every committer of
 *      this document on every replica queues here, so nobody ever commits on a stale head: no retry loop.
 *   2. one read: the ops the batch must be transformed against and any op already committed under one of the
 *      batch's (client_id, seq). Dedupe comes FIRST: a resend gets its original ack whatever version it claims
 *      (ShareDB only dedupes among the ops it transforms against, so a resend claiming head commits twice).
 *   3. per submit, in arrival order: refuse a base ahead of head or too far behind (CONFLICT, reload), refuse an
 *      edit of a file locked by someone else, transform against everything committed after its base (including
 *      earlier submits of this batch), validate against the head text with the limits, apply.
 *   4. one statement: insert the ops, move the head (+ snapshots reached), then COMMIT.
 *
 * A submit refused in step 3 is refused alone; the others still commit. If the transaction fails, every submit
 * of the batch fails and nothing of it is acknowledged. The cache is updated only after COMMIT.
 */
export async function commitBatch(
  db: DataSource,
  cache: DocumentCache,
  options: ConflictOptions,
  sessionId: string,
  docId: string,
  batch: readonly PendingSubmit[],
): Promise<BatchOutcome[]> {
  const key = DocumentCache.key(sessionId, docId);
  const outcomes: Array<BatchOutcome | undefined> = batch.map(() => undefined);
  let committed: { version: number; content: string; ops: CachedOp[] } | undefined;
  try {
    await db.transaction(async (tx) => {
      committed = undefined;
      outcomes.fill(undefined);
      const cached = cache.get(key);
      let head = await lockHead(tx, sessionId, docId, cached?.version ?? -1);
      if (!head) {
        await ensureDocument(tx, sessionId, docId);
        head = await lockHead(tx, sessionId, docId, -1);
        if (!head) throw new Error(`document ${docId} vanished after creation`);
      }
      const headContent = head.content ?? (cached as NonNullable<typeof cached>).content;

      // Which earlier ops are needed: from the lowest acceptable base of the batch up to head.
      const acceptable = batch.filter((s) => s.version <= head.version && s.version >= head.min_version && head.version - s.version <= options.maxCatchUpOps);
      const lowestBase = acceptable.reduce((lo, s) => Math.min(lo, s.version), head.version);
      const fromCache = cache.opsBetween(head.content === null ? cached : undefined, lowestBase, head.version);
      const rows = await loadOpsAndDuplicates(
        tx,
        sessionId,
        docId,
        fromCache ? null : lowestBase,
        batch.map((s) => s.caller.client_id),
        batch.map((s) => s.seq),
      );
      const dupes = new Map<string, CachedOp>();
      for (const r of rows) dupes.set(`${r.client_id}\u0000${r.seq}`, r);
      const log: CachedOp[] = fromCache ? [...fromCache] : rows.filter((r) => r.version > lowestBase);
      // log[i] is the op of version logStart + i; newly committed ops are appended as we go.
      const logStart = lowestBase + 1;

      let version = head.version;
      let content = headContent;
      const fresh: NewOpRow[] = [];
      const snapshots: Array<{ version: number; content: string }> = [];
      batch.forEach((s, i) => {
        const dedupeKey = `${s.caller.client_id}\u0000${s.seq}`;
        const original = dupes.get(dedupeKey);
        if (original) {
          outcomes[i] = { ok: true, result: duplicateResult(docId, original) };
          return;
        }
        const refusal = refuse(s, head, options);
        if (refusal) {
          outcomes[i] = { ok: false, error: refusal };
          return;
        }
        const against = log.slice(s.version + 1 - logStart);
        const transformed = transformAgainst(s.op, against.map((c) => c.op));
        const valid = validateOp(content, transformed, options.limits);
        if (!valid.ok) {
          outcomes[i] = { ok: false, error: ChorusError.validation(valid.error.field, `Op refused (${valid.error.reason}): ${valid.error.message}. Nothing was applied.`) };
          return;
        }
        const op = makeInvertible(valid.op, content);
        const applied = applyOp(content, op, options.limits);
        if (!applied.ok) {
          outcomes[i] = { ok: false, error: ChorusError.validation(applied.error.field, `Op refused (${applied.error.reason}): ${applied.error.message}`) };
          return;
        }
        content = applied.doc;
        version += 1;
        const row: CachedOp = { version, base_version: s.version, op, client_id: s.caller.client_id, seq: s.seq, user_id: s.caller.user_id };
        log.push(row);
        fresh.push(row);
        dupes.set(dedupeKey, row);
        if (version % options.snapshotEvery === 0) snapshots.push({ version, content });
        outcomes[i] = { ok: true, result: { ...duplicateResult(docId, row), duplicate: false, conflicts: detectConflicts(docId, s, row, against) } };
      });
      if (fresh.length > 0) await commitOps(tx, sessionId, docId, fresh, { version, content }, snapshots);
      committed = { version, content, ops: log };
    });
  } catch (err) {
    // Nothing of this batch committed (or we cannot know: then the resend's dedupe answers). Drop the cache: it
    // may be ahead of what this replica saw committed.
    cache.forget(key);
    const error = err instanceof ChorusError ? err : new ChorusError('UNAVAILABLE', 'The document store did not commit the op; resend it with the same seq.');
    return batch.map(() => ({ ok: false, error }));
  }
  if (committed) cache.set(key, committed.version, committed.content, committed.ops);
  return outcomes.map((o) => o ?? { ok: false, error: new ChorusError('SERVER_ERROR', 'The op was not processed.') });
}

function refuse(s: PendingSubmit, head: { version: number; min_version: number; lock_holder: string | null }, options: ConflictOptions): ChorusError | undefined {
  if (s.version > head.version) {
    return new ChorusError('CONFLICT', `Version ${s.version} is ahead of the document (head ${head.version}): reload the document.`, { field: 'version' });
  }
  if (s.version < head.min_version) {
    return new ChorusError('CONFLICT', `Ops after version ${s.version} are no longer retained (oldest ${head.min_version}): reload the document.`, { field: 'version' });
  }
  if (head.version - s.version > options.maxCatchUpOps) {
    return new ChorusError('CONFLICT', `Version ${s.version} is ${head.version - s.version} versions behind (limit ${options.maxCatchUpOps}): reload the document.`, { field: 'version' });
  }
  if (head.lock_holder !== null && head.lock_holder !== s.caller.user_id) {
    return new ChorusError('CONFLICT', `The file is locked by ${head.lock_holder}; only the holder may edit it until the lock is released or expires.`, { field: 'doc_id' });
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
  const found = findConflicts(s.op, against.map((c) => c.op)).filter((c) => against[c.index].client_id !== s.caller.client_id);
  if (found.length === 0) return [];
  const overlaps = found.map((c) => ({ version: against[c.index].version, peer_id: against[c.index].client_id, user_id: against[c.index].user_id, ranges: c.ranges }));
  const peers = [...new Set([s.caller.client_id, ...overlaps.map((o) => o.peer_id)])];
  return [{ doc_id: docId, version: row.version, base_version: s.version, peer_id: s.caller.client_id, user_id: s.caller.user_id, overlaps, peers }];
}
