import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf } from '@chorus/database';

type Executor = DataSource | EntityManager;

/** What is stored of a Yjs document, read in one statement (one snapshot: compaction cannot tear it). */
export interface StoredYjs {
  readonly snapshot: Buffer | null;
  readonly snapshotSeq: number;
  readonly headSeq: number;
  /** The log after the snapshot, in seq order. */
  readonly updates: Buffer[];
}

/** The document's kind, or undefined when it does not exist. */
export async function documentKind(db: Executor, sessionId: string, docId: string): Promise<'text' | 'yjs' | undefined> {
  const rows = rowsOf<{ kind: 'text' | 'yjs' }>(await db.query(`SELECT kind FROM documents WHERE session_id = $1 AND doc_id = $2`, [sessionId, docId]));
  return rows[0]?.kind;
}

/** Creates a Yjs document (documents row of kind yjs and its head) unless one of that id exists. True if created. */
export async function createYjsDocument(db: DataSource, sessionId: string, docId: string): Promise<boolean> {
  const rows = rowsOf<{ doc_id: string }>(
    await db.query(
      `WITH d AS (
         INSERT INTO documents (session_id, doc_id, kind) VALUES ($1, $2, 'yjs') ON CONFLICT DO NOTHING RETURNING session_id, doc_id
       )
       INSERT INTO yjs_documents (session_id, doc_id) SELECT session_id, doc_id FROM d RETURNING doc_id`,
      [sessionId, docId],
    ),
  );
  return rows.length > 0;
}

export async function readYjs(db: Executor, sessionId: string, docId: string): Promise<StoredYjs | undefined> {
  const rows = rowsOf<{ snapshot: Buffer | null; snapshot_seq: string; head_seq: string; updates: Buffer[] | null }>(
    await db.query(
      `SELECT d.snapshot, d.snapshot_seq, d.head_seq,
              (SELECT array_agg(u.update ORDER BY u.seq) FROM yjs_updates u
                WHERE u.session_id = d.session_id AND u.doc_id = d.doc_id AND u.seq > d.snapshot_seq) AS updates
         FROM yjs_documents d WHERE d.session_id = $1 AND d.doc_id = $2`,
      [sessionId, docId],
    ),
  );
  const row = rows[0];
  if (!row) return undefined;
  return { snapshot: row.snapshot, snapshotSeq: Number(row.snapshot_seq), headSeq: Number(row.head_seq), updates: row.updates ?? [] };
}

/** The seq an update of these bytes was stored under, if it was. */
export async function seqOfDigest(db: Executor, sessionId: string, docId: string, digest: Buffer): Promise<number | undefined> {
  const rows = rowsOf<{ seq: string }>(await db.query(`SELECT seq FROM yjs_updates WHERE session_id = $1 AND doc_id = $2 AND digest = $3`, [sessionId, docId, digest]));
  return rows[0] ? Number(rows[0].seq) : undefined;
}

export type AppendOutcome = { kind: 'appended'; seq: number } | { kind: 'missing' } | { kind: 'too_large'; bytes: number };

/**
 * Appends one update in one statement: the head row is locked by its UPDATE (seqs assigned in one place across
 * replicas) and the size limit checked there; the log row is inserted with the new seq. A unique violation on
 * `digest` (the same bytes appended concurrently by a retry) rolls the whole statement back: the caller reads the
 * original seq.
 */
export async function appendUpdate(db: Executor, a: { sessionId: string; docId: string; update: Buffer; digest: Buffer; userId: string; clientId: string; maxDocBytes: number }): Promise<AppendOutcome> {
  const rows = rowsOf<{ seq: string | null; bytes: string | null; found: boolean }>(
    await db.query(
      `WITH h AS (
         UPDATE yjs_documents SET head_seq = head_seq + 1, bytes = bytes + $4
          WHERE session_id = $1 AND doc_id = $2 AND bytes + $4 <= $7 RETURNING head_seq
       ), i AS (
         INSERT INTO yjs_updates (session_id, doc_id, seq, update, digest, user_id, client_id)
         SELECT $1, $2, h.head_seq, $3, $5, $6, $8 FROM h RETURNING seq
       )
       SELECT (SELECT seq FROM i) AS seq, d.bytes, true AS found FROM yjs_documents d WHERE d.session_id = $1 AND d.doc_id = $2`,
      [a.sessionId, a.docId, a.update, a.update.length, a.digest, a.userId, a.maxDocBytes, a.clientId],
    ),
  );
  const row = rows[0];
  if (!row) return { kind: 'missing' };
  if (row.seq === null) return { kind: 'too_large', bytes: Number(row.bytes) };
  return { kind: 'appended', seq: Number(row.seq) };
}

