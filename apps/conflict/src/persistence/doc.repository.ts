import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf } from '@chorus/database';
import type { TextOp } from '@chorus/ot';
import { replayText } from '../documents/head-text';

// Explicit SQL for the conflict service's tables. Every function takes the executor (DataSource or a
// transaction's EntityManager): the caller decides transaction boundaries.

export type Executor = DataSource | EntityManager;


export interface HeadRow {
  version: number;
  min_version: number;
  meta_seq: number;
  /** The holder of an unexpired file lock, if any. */
  lock_holder: string | null;
}

export interface OpRow {
  version: number;
  base_version: number;
  op: TextOp;
  client_id: string;
  seq: number;
  user_id: string;
  created_at: Date;
}

/** An op row as Postgres returns it (bigint columns as text). */
export interface RawOp {
  version: string;
  base_version: string;
  op: TextOp;
  client_id: string;
  seq: string;
  user_id: string;
}

interface RawOpRow extends RawOp {
  created_at: Date;
}

const OP_COLUMNS = 'version, base_version, op, client_id, seq, user_id, created_at';

/** The typed op of a raw row (the commit path's CachedOp fields). */
export function fromRawOp(r: RawOp): Omit<OpRow, 'created_at'> {
  return { version: Number(r.version), base_version: Number(r.base_version), op: r.op, client_id: r.client_id, seq: Number(r.seq), user_id: r.user_id };
}

function toOp(r: RawOpRow): OpRow {
  return { ...fromRawOp(r), created_at: r.created_at };
}

/** A new document is version 0, "" (or `content`), with its version-0 snapshot. No-op if it exists. */
export async function ensureDocument(db: Executor, sessionId: string, docId: string, content = ''): Promise<boolean> {
  const rows = rowsOf<{ version: string }>(
    await db.query(
      `WITH d AS (
         INSERT INTO documents (session_id, doc_id, content) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING session_id, doc_id, content
       )
       INSERT INTO doc_snapshots (session_id, doc_id, version, content) SELECT session_id, doc_id, 0, content FROM d RETURNING version`,
      [sessionId, docId, content],
    ),
  );
  return rows.length > 0;
}

/** Locks the head row until the transaction ends: every committer of this document, on any replica, queues here. */
export async function lockHead(tx: EntityManager, sessionId: string, docId: string): Promise<HeadRow | undefined> {
  const rows = rowsOf<{ version: string; min_version: string; meta_seq: string; lock_holder: string | null }>(
    await tx.query(
      `SELECT d.version, d.min_version, d.meta_seq,
              (SELECT l.holder_id FROM doc_locks l WHERE l.session_id = d.session_id AND l.doc_id = d.doc_id AND l.expires_at > now()) AS lock_holder
       FROM documents d WHERE d.session_id = $1 AND d.doc_id = $2 FOR UPDATE OF d`,
      [sessionId, docId],
    ),
  );
  const r = rows[0];
  return r && { version: Number(r.version), min_version: Number(r.min_version), meta_seq: Number(r.meta_seq), lock_holder: r.lock_holder };
}

/** The head version and the oldest retained one (no text: see readHeadText). */
export async function readHead(db: Executor, sessionId: string, docId: string): Promise<{ version: number; min_version: number } | undefined> {
  const rows = rowsOf<{ version: string; min_version: string }>(
    await db.query(`SELECT version, min_version FROM documents WHERE session_id = $1 AND doc_id = $2`, [sessionId, docId]),
  );
  const r = rows[0];
  return r && { version: Number(r.version), min_version: Number(r.min_version) };
}

/**
 * The head with its text, in ONE statement (one snapshot of the database: a checkpoint written or ops compacted
 * between two reads cannot mix): the checkpoint (`content` at `content_version`) and the ops after it up to the
 * head — at most snapshotEvery − 1 of them, always retained (min_version <= content_version) — replayed here.
 */
