import type { PoolClient } from 'pg';
import type { CachedOp } from '../documents/document-cache';
import { prepared, runPrepared, type SqlExecutor } from '@chorus/database';
import { fromRawOp, type RawOp } from './doc.repository';

// The commit path's SQL, for several documents at once: every statement takes arrays (unnest) so that one
// transaction commits the queued submits of many documents with a fixed number of round trips. Each is a
// prepared statement (libs/database prepared.ts): parsed and planned once per connection, not per commit.

/** A document addressed by the commit path. */
export interface DocRef {
  readonly sessionId: string;
  readonly docId: string;
}

export interface LockedHead {
  readonly sessionId: string;
  readonly docId: string;
  readonly version: number;
  readonly min_version: number;
  readonly meta_seq: number;
  /** The version of the checkpoint `content` (documents.content_version): the head text is it + ops after it. */
  readonly content_version: number;
  /**
   * The checkpoint text; null when the caller's cached text is at a version in [content_version, version] (the
   * query skips sending it: the caller replays the ops after its cached version instead).
   */
  readonly content: string | null;
  /** The unexpired file lock, if any (read under the head-row lock, so no lock/unlock races the commit). */
  readonly lock: HeadLock | null;
}

/** A live file lock as the commit path sees it: enough to refuse an edit with FILE_LOCKED and say until when. */
export interface HeadLock {
  readonly holder_id: string;
  /** ISO 8601, as `file_locked.expires_at` says it. */
  readonly expires_at: string;
  /** Milliseconds left, by the database clock (the one that decides expiry): a client's retry_after_ms. */
  readonly ms_left: number;
}

export interface StoredOp extends CachedOp {
  readonly sessionId: string;
  readonly docId: string;
}

/** An op to insert (with its document) — the shape of a doc_ops row. */
export type NewOp = StoredOp;

export interface NewHead extends DocRef {
  readonly version: number;
  /**
   * A new checkpoint (the text at `contentVersion`), or null to leave `content` alone: then the UPDATE does not
   * name the column at all, so the row's TOASTed text is neither copied nor WAL-logged again.
   */
  readonly checkpoint: { readonly version: number; readonly content: string } | null;
  /** Only for the conditional commit: the head version and meta_seq it expects to find. */
  readonly expectedVersion?: number;
  readonly expectedMetaSeq?: number;
}

export interface NewSnapshot extends DocRef {
  readonly version: number;
  readonly content: string;
}

/** Sorted by (session_id, doc_id): the one order in which every committer locks head rows (no deadlock). */
export function byKey<T extends DocRef>(docs: readonly T[]): T[] {
  return [...docs].sort(compareKeys);
}

/**
 * Postgres's order of (session_id uuid, doc_id text) as the ORDER BY of lockHeads sees it: uuids compare like
 * their lowercase hex text; doc_id compares by the database collation — only the lock order inside SQL
 * matters for deadlocks (it is the ORDER BY), this order just keeps arrays tidy.
 */
export function compareKeys(a: DocRef, b: DocRef): number {
  if (a.sessionId !== b.sessionId) return a.sessionId < b.sessionId ? -1 : 1;
  return a.docId < b.docId ? -1 : a.docId > b.docId ? 1 : 0;
}

/**
 * Creates the documents that do not exist yet (version 0, "", with their version-0 snapshot), in its own
 * autocommit statement BEFORE the commit transaction: a commit then only ever locks existing rows, in key
 * order. Rows are inserted in key order too, so two replicas creating overlapping sets cannot deadlock.
 */
export async function ensureDocuments(db: SqlExecutor, docs: readonly DocRef[]): Promise<void> {
  if (docs.length === 0) return;
  const sorted = byKey(docs);
  await runPrepared(db, ENSURE_DOCUMENTS, [sorted.map((d) => d.sessionId), sorted.map((d) => d.docId)]);
}

