import { createHash, randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '@chorus/database';
import { chunkLayout } from '@chorus/protocol';
import { createTestDatabase, waitFor, type TestDatabase } from '@chorus/testing';
import { BlobWriteBehind, WRITE_BEHIND_DEFAULTS, type ObservedChunk } from '../../apps/gateway/src/files/blob-write-behind';
import { FileCacheMetrics } from '../../apps/gateway/src/files/file-cache.metrics';
import type { OfferedFile } from '../../apps/gateway/src/files/file-sync.store';
import { PostgresBlobCache } from '../../apps/gateway/src/files/postgres-blob-cache';
import { SESSION_DATA_SOURCE } from '../../apps/session/src/persistence/session.data-source';
import { sessionsRepo } from '../../apps/session/src/sessions/session.repository';
import { CaptureLogger } from './support/capture-logger';

// The file sync cache's Postgres store (the gateways' BlobCache) and write-behind against the real Postgres — the
// session service's migrated database, where `file_blobs` lives, and its own deletion:
// content stored once per session, LRU eviction beyond the quota, no read across sessions, purge on session
// deletion; the write-behind verifies whole files against the manifest before it stores them, and drops (counted)
// what does not fit its bounded queue.

let db: TestDatabase;
let pool: Pool;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function newSession(): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(`INSERT INTO sessions (name, owner_id) VALUES ('files', 'alice') RETURNING id`);
  return rows[0].id;
}

async function count(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0);
}