export async function readHeadText(db: Executor, sessionId: string, docId: string): Promise<{ version: number; min_version: number; content: string } | undefined> {
  const rows = rowsOf<{ version: string; min_version: string; content_version: string; content: string; ops: Array<{ version: number; op: TextOp }> | null }>(
    await db.query(
      `SELECT d.version, d.min_version, d.content_version, d.content,
              (SELECT json_agg(json_build_object('version', o.version, 'op', o.op) ORDER BY o.version) FROM doc_ops o
               WHERE o.session_id = d.session_id AND o.doc_id = d.doc_id AND o.version > d.content_version AND o.version <= d.version) AS ops
       FROM documents d WHERE d.session_id = $1 AND d.doc_id = $2`,
      [sessionId, docId],
    ),
  );
  const r = rows[0];
  if (!r) return undefined;
  const version = Number(r.version);
  return { version, min_version: Number(r.min_version), content: replayText(docId, r.content, Number(r.content_version), version, r.ops ?? []) };
}

/** Ops of versions in (after, upTo], in order, at most `limit`. */
export async function readOps(db: Executor, sessionId: string, docId: string, after: number, upTo: number, limit: number): Promise<OpRow[]> {
  const rows = (await db.query(
    `SELECT ${OP_COLUMNS} FROM doc_ops WHERE session_id = $1 AND doc_id = $2 AND version > $3 AND version <= $4 ORDER BY version LIMIT $5`,
    [sessionId, docId, after, upTo, limit],
  )) as RawOpRow[];
  return rows.map(toOp);
}

/** The newest snapshot at or below `version`. */
export async function snapshotAtOrBelow(db: Executor, sessionId: string, docId: string, version: number): Promise<{ version: number; content: string } | undefined> {
  const rows = rowsOf<{ version: string; content: string }>(
    await db.query(
      `SELECT version, content FROM doc_snapshots WHERE session_id = $1 AND doc_id = $2 AND version <= $3 ORDER BY version DESC LIMIT 1`,
      [sessionId, docId, version],
    ),
  );
  const r = rows[0];
  return r && { version: Number(r.version), content: r.content };
}

/**
 * Drops the ops of versions <= `upTo` (which must be a snapshot version, so the text there stays readable) and
 * raises min_version. Takes the head lock: no commit can be reading those ops meanwhile. The checkpoint
 * (content, content_version) is moved up to that snapshot if it is older, so the head text never needs a dropped
 * op (normally it is already newer: checkpoints are written with the snapshots).
 */
export async function compactOps(tx: EntityManager, sessionId: string, docId: string, upTo: number): Promise<number> {
  const result = rowsOf<{ version: string }>(
    await tx.query(`DELETE FROM doc_ops WHERE session_id = $1 AND doc_id = $2 AND version <= $3 RETURNING version`, [sessionId, docId, upTo]),
  );
  await tx.query(
    `UPDATE documents d SET min_version = GREATEST(d.min_version, $3), meta_seq = d.meta_seq + 1,
            content = CASE WHEN d.content_version < $3
                           THEN (SELECT s.content FROM doc_snapshots s WHERE s.session_id = d.session_id AND s.doc_id = d.doc_id AND s.version = $3)
                           ELSE d.content END,
            content_version = GREATEST(d.content_version, $3)
     WHERE d.session_id = $1 AND d.doc_id = $2`,
    [sessionId, docId, upTo],
  );
  return result.length;
}

export interface LockRow {
  holder_id: string;
  holder_client_id: string;
  expires_at: Date;
}

/** A lock read as live, with the milliseconds it has left by the database clock (the one that decides expiry). */
export interface LiveLockRow extends LockRow {
  ms_left: string;
}

const MS_LEFT = `ceil(extract(epoch FROM expires_at - now()) * 1000)::bigint AS ms_left`;

