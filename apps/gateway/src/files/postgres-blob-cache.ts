import type { Pool } from 'pg';
import type { BlobCache, BlobToStore, CachedBlob } from './blob-cache';

/**
 * The cache in Postgres (`file_blobs`, a session-service migration: rows cascade with their session, and the
 * session service deletes them when it marks the session deleted). One row per (session, sha256); a put inserts
 * the new ones (never for a deleted session) and touches the known ones, then deletes the session's least
 * recently used rows beyond `quotaBytes` in the same transaction.
 */
export class PostgresBlobCache implements BlobCache {
  constructor(
    private readonly pool: Pool,
    private readonly quotaBytes: number,
  ) {}

  async has(sessionId: string, hashes: readonly string[]): Promise<Set<string>> {
    if (hashes.length === 0) return new Set();
    const { rows } = await this.pool.query<{ sha256: string }>(`SELECT sha256 FROM file_blobs WHERE session_id = $1 AND sha256 = ANY($2::text[])`, [sessionId, [...new Set(hashes)]]);
    return new Set(rows.map((r) => r.sha256));
  }

  async get(sessionId: string, hashes: readonly string[]): Promise<Map<string, CachedBlob>> {
    const found = new Map<string, CachedBlob>();
    if (hashes.length === 0) return found;
    const { rows } = await this.pool.query<{ sha256: string; content: Buffer; from_peer_id: string }>(
      `UPDATE file_blobs SET used_at = clock_timestamp() WHERE session_id = $1 AND sha256 = ANY($2::text[]) RETURNING sha256, content, from_peer_id`,
      [sessionId, [...new Set(hashes)]],
    );
    for (const r of rows) found.set(r.sha256, { bytes: new Uint8Array(r.content.buffer, r.content.byteOffset, r.content.byteLength), fromPeerId: r.from_peer_id });
    return found;
  }

  async put(sessionId: string, blobs: readonly BlobToStore[]): Promise<{ stored: number; evicted: string[] }> {
    const fitting = blobs.filter((b) => b.bytes.length <= this.quotaBytes);
    if (fitting.length === 0) return { stored: 0, evicted: [] };
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Two gateways putting for one session at once: serialized per session, so the quota holds.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('file_blobs:' || $1))`, [sessionId]);
      let stored = 0;
      for (const b of fitting) {
        const r = await client.query<{ inserted: boolean }>(
          `INSERT INTO file_blobs (session_id, sha256, size, content, from_peer_id, used_at)
           SELECT $1, $2, $3, $4, $5, clock_timestamp() WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND deleted_at IS NULL)
           ON CONFLICT (session_id, sha256) DO UPDATE SET used_at = clock_timestamp() RETURNING (xmax = 0) AS inserted`,
          [sessionId, b.sha256, b.bytes.length, Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength), b.fromPeerId],
        );
        if (r.rows[0]?.inserted) stored++;
      }
      // Least recently used first: every row whose newer rows (and itself) add up to more than the quota goes.
      const evicted = await client.query<{ sha256: string }>(
        `DELETE FROM file_blobs f USING (
           SELECT sha256 FROM (
             SELECT sha256, sum(size) OVER (ORDER BY used_at DESC, stored_at DESC, sha256) AS running FROM file_blobs WHERE session_id = $1
           ) ranked WHERE running > $2
         ) old WHERE f.session_id = $1 AND f.sha256 = old.sha256 RETURNING f.sha256`,
        [sessionId, this.quotaBytes],
      );
      await client.query('COMMIT');
      return { stored, evicted: evicted.rows.map((r) => r.sha256) };
    } catch (err) {
      // The statement's own error is the one to report; a failed rollback only means the connection is gone too.
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async purge(sessionId: string): Promise<number> {
    const r = await this.pool.query(`DELETE FROM file_blobs WHERE session_id = $1`, [sessionId]);
    return r.rowCount ?? 0;
  }
}
