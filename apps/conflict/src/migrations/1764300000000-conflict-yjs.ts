import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Yjs documents beside OT ones (docs/yjs.md). A document's kind is chosen when it is created and never changes:
 * `text` (OT, every existing row) or `yjs`. A Yjs document keeps, per (session_id, doc_id):
 *
 * - `yjs_documents`: the head — the last seq handed out, the compacted snapshot (a Yjs update holding every update
 *   up to `snapshot_seq`) and the stored bytes (snapshot + log), which the document size limit is checked against.
 *   Every append locks this row (an UPDATE), so seqs are assigned in one place across all replicas.
 * - `yjs_updates`: the append log, one row per accepted update, `digest` (sha-256 of the bytes) making a retried
 *   append idempotent: the same bytes are the same update (Yjs updates name their client id and clocks).
 *
 * Backward compatible: the previous release never reads `kind` (all its rows stay `text`) and knows nothing of the
 * two new tables.
 */
export class ConflictYjs1764300000000 implements MigrationInterface {
  name = 'ConflictYjs1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE documents ADD COLUMN kind text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'yjs'))`);
    await q.query(`
      CREATE TABLE yjs_documents (
        session_id uuid NOT NULL,
        doc_id text NOT NULL,
        head_seq bigint NOT NULL DEFAULT 0 CHECK (head_seq >= 0),
        snapshot bytea,
        snapshot_seq bigint NOT NULL DEFAULT 0 CHECK (snapshot_seq >= 0 AND snapshot_seq <= head_seq),
        bytes bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
        compacted_at timestamptz,
        PRIMARY KEY (session_id, doc_id),
        FOREIGN KEY (session_id, doc_id) REFERENCES documents (session_id, doc_id) ON DELETE CASCADE
      )`);
    await q.query(`
      CREATE TABLE yjs_updates (
        session_id uuid NOT NULL,
        doc_id text NOT NULL,
        seq bigint NOT NULL CHECK (seq > 0),
        update bytea NOT NULL,
        digest bytea NOT NULL,
        user_id text NOT NULL,
        client_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, doc_id, seq),
        CONSTRAINT yjs_updates_digest_key UNIQUE (session_id, doc_id, digest),
        FOREIGN KEY (session_id, doc_id) REFERENCES yjs_documents (session_id, doc_id) ON DELETE CASCADE
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE yjs_updates`);
    await q.query(`DROP TABLE yjs_documents`);
    await q.query(`DELETE FROM documents WHERE kind = 'yjs'`);
    await q.query(`ALTER TABLE documents DROP COLUMN kind`);
  }
}