/** The unexpired lock of a document, if any. */
export async function readLock(db: Executor, sessionId: string, docId: string): Promise<LiveLockRow | undefined> {
  return rowsOf<LiveLockRow>(
    await db.query(`SELECT holder_id, holder_client_id, expires_at, ${MS_LEFT} FROM doc_locks WHERE session_id = $1 AND doc_id = $2 AND expires_at > now()`, [sessionId, docId]),
  )[0];
}

/**
 * The unexpired locks of a session, by doc_id, at most `limit` (the primary key's order: an index range scan
 * that stops at the limit, however many locks the session holds).
 */
export async function readSessionLocks(db: Executor, sessionId: string, limit: number): Promise<Array<LockRow & { doc_id: string }>> {
  return rowsOf<LockRow & { doc_id: string }>(
    await db.query(
      `SELECT doc_id, holder_id, holder_client_id, expires_at FROM doc_locks WHERE session_id = $1 AND expires_at > now() ORDER BY doc_id LIMIT $2`,
      [sessionId, limit],
    ),
  );
}

export async function upsertLock(tx: EntityManager, sessionId: string, docId: string, holderId: string, clientId: string, ttlMs: number): Promise<LockRow> {
  return rowsOf<LockRow>(
    await tx.query(
      `INSERT INTO doc_locks (session_id, doc_id, holder_id, holder_client_id, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000))
       ON CONFLICT (session_id, doc_id) DO UPDATE
         SET holder_id = EXCLUDED.holder_id, holder_client_id = EXCLUDED.holder_client_id, expires_at = EXCLUDED.expires_at,
             acquired_at = CASE WHEN doc_locks.holder_id = EXCLUDED.holder_id AND doc_locks.expires_at > now() THEN doc_locks.acquired_at ELSE now() END
       RETURNING holder_id, holder_client_id, expires_at`,
      [sessionId, docId, holderId, clientId, ttlMs],
    ),
  )[0];
}

/** Deletes the lock (expired or not); returns what was there. */
export async function deleteLock(tx: EntityManager, sessionId: string, docId: string): Promise<(LockRow & { expired: boolean }) | undefined> {
  return rowsOf<LockRow & { expired: boolean }>(
    await tx.query(
      `DELETE FROM doc_locks WHERE session_id = $1 AND doc_id = $2 RETURNING holder_id, holder_client_id, expires_at, expires_at <= now() AS expired`,
      [sessionId, docId],
    ),
  )[0];
}

/** Deletes every expired lock; returns them (to broadcast `file_unlocked`). Safe on many replicas at once. */
export async function deleteExpiredLocks(db: Executor, limit: number): Promise<Array<{ session_id: string; doc_id: string; holder_id: string }>> {
  return rowsOf(
    await db.query(
      `DELETE FROM doc_locks WHERE (session_id, doc_id) IN (
         SELECT session_id, doc_id FROM doc_locks WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
       ) AND expires_at <= now() RETURNING session_id, doc_id, holder_id`,
      [limit],
    ),
  );
}

/**
 * Locks the head row (creating the document if needed) and bumps meta_seq, for lock/unlock: an UPDATE, so a
 * fast-path commit racing with it waits and then sees a changed row (and falls back to the locked path).
 */
export async function lockDocumentRow(tx: EntityManager, sessionId: string, docId: string): Promise<void> {
  await ensureDocument(tx, sessionId, docId);
  await tx.query(`UPDATE documents SET meta_seq = meta_seq + 1 WHERE session_id = $1 AND doc_id = $2`, [sessionId, docId]);
}

/**
 * Deletes every document of a session with its ops, snapshots and locks (foreign keys cascade; locks are
 * deleted first anyway, so a lock row can never outlive its document). Idempotent: a second run, on any
 * replica, finds nothing. Returns the number of documents removed.
 */
export async function purgeSessionDocuments(db: DataSource, sessionId: string): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query(`DELETE FROM doc_locks WHERE session_id = $1`, [sessionId]);
    return rowsOf(await tx.query(`DELETE FROM documents WHERE session_id = $1 RETURNING doc_id`, [sessionId])).length;
  });
}