const ENSURE_DOCUMENTS = prepared(
  'conflict_ensure_documents',
  `WITH d AS (
       INSERT INTO documents (session_id, doc_id)
       SELECT t.session_id, t.doc_id FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS t(session_id, doc_id, ord) ORDER BY t.ord
       ON CONFLICT DO NOTHING RETURNING session_id, doc_id, content
     )
     INSERT INTO doc_snapshots (session_id, doc_id, version, content) SELECT session_id, doc_id, 0, content FROM d`,
);

/**
 * Locks the head rows of `docs` in key order until the transaction ends: every committer of these documents,
 * on any replica, queues here (the ORDER BY puts the row locking above the sort, so the locks are taken in key
 * order). `cachedVersion` per document is the version of the text the caller holds (-1: none); the checkpoint
 * text is sent only if that is not between the checkpoint and the head. Documents that do not exist are absent
 * from the result.
 */
export async function lockHeads(tx: PoolClient, docs: ReadonlyArray<DocRef & { cachedVersion: number }>): Promise<LockedHead[]> {
  const rows = await runPrepared<{
    session_id: string;
    doc_id: string;
    version: string;
    min_version: string;
    meta_seq: string;
    content_version: string;
    content: string | null;
    lock_holder: string | null;
    lock_expires_at: Date | null;
    lock_ms_left: string | null;
  }>(tx, LOCK_HEADS, [docs.map((d) => d.sessionId), docs.map((d) => d.docId), docs.map((d) => d.cachedVersion)]);
  return rows.map((r) => ({
    sessionId: r.session_id,
    docId: r.doc_id,
    version: Number(r.version),
    min_version: Number(r.min_version),
    meta_seq: Number(r.meta_seq),
    content_version: Number(r.content_version),
    content: r.content,
    lock: r.lock_holder !== null && r.lock_expires_at !== null ? { holder_id: r.lock_holder, expires_at: r.lock_expires_at.toISOString(), ms_left: Math.max(0, Number(r.lock_ms_left)) } : null,
  }));
}

const LOCK_HEADS = prepared(
  'conflict_lock_heads',
  `SELECT d.session_id, d.doc_id, d.version, d.min_version, d.meta_seq, d.content_version,
          CASE WHEN c.cached BETWEEN d.content_version AND d.version THEN NULL ELSE d.content END AS content,
          l.holder_id AS lock_holder, l.expires_at AS lock_expires_at, l.ms_left AS lock_ms_left
   FROM documents d JOIN unnest($1::uuid[], $2::text[], $3::bigint[]) AS c(session_id, doc_id, cached) ON d.session_id = c.session_id AND d.doc_id = c.doc_id
   -- At most one row per document (doc_locks' key is (session_id, doc_id)); FOR UPDATE OF d locks no lock row.
   LEFT JOIN LATERAL (
     SELECT l.holder_id, l.expires_at, ceil(extract(epoch FROM l.expires_at - now()) * 1000)::bigint AS ms_left
     FROM doc_locks l WHERE l.session_id = d.session_id AND l.doc_id = d.doc_id AND l.expires_at > now()
   ) l ON true
   ORDER BY d.session_id, d.doc_id FOR UPDATE OF d`,
);

interface RawStoredOp extends RawOp {
  session_id: string;
  doc_id: string;
}

/**
 * In one statement, for several documents: the committed ops after each document's `after` (null: none
 * needed) and any op already committed under one of the given (user_id, client_id, seq) keys (dedupe: a
 * resend is the same author's, never another user's op under the same client id). Must run after lockHeads:
 * in READ COMMITTED a statement sees everything committed before it started, including what the previous lock
 * holders wrote. Index lookups only (primary key ranges and the doc_ops_author_client_seq_key unique key).
 */
export async function loadOpsAndDuplicatesMany(
  tx: PoolClient,
  ranges: ReadonlyArray<DocRef & { after: number | null }>,
  keys: ReadonlyArray<DocRef & { userId: string; clientId: string; seq: number }>,
): Promise<StoredOp[]> {
  const wanted = ranges.filter((r) => r.after !== null);
  const rows = await runPrepared<RawStoredOp>(tx, LOAD_OPS_AND_DUPLICATES, [
    wanted.map((r) => r.sessionId),
    wanted.map((r) => r.docId),
    wanted.map((r) => r.after),
    keys.map((k) => k.sessionId),
    keys.map((k) => k.docId),
    keys.map((k) => k.userId),
    keys.map((k) => k.clientId),
    keys.map((k) => k.seq),
  ]);
  return rows.map((r) => ({ sessionId: r.session_id, docId: r.doc_id, ...fromRawOp(r) }));
}