export async function listYjsDocuments(db: Executor, sessionId: string): Promise<string[]> {
  const rows = rowsOf<{ doc_id: string }>(await db.query(`SELECT doc_id FROM yjs_documents WHERE session_id = $1 ORDER BY doc_id LIMIT 10000`, [sessionId]));
  return rows.map((r) => r.doc_id);
}

/** One update of a batch (in arrival order: their seqs follow it). */
export interface BatchedUpdate {
  readonly update: Buffer;
  readonly digest: Buffer;
  readonly userId: string;
  readonly clientId: string;
}

export type BatchOutcome = { kind: 'appended'; firstSeq: number } | { kind: 'missing' } | { kind: 'too_large'; bytes: number };

/**
 * Appends several updates of one document in ONE statement (one head-row lock, one commit: group commit): the
 * head moves by their count and size (the size limit checked for all of them together), and the log rows get
 * consecutive seqs from `firstSeq`, in the order given. All or nothing: a unique violation on `digest` (one of
 * them already stored) rolls the whole statement back, as for a single append.
 */
export async function appendUpdates(db: Executor, a: { sessionId: string; docId: string; updates: readonly BatchedUpdate[]; maxDocBytes: number }): Promise<BatchOutcome> {
  const total = a.updates.reduce((n, u) => n + u.update.length, 0);
  const rows = rowsOf<{ base: string | null; bytes: string | null }>(
    await db.query(
      `WITH h AS (
         UPDATE yjs_documents SET head_seq = head_seq + $3, bytes = bytes + $4
          WHERE session_id = $1 AND doc_id = $2 AND bytes + $4 <= $5 RETURNING head_seq - $3 AS base
       ), i AS (
         INSERT INTO yjs_updates (session_id, doc_id, seq, update, digest, user_id, client_id)
         SELECT $1, $2, h.base + v.ord, v.update, v.digest, v.user_id, v.client_id
           FROM h, unnest($6::bytea[], $7::bytea[], $8::text[], $9::text[]) WITH ORDINALITY AS v(update, digest, user_id, client_id, ord)
         RETURNING seq
       )
       SELECT (SELECT base FROM h) AS base, (SELECT count(*) FROM i) AS inserted, d.bytes FROM yjs_documents d WHERE d.session_id = $1 AND d.doc_id = $2`,
      [a.sessionId, a.docId, a.updates.length, total, a.maxDocBytes, a.updates.map((u) => u.update), a.updates.map((u) => u.digest), a.updates.map((u) => u.userId), a.updates.map((u) => u.clientId)],
    ),
  );
  const row = rows[0];
  if (!row) return { kind: 'missing' };
  if (row.base === null) return { kind: 'too_large', bytes: Number(row.bytes) };
  return { kind: 'appended', firstSeq: Number(row.base) + 1 };
}

/** The seqs of those of these digests stored already (hex of the digest → seq). */
export async function seqsOfDigests(db: Executor, sessionId: string, docId: string, digests: readonly Buffer[]): Promise<Map<string, number>> {
  const rows = rowsOf<{ digest: Buffer; seq: string }>(await db.query(`SELECT digest, seq FROM yjs_updates WHERE session_id = $1 AND doc_id = $2 AND digest = ANY($3::bytea[])`, [sessionId, docId, digests]));
  return new Map(rows.map((r) => [r.digest.toString('hex'), Number(r.seq)]));
}
