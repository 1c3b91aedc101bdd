import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The file sync cache (docs/file-sync.md, "The cache"): whole files a gateway saw a host send, verified against
 * their manifest sha256, keyed by (session, sha256) — the same content is stored once per session, and a session's
 * blobs are read only under its id. `used_at` orders the per-session LRU eviction (FILE_CACHE_QUOTA_BYTES).
 * Written and read by the gateways (FILE_CACHE_DATABASE_URL); deleted with its session.
 */
export class FileBlobCache1765600000000 implements MigrationInterface {
  name = 'FileBlobCache1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE file_blobs (
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        size integer NOT NULL CHECK (size >= 0),
        content bytea NOT NULL,
        from_peer_id text NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT now(),
        used_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, sha256)
      )`);
    await q.query(`CREATE INDEX file_blobs_lru ON file_blobs (session_id, used_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE file_blobs`);
  }
}
