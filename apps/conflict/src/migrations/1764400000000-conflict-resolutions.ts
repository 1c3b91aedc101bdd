import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The conflict workflow (docs/files.md): every `conflict_detected` is recorded — the region of the document at
 * the overlapping op's version, its text there (merged), as the author's op alone left it (mine) and as the
 * concurrent ops alone left it (theirs), the peers and the ops — and later resolved by a participant. One row per
 * committed version that overlapped (the unique key makes a re-recording after a retry a no-op). Deleted with
 * its document (session purge).
 */
export class ConflictResolutions1764400000000 implements MigrationInterface {
  name = 'ConflictResolutions1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE conflict_resolutions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id uuid NOT NULL,
        doc_id text NOT NULL,
        version bigint NOT NULL,
        base_version bigint NOT NULL,
        peer_id text NOT NULL,
        user_id text NOT NULL,
        peers jsonb NOT NULL,
        region_start integer NOT NULL CHECK (region_start >= 0),
        region_end integer NOT NULL CHECK (region_end >= region_start),
        merged_text text NOT NULL,
        mine_text text NOT NULL,
        theirs_text text NOT NULL,
        op jsonb NOT NULL,
        overlapped_versions jsonb NOT NULL,
        state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
        strategy text CHECK (strategy IN ('keep_mine', 'keep_theirs', 'merged')),
        resolved_text text,
        resolved_by text,
        resolved_at timestamptz,
        resolved_version bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (session_id, doc_id, version),
        FOREIGN KEY (session_id, doc_id) REFERENCES documents (session_id, doc_id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX conflict_resolutions_session_state_idx ON conflict_resolutions (session_id, state, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE conflict_resolutions`);
  }
}
