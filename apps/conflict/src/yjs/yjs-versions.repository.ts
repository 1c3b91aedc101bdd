import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf } from '@chorus/database';
import type { YjsVersionInfo } from '@chorus/contracts';

type Executor = DataSource | EntityManager;

/** Versions the compaction job keeps per document (saved ones are all kept): its older ones are pruned. */
export const YJS_COMPACTION_VERSIONS_KEPT = 50;

interface VersionRow {
  doc_id: string;
  version: number;
  seq: string;
  reason: 'compaction' | 'saved';
  label: string | null;
  author: string | null;
  created_at: Date;
  bytes: number;
}

const INFO_COLUMNS = `doc_id, version, seq, reason, label, author, created_at, octet_length(state) AS bytes`;

function infoOf(r: VersionRow): YjsVersionInfo {
  return { doc_id: r.doc_id, version: Number(r.version), seq: Number(r.seq), reason: r.reason, label: r.label, author: r.author, created_at: new Date(r.created_at).toISOString(), bytes: Number(r.bytes) };
}

/**
 * Inserts a version numbered `version_head + 1`. The head row is locked by the UPDATE that hands out the number
 * (the lock every append takes), so numbers are assigned in one place across replicas.
 */
export async function insertVersion(db: Executor, v: { sessionId: string; docId: string; seq: number; state: Buffer; reason: 'compaction' | 'saved'; label: string | null; author: string | null }): Promise<YjsVersionInfo | undefined> {
  const rows = rowsOf<VersionRow>(
    await db.query(
      `WITH h AS (
         UPDATE yjs_documents SET version_head = version_head + 1 WHERE session_id = $1 AND doc_id = $2 RETURNING version_head
       )
       INSERT INTO yjs_versions (session_id, doc_id, version, seq, state, reason, label, author)
       SELECT $1, $2, h.version_head, $3, $4, $5, $6, $7 FROM h RETURNING ${INFO_COLUMNS}`,
      [v.sessionId, v.docId, v.seq, v.state, v.reason, v.label, v.author],
    ),
  );
  return rows[0] ? infoOf(rows[0]) : undefined;
}

/** Deletes the compaction job's versions of a document beyond the newest `kept` of them. */
export async function pruneCompactionVersions(db: Executor, sessionId: string, docId: string, kept = YJS_COMPACTION_VERSIONS_KEPT): Promise<void> {
  await db.query(
    `DELETE FROM yjs_versions WHERE session_id = $1 AND doc_id = $2 AND reason = 'compaction' AND version <= (
       SELECT version FROM yjs_versions WHERE session_id = $1 AND doc_id = $2 AND reason = 'compaction' ORDER BY version DESC OFFSET $3 LIMIT 1
     )`,
    [sessionId, docId, kept],
  );
}

/** The newest version, if any (a save of an unchanged document answers it instead of storing a copy). */
export async function latestVersion(db: Executor, sessionId: string, docId: string): Promise<YjsVersionInfo | undefined> {
  const rows = rowsOf<VersionRow>(await db.query(`SELECT ${INFO_COLUMNS} FROM yjs_versions WHERE session_id = $1 AND doc_id = $2 ORDER BY version DESC LIMIT 1`, [sessionId, docId]));
  return rows[0] ? infoOf(rows[0]) : undefined;
}

/** Versions below `before` (all when undefined), newest first. */
export async function listVersions(db: Executor, sessionId: string, docId: string, before: number | undefined, limit: number): Promise<YjsVersionInfo[]> {
  const rows = rowsOf<VersionRow>(
    await db.query(`SELECT ${INFO_COLUMNS} FROM yjs_versions WHERE session_id = $1 AND doc_id = $2 AND ($3::integer IS NULL OR version < $3) ORDER BY version DESC LIMIT $4`, [sessionId, docId, before ?? null, limit]),
  );
  return rows.map(infoOf);
}

export async function readVersion(db: Executor, sessionId: string, docId: string, version: number): Promise<(YjsVersionInfo & { state: Buffer }) | undefined> {
  const rows = rowsOf<VersionRow & { state: Buffer }>(await db.query(`SELECT ${INFO_COLUMNS}, state FROM yjs_versions WHERE session_id = $1 AND doc_id = $2 AND version = $3`, [sessionId, docId, version]));
  const row = rows[0];
  return row ? { ...infoOf(row), state: row.state } : undefined;
}

/** Locks the document's head row for the rest of the transaction (appends wait): its head seq, or undefined. */
export async function lockHead(tx: EntityManager, sessionId: string, docId: string): Promise<number | undefined> {
  const rows = rowsOf<{ head_seq: string }>(await tx.query(`SELECT head_seq FROM yjs_documents WHERE session_id = $1 AND doc_id = $2 FOR UPDATE`, [sessionId, docId]));
  return rows[0] ? Number(rows[0].head_seq) : undefined;
}