const LOAD_OPS_AND_DUPLICATES = prepared(
  'conflict_load_ops_and_duplicates',
  `SELECT o.session_id, o.doc_id, o.version, o.base_version, o.op, o.client_id, o.seq, o.user_id
   FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS r(session_id, doc_id, after)
   JOIN doc_ops o ON o.session_id = r.session_id AND o.doc_id = r.doc_id AND o.version > r.after
   UNION
   SELECT o.session_id, o.doc_id, o.version, o.base_version, o.op, o.client_id, o.seq, o.user_id
   FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::bigint[]) AS k(session_id, doc_id, user_id, client_id, seq)
   JOIN doc_ops o ON o.session_id = k.session_id AND o.doc_id = k.doc_id AND o.user_id = k.user_id AND o.client_id = k.client_id AND o.seq = k.seq
   ORDER BY 1, 2, 3`,
);

function opParams(ops: readonly NewOp[]): unknown[] {
  return [
    ops.map((o) => o.sessionId),
    ops.map((o) => o.docId),
    ops.map((o) => o.version),
    ops.map((o) => o.base_version),
    ops.map((o) => JSON.stringify(o.op)),
    ops.map((o) => o.client_id),
    ops.map((o) => o.seq),
    ops.map((o) => o.user_id),
  ];
}

function snapshotParams(snapshots: readonly NewSnapshot[]): unknown[] {
  return [snapshots.map((s) => s.sessionId), snapshots.map((s) => s.docId), snapshots.map((s) => s.version), snapshots.map((s) => s.content)];
}

function headParams(heads: readonly NewHead[]): unknown[] {
  return [
    heads.map((h) => h.sessionId),
    heads.map((h) => h.docId),
    heads.map((h) => h.version),
    heads.map((h) => h.checkpoint?.version ?? null),
    heads.map((h) => h.checkpoint?.content ?? null),
  ];
}

/**
 * Under the head locks (lockHeads): inserts every op of every document, writes the snapshots reached and moves
 * every head — one statement (data-modifying CTEs always run to completion). Heads without a new checkpoint
 * and heads with one are two UPDATEs of disjoint rows: the first does not name `content` (no text rewritten;
 * and the migration's legacy trigger, which fires on UPDATE OF content, stays out of it). A unique violation,
 * which the locks and the dedupe make impossible short of a bug, aborts all of it.
 */
export async function commitMany(tx: PoolClient, ops: readonly NewOp[], heads: readonly NewHead[], snapshots: readonly NewSnapshot[]): Promise<void> {
  await runPrepared(tx, COMMIT_MANY, [...opParams(ops), ...snapshotParams(snapshots), ...headParams(heads)]);
}

const COMMIT_MANY = prepared(
  'conflict_commit_many',
  `WITH ins AS (
       INSERT INTO doc_ops (session_id, doc_id, version, base_version, op, client_id, seq, user_id)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::jsonb[], $6::text[], $7::bigint[], $8::text[])
       RETURNING 1
     ), snap AS (
       INSERT INTO doc_snapshots (session_id, doc_id, version, content)
       SELECT * FROM unnest($9::uuid[], $10::text[], $11::bigint[], $12::text[])
       RETURNING 1
     ), h AS (
       SELECT * FROM unnest($13::uuid[], $14::text[], $15::bigint[], $16::bigint[], $17::text[]) AS h(session_id, doc_id, version, content_version, content)
     ), plain AS (
       UPDATE documents d SET version = h.version, updated_at = now()
       FROM h WHERE d.session_id = h.session_id AND d.doc_id = h.doc_id AND h.content_version IS NULL
       RETURNING 1
     )
     UPDATE documents d SET version = h.version, content_version = h.content_version, content = h.content, updated_at = now()
     FROM h WHERE d.session_id = h.session_id AND d.doc_id = h.doc_id AND h.content_version IS NOT NULL`,
);

