import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Documents merged by OT: the head row (version + text at head), the op log, periodic snapshots and file locks.
 * Documents are keyed by (session_id, doc_id): a doc id is a project path, unique only inside its session.
 * No foreign key to `sessions`: that table belongs to the session app (apps own their tables).
 */
export class ConflictSchema1763856000000 implements MigrationInterface {
  name = 'ConflictSchema1763856000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE documents (
        session_id uuid NOT NULL,
        doc_id text NOT NULL CHECK (length(doc_id) BETWEEN 1 AND 1024),
        -- The head: the version of the last committed op and the text after it. Every commit locks this row
        -- (SELECT … FOR UPDATE): it is the one place that orders a document's ops, across all replicas.
        version bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
        content text NOT NULL DEFAULT '',
        -- Ops of versions <= min_version are no longer retained (compacted): catch-up from before it must reload.
        min_version bigint NOT NULL DEFAULT 0 CHECK (min_version >= 0 AND min_version <= version),
        -- Bumped (an UPDATE of this row) by everything besides commits that changes what may be committed: file
        -- locks and compaction. The fast path commits only if it is unchanged (see commitIfHead).
        meta_seq bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, doc_id)
      )`);
    await q.query(`
      CREATE TABLE doc_ops (
        session_id uuid NOT NULL,
        doc_id text NOT NULL,
        version bigint NOT NULL CHECK (version > 0),
        -- The op as committed: transformed to apply on version - 1, canonical, deletes carrying their text.
        op jsonb NOT NULL,
        base_version bigint NOT NULL CHECK (base_version < version),
        client_id text NOT NULL,
        seq bigint NOT NULL CHECK (seq >= 0),
        user_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, doc_id, version),
        -- Idempotence: a resent (client_id, seq) can never be committed twice, whatever version it claims.
        CONSTRAINT doc_ops_client_seq_key UNIQUE (session_id, doc_id, client_id, seq),
        FOREIGN KEY (session_id, doc_id) REFERENCES documents (session_id, doc_id) ON DELETE CASCADE
      )`);
    await q.query(`
      CREATE TABLE doc_snapshots (
        session_id uuid NOT NULL,
        doc_id text NOT NULL,
        version bigint NOT NULL CHECK (version >= 0),
        content text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, doc_id, version),
        FOREIGN KEY (session_id, doc_id) REFERENCES documents (session_id, doc_id) ON DELETE CASCADE
      )`);
    await q.query(`
      CREATE TABLE doc_locks (
        session_id uuid NOT NULL,
        doc_id text NOT NULL,
        holder_id text NOT NULL,
        holder_client_id text NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        -- A lock past expires_at is ignored everywhere (no sweeper needed for correctness) and deleted lazily.
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (session_id, doc_id),
        FOREIGN KEY (session_id, doc_id) REFERENCES documents (session_id, doc_id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX doc_locks_expiry_idx ON doc_locks (expires_at)`);
    // The op log is append-only: history is never rewritten (compaction deletes whole prefixes, never updates).
    await q.query(`
      CREATE FUNCTION doc_ops_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'doc_ops is append-only';
      END $$`);
    await q.query(`CREATE TRIGGER doc_ops_no_update BEFORE UPDATE ON doc_ops FOR EACH ROW EXECUTE FUNCTION doc_ops_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE doc_locks`);
    await q.query(`DROP TABLE doc_snapshots`);
    await q.query(`DROP TABLE doc_ops`);
    await q.query(`DROP FUNCTION doc_ops_append_only`);
    await q.query(`DROP TABLE documents`);
  }
}
