import type { DataSource, EntityManager } from 'typeorm';
import type { TextOp } from '@chorus/ot';

// Explicit SQL for the conflict service's tables. Every function takes the executor (DataSource or a
// transaction's EntityManager): the caller decides transaction boundaries.

export type Executor = DataSource | EntityManager;

/** UPDATE/DELETE … RETURNING answer `[rows, count]` through TypeORM 1.x; SELECT/INSERT answer rows. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number' ? result[0] : result) as T[];
}

export interface HeadRow {
  version: number;
  min_version: number;
  meta_seq: number;
  /** null when the caller's cached text is already at `version` (the query skips sending it). */
  content: string | null;
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

interface RawOpRow {
  version: string;
  base_version: string;
  op: TextOp;
  client_id: string;
  seq: string;
  user_id: string;
  created_at: Date;
}

const OP_COLUMNS = 'version, base_version, op, client_id, seq, user_id, created_at';

function toOp(r: RawOpRow): OpRow {
  return { version: Number(r.version), base_version: Number(r.base_version), op: r.op, client_id: r.client_id, seq: Number(r.seq), user_id: r.user_id, created_at: r.created_at };
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

/**
 * Locks the head row until the transaction ends: every committer of this document, on any replica, queues
 * here. `cachedVersion` is the version of the text the caller already holds; the text is sent only if it differs.
 */
export async function lockHead(tx: EntityManager, sessionId: string, docId: string, cachedVersion: number): Promise<HeadRow | undefined> {
  const rows = rowsOf<{ version: string; min_version: string; meta_seq: string; content: string | null; lock_holder: string | null }>(
    await tx.query(
      `SELECT d.version, d.min_version, d.meta_seq, CASE WHEN d.version = $3 THEN NULL ELSE d.content END AS content,
              (SELECT l.holder_id FROM doc_locks l WHERE l.session_id = d.session_id AND l.doc_id = d.doc_id AND l.expires_at > now()) AS lock_holder
       FROM documents d WHERE d.session_id = $1 AND d.doc_id = $2 FOR UPDATE OF d`,
      [sessionId, docId, cachedVersion],
    ),
  );
  const r = rows[0];
  return r && { version: Number(r.version), min_version: Number(r.min_version), meta_seq: Number(r.meta_seq), content: r.content, lock_holder: r.lock_holder };
}

export async function readHead(db: Executor, sessionId: string, docId: string): Promise<{ version: number; min_version: number; content: string } | undefined> {
  const rows = rowsOf<{ version: string; min_version: string; content: string }>(
    await db.query(`SELECT version, min_version, content FROM documents WHERE session_id = $1 AND doc_id = $2`, [sessionId, docId]),
  );
  const r = rows[0];
  return r && { version: Number(r.version), min_version: Number(r.min_version), content: r.content };
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
 * raises min_version. Takes the head lock: no commit can be reading those ops meanwhile.
 */
export async function compactOps(tx: EntityManager, sessionId: string, docId: string, upTo: number): Promise<number> {
  const result = rowsOf<{ version: string }>(
    await tx.query(`DELETE FROM doc_ops WHERE session_id = $1 AND doc_id = $2 AND version <= $3 RETURNING version`, [sessionId, docId, upTo]),
  );
  await tx.query(`UPDATE documents SET min_version = GREATEST(min_version, $3), meta_seq = meta_seq + 1 WHERE session_id = $1 AND doc_id = $2`, [sessionId, docId, upTo]);
  return result.length;
}

export interface LockRow {
  holder_id: string;
  holder_client_id: string;
  expires_at: Date;
}

/** The unexpired lock of a document, if any. */
export async function readLock(db: Executor, sessionId: string, docId: string): Promise<LockRow | undefined> {
  return rowsOf<LockRow>(
    await db.query(`SELECT holder_id, holder_client_id, expires_at FROM doc_locks WHERE session_id = $1 AND doc_id = $2 AND expires_at > now()`, [sessionId, docId]),
  )[0];
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
