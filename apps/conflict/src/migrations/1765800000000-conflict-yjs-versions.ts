import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Version history of Yjs documents (docs/yjs.md "Version history"): snapshots of a document's whole state, each a
 * Yjs update, numbered per document from 1. A version is taken by the compaction job (`reason` `compaction`, no
 * author) and on an explicit save (`saved`, its author and optional label). `seq` is the head seq the state holds.
 * `yjs_documents.version_head` is the last number handed out, bumped under the head row's lock (the one every
 * append takes), so numbers are assigned in one place across replicas.
 *
 * Backward compatible: the previous release never reads the new column or table.
 */
export class ConflictYjsVersions1765800000000 implements MigrationInterface {
  name = 'ConflictYjsVersions1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE yjs_documents ADD COLUMN version_head integer NOT NULL DEFAULT 0 CHECK (version_head >= 0)`);
    await q.query(`
      CREATE TABLE yjs_versions (
        session_id uuid NOT NULL,
        doc_id text NOT NULL,
        version integer NOT NULL CHECK (version > 0),
        seq bigint NOT NULL CHECK (seq >= 0),
        state bytea NOT NULL,
        reason text NOT NULL CHECK (reason IN ('compaction', 'saved')),
        label text,
        author text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, doc_id, version),
        FOREIGN KEY (session_id, doc_id) REFERENCES yjs_documents (session_id, doc_id) ON DELETE CASCADE
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE yjs_versions`);
    await q.query(`ALTER TABLE yjs_documents DROP COLUMN version_head`);
  }
}