beforeAll(async () => {
  db = await createTestDatabase('file_cache');
  await runMigrations(SESSION_DATA_SOURCE, db.url);
  pool = new Pool({ connectionString: db.url, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('PostgresBlobCache', () => {
  it('stores the same content once per session and answers only under that session', async () => {
    const cache = new PostgresBlobCache(pool, 1024 * 1024);
    const [s1, s2] = [await newSession(), await newSession()];
    const bytes = randomBytes(1000);
    expect(await cache.put(s1, [{ sha256: sha(bytes), bytes, fromPeerId: 'alice-host' }])).toEqual({ stored: 1, evicted: [] });
    expect(await cache.put(s1, [{ sha256: sha(bytes), bytes, fromPeerId: 'alice-host' }])).toEqual({ stored: 0, evicted: [] });
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM file_blobs WHERE session_id = $1`, [s1]);
    expect(rows[0].n).toBe(1);
    expect(await cache.has(s1, [sha(bytes), 'f'.repeat(64)])).toEqual(new Set([sha(bytes)]));
    const got = await cache.get(s1, [sha(bytes)]);
    expect(Buffer.from(got.get(sha(bytes))?.bytes ?? []).equals(bytes)).toBe(true);
    expect(got.get(sha(bytes))?.fromPeerId).toBe('alice-host');
    // Another session: nothing, by either read.
    expect(await cache.has(s2, [sha(bytes)])).toEqual(new Set());
    expect((await cache.get(s2, [sha(bytes)])).size).toBe(0);
  });

  it('evicts the least recently used beyond the session quota, and only that session’s', async () => {
    const cache = new PostgresBlobCache(pool, 1000);
    const [s, other] = [await newSession(), await newSession()];
    const [a, b, c] = [randomBytes(400), randomBytes(400), randomBytes(400)];
    await cache.put(other, [{ sha256: sha(a), bytes: a, fromPeerId: 'h' }]);
    await cache.put(s, [{ sha256: sha(a), bytes: a, fromPeerId: 'h' }]);
    await cache.put(s, [{ sha256: sha(b), bytes: b, fromPeerId: 'h' }]);
    await cache.get(s, [sha(a)]); // a is now more recently used than b
    expect(await cache.put(s, [{ sha256: sha(c), bytes: c, fromPeerId: 'h' }])).toEqual({ stored: 1, evicted: [sha(b)] });
    expect(await cache.has(s, [sha(a), sha(b), sha(c)])).toEqual(new Set([sha(a), sha(c)]));
    expect(await cache.has(other, [sha(a)])).toEqual(new Set([sha(a)]));
    // A blob larger than the whole quota is never stored.
    const huge = randomBytes(1001);
    expect(await cache.put(s, [{ sha256: sha(huge), bytes: huge, fromPeerId: 'h' }])).toEqual({ stored: 0, evicted: [] });
  });

  it('is purged when the session is deleted, and stores nothing for a deleted session', async () => {
    const cache = new PostgresBlobCache(pool, 1024 * 1024);
    const s = await newSession();
    const bytes = randomBytes(100);
    await cache.put(s, [{ sha256: sha(bytes), bytes, fromPeerId: 'h' }]);
    // The session service's own deletion (session.delete marks the row deleted).
    const ds = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, db.url, 2));
    await ds.initialize();
    try {
      expect(await sessionsRepo.softDelete(ds, s)).toBe(true);
    } finally {
      await ds.destroy();
    }
    expect(await cache.has(s, [sha(bytes)])).toEqual(new Set());
    expect(await cache.put(s, [{ sha256: sha(bytes), bytes, fromPeerId: 'h' }])).toEqual({ stored: 0, evicted: [] });
    // The row's own deletion (the janitor) cascades too.
    const s2 = await newSession();
    await cache.put(s2, [{ sha256: sha(bytes), bytes, fromPeerId: 'h' }]);
    await pool.query(`DELETE FROM sessions WHERE id = $1`, [s2]);
    expect(await cache.has(s2, [sha(bytes)])).toEqual(new Set());
  });
});

describe('BlobWriteBehind', () => {
  const files = (list: Array<[string, Uint8Array]>): Map<string, OfferedFile> => new Map(list.map(([p, b]) => [p, { hash: sha(b), size: b.length }]));

  it('puts files together from compact chunks (deflated too), verifies them against the manifest and writes them in batches', async () => {
    const registry = new Registry();
    const metrics = new FileCacheMetrics(registry);
    const cache = new PostgresBlobCache(pool, 64 * 1024 * 1024);
    const logger = new CaptureLogger();
    const writes = new BlobWriteBehind(cache, { ...WRITE_BEHIND_DEFAULTS, quotaBytes: 64 * 1024 * 1024, maxBlobBytes: 1024 * 1024 }, metrics, logger);
    const s = await newSession();
    const big = randomBytes(100_000);
    const small = randomBytes(10);
    const liar = randomBytes(50);
    const offered = files([['big.bin', big], ['small.txt', small], ['liar.txt', liar]]);
    // The manifest says liar.txt is other bytes than those sent: never stored.
    const manifest = new Map(offered).set('liar.txt', { hash: sha(randomBytes(50)), size: 50 });
    const content = new Map([['big.bin', big], ['small.txt', small], ['liar.txt', liar]]);
    const layout = chunkLayout([...content].map(([path, b]) => ({ path, size: b.length })), 16 * 1024);
    for (const [i, entries] of layout.entries()) {
      const raw = Buffer.concat(entries.map((e) => (content.get(e.path) as Uint8Array).subarray(e.offset, e.offset + e.length)));
      const deflated = i % 2 === 1;
      const chunk: ObservedChunk = { sessionId: s, hostPeer: 'alice-host', guestPeer: 'bob', offered: manifest, format: 'compact', entries, encoding: deflated ? 'deflate' : 'none', data: deflated ? deflateSync(raw) : raw };
      writes.observe(chunk);
    }
    await writes.flush();
    expect(await cache.has(s, [sha(big), sha(small), sha(liar)])).toEqual(new Set([sha(big), sha(small)]));
    expect(await count(registry, 'chorus_file_cache_files_total', { outcome: 'stored' })).toBe(2);
    expect(await count(registry, 'chorus_file_cache_files_total', { outcome: 'mismatch' })).toBe(1);
    expect(await count(registry, 'chorus_file_cache_flushes_total', { result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(await count(registry, 'chorus_file_cache_queue_bytes')).toBe(0);
    // Seed chunks of the same content for another guest: known, not written again.
    writes.observe({ sessionId: s, hostPeer: 'alice-host', guestPeer: 'carol', offered, format: 'seed', files: [['small.txt', Array.from(small)]] });
    await writes.flush();
    expect(await count(registry, 'chorus_file_cache_files_total', { outcome: 'known' })).toBe(1);
    // A seed file split over two chunks, in order: put together and stored.
    const seeded = randomBytes(300);
    const offeredSeed = files([['split.bin', seeded]]);
    writes.observe({ sessionId: s, hostPeer: 'alice-host', guestPeer: 'carol', offered: offeredSeed, format: 'seed', files: [['split.bin', Array.from(seeded.subarray(0, 100))]] });
    writes.observe({ sessionId: s, hostPeer: 'alice-host', guestPeer: 'carol', offered: offeredSeed, format: 'seed', files: [['split.bin', Array.from(seeded.subarray(100))]] });
    await writes.flush();
    expect(await cache.has(s, [sha(seeded)])).toEqual(new Set([sha(seeded)]));
    expect(logger.lines).toEqual([]);
  });

  it('drops (counted) what overflows its queue and logs and counts a failed write, never throwing at the relay', async () => {
    const registry = new Registry();
    const metrics = new FileCacheMetrics(registry);
    const cache = new PostgresBlobCache(pool, 64 * 1024 * 1024);
    const logger = new CaptureLogger();
    const writes = new BlobWriteBehind(cache, { ...WRITE_BEHIND_DEFAULTS, queueBytes: 1000, quotaBytes: 64 * 1024 * 1024, maxBlobBytes: 1024 * 1024 }, metrics, logger);
    const s = await newSession();
    const blobs = [randomBytes(600), randomBytes(600)];
    const offered = files([['a', blobs[0]], ['b', blobs[1]]]);
    // Two chunks at once, 1,200 bytes against a 1,000-byte queue: the second is dropped.
    writes.observe({ sessionId: s, hostPeer: 'h', guestPeer: 'g', offered, format: 'compact', entries: [{ path: 'a', offset: 0, length: 600 }], encoding: 'none', data: blobs[0] });
    writes.observe({ sessionId: s, hostPeer: 'h', guestPeer: 'g', offered, format: 'compact', entries: [{ path: 'b', offset: 0, length: 600 }], encoding: 'none', data: blobs[1] });
    await writes.flush();
    expect(await cache.has(s, blobs.map(sha))).toEqual(new Set([sha(blobs[0])]));
    expect(await count(registry, 'chorus_file_cache_files_total', { outcome: 'overflow' })).toBe(1);
    expect(logger.lines.filter((l) => l.includes('queue full'))).toHaveLength(1);
    // A write that fails (no such session: the id is not a uuid) is logged and counted.
    const bad = randomBytes(10);
    writes.observe({ sessionId: 'not-a-session', hostPeer: 'h', guestPeer: 'g', offered: files([['x', bad]]), format: 'compact', entries: [{ path: 'x', offset: 0, length: 10 }], encoding: 'none', data: bad });
    await writes.flush();
    await waitFor('the failure counted', async () => (await count(registry, 'chorus_file_cache_files_total', { outcome: 'failed' })) === 1);
    expect(await count(registry, 'chorus_file_cache_flushes_total', { result: 'failed' })).toBe(1);
    expect(logger.lines.some((l) => l.includes('not written'))).toBe(true);
  });
});
