import type { DataSource } from 'typeorm';
import { applyOp, codePointLength, findConflicts, makeInvertible, summarize, transformAgainst, validateOp, type TextOp } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import { commitIfHead, commitOps, ensureDocument, loadOpsAndDuplicates, lockHead, type NewOpRow } from '../persistence/doc.repository';
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
  const fast = await tryFastPath(db, cache, options, sessionId, docId, batch).catch(() => undefined);
  if (fast) return fast;
  let plan: Plan | undefined;
  let meta: { meta_seq: number; min_version: number } | null = null;
  try {
    await db.transaction(async (tx) => {
      plan = undefined;
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
      plan = planBatch(docId, batch, head, headContent, log, lowestBase + 1, dupes, options);
      // Offer the fast path next time only if nobody else committed since our last commit (our cached text was
      // current) and no file lock is live: on a document several replicas write, it would mostly miss.
      meta = head.lock_holder === null && head.content === null ? { meta_seq: head.meta_seq, min_version: head.min_version } : null;
      if (plan.fresh.length > 0) await commitOps(tx, sessionId, docId, plan.fresh, { version: plan.version, content: plan.content }, plan.snapshots);
    });
  } catch (err) {
    // Nothing of this batch committed (or we cannot know: then the resend's dedupe answers). Drop the cache: it
    // may be ahead of what this replica saw committed.
    cache.forget(key);
    const error = err instanceof ChorusError ? err : new ChorusError('UNAVAILABLE', 'The document store did not commit the op; resend it with the same seq.');
    return batch.map(() => ({ ok: false, error }));
  }
  const done = plan as unknown as Plan;
  cache.set(key, done.version, done.content, done.log, meta);
  return done.outcomes;
}

/**
 * The fast path, for a document whose last commit this replica made (its cache is at head, as when the
 * transport routes a document's submits to one replica): no transaction, no lock, one statement. The batch is
 * planned against the cached head; the statement moves the head only if it is still at the cached version
 * and no one else holds a file lock, inserting the ops in the same statement. Anything unusual — a stale
 * cache (someone else committed), a refused or invalid op (to be confirmed against the true head), a resend
 * (the (client_id, seq) unique key rejects the whole statement) — returns undefined and the locked path
 * decides, dedupe first. Nothing is ever committed by both: the statement is atomic.
 */
async function tryFastPath(
  db: DataSource,
  cache: DocumentCache,
  options: ConflictOptions,
  sessionId: string,
  docId: string,
  batch: readonly PendingSubmit[],
): Promise<BatchOutcome[] | undefined> {
  const key = DocumentCache.key(sessionId, docId);
  const cached = cache.get(key);
  if (!cached?.meta) return undefined;
  const meta = cached.meta;
  const lowestBase = batch.reduce((lo, s) => Math.min(lo, s.version), cached.version);
  const log = cache.opsBetween(cached, lowestBase, cached.version);
  if (!log) return undefined;
  const head = { version: cached.version, min_version: meta.min_version, lock_holder: null };
  const plan = planBatch(docId, batch, head, cached.content, [...log], lowestBase + 1, new Map(), options);
  if (plan.fresh.length !== batch.length) return undefined;
  const moved = await commitIfHead(db, sessionId, docId, { version: cached.version, meta_seq: meta.meta_seq }, plan.fresh, { version: plan.version, content: plan.content }, plan.snapshots);
  if (!moved) return undefined;
  cache.set(key, plan.version, plan.content, plan.log, meta);
  return plan.outcomes;
}

interface Plan {
  outcomes: BatchOutcome[];
  fresh: NewOpRow[];
  snapshots: Array<{ version: number; content: string }>;
  version: number;
  content: string;
  /** The committed ops from logStart to the new head (for the cache). */
  log: CachedOp[];
}

/**
 * Pure: per submit, in arrival order — dedupe, refusals, transform against everything committed after its base
 * (`log[i]` is version logStart + i; ops planned earlier in the batch are appended), validate against the
 * current text, apply. A refused submit is refused alone; the others still go.
 */
function planBatch(
  docId: string,
  batch: readonly PendingSubmit[],
  head: { version: number; min_version: number; lock_holder: string | null },
  headContent: string,
  log: CachedOp[],
  logStart: number,
  dupes: Map<string, CachedOp>,
  options: ConflictOptions,
): Plan {
  let version = head.version;
  let content = headContent;
  let length = codePointLength(headContent);
  const unboundedDoc = { ...options.limits, maxDocLength: Number.MAX_SAFE_INTEGER };
  const fresh: NewOpRow[] = [];
  const snapshots: Array<{ version: number; content: string }> = [];
  const outcomes = batch.map((s): BatchOutcome => {
    const dedupeKey = `${s.caller.client_id}\u0000${s.seq}`;
    const original = dupes.get(dedupeKey);
    if (original) return { ok: true, result: duplicateResult(docId, original) };
    const refusal = refuse(s, head, options);
    if (refusal) return { ok: false, error: refusal };
    const against = log.slice(s.version + 1 - logStart);
    const transformed = transformAgainst(s.op, against.map((c) => c.op));
    // The document-size limit is checked here on a running length: validateOp/applyOp would count the whole
    // text's code points for every growing op (O(size) per op instead of once per batch).
    const valid = validateOp(content, transformed, unboundedDoc);
    if (!valid.ok) {
      return { ok: false, error: ChorusError.validation(valid.error.field, `Op refused (${valid.error.reason}): ${valid.error.message}. Nothing was applied.`) };
    }
    const { inserted, deleted } = summarize(valid.op);
    if (inserted > deleted && length + inserted - deleted > options.limits.maxDocLength) {
      const after = length + inserted - deleted;
      return { ok: false, error: ChorusError.validation('op', `Op refused (doc_too_large): the document would have ${after} characters (limit ${options.limits.maxDocLength}). Nothing was applied.`) };
    }
    const op = makeInvertible(valid.op, content);
    const applied = applyOp(content, op, unboundedDoc);
    if (!applied.ok) return { ok: false, error: ChorusError.validation(applied.error.field, `Op refused (${applied.error.reason}): ${applied.error.message}`) };
    content = applied.doc;
    length += inserted - deleted;
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