/**
 * The fast path's conditional commit for several documents, one autocommit statement: each head moves — and
 * its ops and snapshots are inserted — only if its row still has the expected version and meta_seq (nobody
 * committed, locked, unlocked or compacted since this replica's last commit of it). The rows are locked in
 * key order first (the `locked` CTE: FOR UPDATE above the sort; in READ COMMITTED a row updated meanwhile is
 * re-checked against the condition and skipped if it moved), so this never deadlocks with the locked path.
 * Returns the documents that moved; the others changed nothing. A resent (user_id, client_id, seq) makes its
 * INSERT fail (isResendCollision), which undoes the whole statement (the caller then takes the locked path,
 * dedupe first).
 */
export async function commitIfHeads(db: SqlExecutor, ops: readonly NewOp[], heads: readonly NewHead[], snapshots: readonly NewSnapshot[]): Promise<Set<string>> {
  const rows = await runPrepared<{ session_id: string; doc_id: string }>(db, COMMIT_IF_HEADS, [
    ...opParams(ops),
    ...snapshotParams(snapshots),
    ...headParams(heads),
    heads.map((h) => h.expectedVersion),
    heads.map((h) => h.expectedMetaSeq),
  ]);
  return new Set(rows.map((r) => docKey(r.session_id, r.doc_id)));
}

const COMMIT_IF_HEADS = prepared(
  'conflict_commit_if_heads',
  `WITH h AS (
         SELECT * FROM unnest($13::uuid[], $14::text[], $15::bigint[], $16::bigint[], $17::text[], $18::bigint[], $19::bigint[])
           AS h(session_id, doc_id, version, content_version, content, expected, meta_seq)
       ), locked AS MATERIALIZED (
         SELECT d.session_id, d.doc_id FROM documents d JOIN h ON d.session_id = h.session_id AND d.doc_id = h.doc_id
         WHERE d.version = h.expected AND d.meta_seq = h.meta_seq
         ORDER BY d.session_id, d.doc_id FOR UPDATE OF d
       ), plain AS (
         UPDATE documents d SET version = h.version, updated_at = now()
         FROM h JOIN locked l ON l.session_id = h.session_id AND l.doc_id = h.doc_id
         WHERE d.session_id = h.session_id AND d.doc_id = h.doc_id AND d.version = h.expected AND d.meta_seq = h.meta_seq AND h.content_version IS NULL
         RETURNING d.session_id, d.doc_id
       ), checkpointed AS (
         UPDATE documents d SET version = h.version, content_version = h.content_version, content = h.content, updated_at = now()
         FROM h JOIN locked l ON l.session_id = h.session_id AND l.doc_id = h.doc_id
         WHERE d.session_id = h.session_id AND d.doc_id = h.doc_id AND d.version = h.expected AND d.meta_seq = h.meta_seq AND h.content_version IS NOT NULL
         RETURNING d.session_id, d.doc_id
       ), head AS (
         SELECT * FROM plain UNION ALL SELECT * FROM checkpointed
       ), ins AS (
         INSERT INTO doc_ops (session_id, doc_id, version, base_version, op, client_id, seq, user_id)
         SELECT t.* FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::jsonb[], $6::text[], $7::bigint[], $8::text[]) AS t(session_id, doc_id, version, base_version, op, client_id, seq, user_id)
         JOIN head ON head.session_id = t.session_id AND head.doc_id = t.doc_id
         RETURNING 1
       ), snap AS (
         INSERT INTO doc_snapshots (session_id, doc_id, version, content)
         SELECT s.* FROM unnest($9::uuid[], $10::text[], $11::bigint[], $12::text[]) AS s(session_id, doc_id, version, content)
         JOIN head ON head.session_id = s.session_id AND head.doc_id = s.doc_id
         RETURNING 1
       )
       SELECT session_id, doc_id FROM head`,
);

/** The in-memory key of a document (same as DocumentCache.key). */
export function docKey(sessionId: string, docId: string): string {
  return `${sessionId}\u0000${docId}`;
}
