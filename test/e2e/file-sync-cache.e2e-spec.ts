import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { ChorusClient, ChorusError, FileSyncGuest, FileSyncHost, chunkLayout, type ChorusSession, type FileSource } from '@chorus/client';
import { buildManifest, diskSource } from '@chorus/client-node';
import { parseFilesPayload, type FilesPayload, type Manifest } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { prng } from './support/file-project';
import { setUpSession, type People } from './support/scenario';
import { WsClient, type Frame } from './support/ws-client';

// Issue 15: the server-side content-addressed file cache, through 2 gateway processes on the real Redis and
// Postgres. The host (SDK) is on gateway 1, guests on gateway 2. What the host sent once is served from the cache
// — to a second guest without the host sending it again, and to a guest after the host left — in both formats;
// only files never sent are named by PEER_DISCONNECTED; a guest of another session never gets a cached byte.

const CHUNK = 16 * 1024;
let cluster: ProcessCluster;
let people: People;
let db: Client;
let dir: string;
let manifest: Manifest;
/** Sent to a first guest (then cached); never sent before the host leaves; sent mid-transfer when it leaves. */
let A: string[];
let B: string[];
let C: string[];
const content = new Map<string, Uint8Array>();
const clients: ChorusClient[] = [];
const sockets: WsClient[] = [];
const cleanup: string[] = [];
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  cluster = await startProcessCluster('file_cache', { gateways: 2, replicas: 1, extraEnv: { FILE_SYNC_BYTES_PER_S: String(16 * 1024 * 1024) } });
  people = await setUpSession(cluster.gateways[0], 'fcache');
  db = new Client({ connectionString: cluster.db.url });
  await db.connect();
  dir = await mkdtemp(join(tmpdir(), 'chorus-cache-host-'));
  cleanup.push(dir);
  // Sizes in whole chunks (16 KiB) for A and C, so no 16 KiB compact chunk mixes two of their files: the cache
  // serves a chunk whole or not at all, and here what it can serve is exactly the files it holds.
  const files: Array<[string, number]> = [
    ...Array.from({ length: 12 }, (_, i) => [`a/file-${i}.bin`, CHUNK] as [string, number]),
    ['a/big.bin', 40 * CHUNK],
    ['a/copy-of-0.bin', CHUNK],
    ...Array.from({ length: 6 }, (_, i) => [`b/never-${i}.txt`, 1_000 + i * 777] as [string, number]),
    ...Array.from({ length: 10 }, (_, i) => [`c/late-${i}.bin`, (3 + (i % 3)) * CHUNK] as [string, number]),
  ];
  for (const [path, size] of files) {
    const bytes = path === 'a/copy-of-0.bin' ? (content.get('a/file-0.bin') as Uint8Array) : randomBytes(size);
    content.set(path, bytes);
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  manifest = await buildManifest(dir);
  const paths = manifest.files.map((f) => f.path);
  A = files.filter(([p]) => p.startsWith('a/')).map(([p]) => p);
  B = files.filter(([p]) => p.startsWith('b/')).map(([p]) => p);
  C = files.filter(([p]) => p.startsWith('c/')).map(([p]) => p);
  expect(new Set(paths)).toEqual(new Set(files.map(([p]) => p)));
}, 180_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  sockets.forEach((s) => s.ws.close());
  await db?.end();
  await cluster?.stop();
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

async function sdk(url: string, token: string, peerId: string, sessionId = people.sessionId): Promise<{ client: ChorusClient; session: ChorusSession }> {
  const client = new ChorusClient({ url: [url], token, peerId, random: prng(peerId.length), backoff: { initialDelayMs: 100, maxDelayMs: 500 }, onWarning: () => undefined });
  clients.push(client);
  await client.connect();
  const session = client.session(sessionId);
  await session.join();
  return { client, session };
}

async function ws(url: string, token: string, peerId: string, joinToken: string, sessionId = people.sessionId): Promise<WsClient> {
  const c = await WsClient.connect(url, token);
  sockets.push(c);
  expect(await c.request({ type: 'join', session_id: sessionId, peer_id: peerId, join_token: joinToken })).toMatchObject({ type: 'joined' });
  return c;
}

/** The distinct contents of `paths` the session's cache holds (read in Postgres, where the gateways write). */
async function cachedOf(sessionId: string, paths: readonly string[]): Promise<number> {
  const hashes = [...new Set(paths.map((p) => sha(content.get(p) as Uint8Array)))];
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM file_blobs WHERE session_id = $1 AND sha256 = ANY($2::text[])`, [sessionId, hashes]);
  return rows[0].n;
}
const distinct = (paths: readonly string[]) => new Set(paths.map((p) => sha(content.get(p) as Uint8Array))).size;

/** A host that reads its disk slowly (one chunk at a time), so a leave lands mid-transfer. */
const slowSource = (): FileSource => ({ manifest: async () => manifest, read: async (p, o, l) => (await new Promise((r) => setTimeout(r, 60)), diskSource(dir, manifest).read(p, o, l)) });

describe('the file cache, host on gateway 1, guests on gateway 2', () => {
  let host: { client: ChorusClient; session: ChorusSession };
  let helper: FileSyncHost;

  it('sent once: a second guest gets the cached files without the host sending them again, in both formats', async () => {
    const [gw1, gw2] = cluster.gateways;
    host = await sdk(gw1, people.alice.token, 'alice-host');
    helper = new FileSyncHost(host.session, diskSource(dir, manifest));
    await helper.share();

    const first = new FileSyncGuest((await sdk(gw2, people.bob.token, 'bob-first')).session);
    await first.fetchManifest();
    const got1 = await first.download(manifest, A, { chunkSize: CHUNK });
    for (const p of A) expect(sha(got1.get(p) as Uint8Array)).toBe(sha(content.get(p) as Uint8Array));
    const sentByHost = helper.chunksSent;
    // (At least the layout: a resume after a stall on this loaded machine may re-send a chunk.)
    expect(sentByHost).toBeGreaterThanOrEqual(chunkLayout(A.map((p) => ({ path: p, size: content.get(p)?.length ?? 0 })), CHUNK).length);
    // The write-behind verified and stored each distinct content once (a/copy-of-0.bin is a/file-0.bin's bytes).
    await waitFor('A cached', async () => (await cachedOf(people.sessionId, A)) === distinct(A), { timeoutMs: 15_000 });
    expect(distinct(A)).toBe(A.length - 1);

    // A second guest, compact with deflate and another chunk size: every byte from the cache.
    const second = new FileSyncGuest((await sdk(gw2, people.bob.token, 'bob-second')).session);
    await second.fetchManifest();
    const got2 = await second.download(manifest, A, { chunkSize: 64 * 1024, compression: 'deflate' });
    for (const p of A) expect(sha(got2.get(p) as Uint8Array)).toBe(sha(content.get(p) as Uint8Array));
    expect(second.duplicates).toBe(0);
    expect(helper.chunksSent).toBe(sentByHost);

    // A seed client over /ws, verbatim frames: files_chunk from the cache, stamped with the host's peer id.
    const raw = await ws(gw2, people.bob.token, 'pulsar-cached', await people.bob.joinToken());
    expect(await raw.request({ type: 'request_file_manifest', session_id: people.sessionId, peer_id: 'pulsar-cached' })).toMatchObject({ type: 'file_relayed', to_peer_id: 'alice-host' });
    await raw.next((f) => f.type === 'file_manifest');
    expect(await raw.request({ type: 'request_files', session_id: people.sessionId, peer_id: 'pulsar-cached', file_paths: A })).toMatchObject({ type: 'file_relayed', to_peer_id: 'alice-host' });
    const chunks = () => raw.of('files_chunk');
    await waitFor('every seed chunk', () => chunks().length > 0 && chunks().length === chunks()[0].total_chunks, { timeoutMs: 30_000 });
    const parts = new Map<string, number[][]>();
    for (const c of [...chunks()].sort((a, b) => a.chunk_index - b.chunk_index)) {
      expect(c).toMatchObject({ from_peer_id: 'alice-host', from_user_id: 'alice-fcache' });
      const parsed = parseFilesPayload(JSON.parse(c.files_json));
      for (const [path, bytes] of (parsed as { ok: true; value: FilesPayload }).value) parts.set(path, [...(parts.get(path) ?? []), bytes]);
    }
    for (const p of A) expect(sha(Uint8Array.from((parts.get(p) ?? []).flat()))).toBe(sha(content.get(p) as Uint8Array));
    expect(helper.chunksSent).toBe(sentByHost);

    // The gateway counted what it served.
    const metrics = await (await fetch(`${cluster.admins[1]}/metrics`)).text();
    const served = metrics.split('\n').filter((l) => l.startsWith('chorus_file_cache_served_bytes_total')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    expect(served).toBeGreaterThanOrEqual(2 * A.reduce((n, p) => n + (content.get(p)?.length ?? 0), 0));
  }, 90_000);

  it('a guest of another session never gets a cached byte, even for the same content and paths', async () => {
    const gw2 = cluster.gateways[1];
    const other = await setUpSession(gw2, 'fcache_other');
    // A host of the other session offers the same files (same hashes) but never sends them.
    const mallory = await ws(gw2, other.alice.token, 'mallory-host', await other.alice.joinToken(), other.sessionId);
    expect(await mallory.request({ type: 'share_project', session_id: other.sessionId })).toMatchObject({ type: 'file_host' });
    const eve = await ws(gw2, other.bob.token, 'eve-guest', await other.bob.joinToken(), other.sessionId);
    expect(await mallory.request({ type: 'file_manifest', session_id: other.sessionId, peer_id: 'eve-guest', manifest_json: JSON.stringify(manifest) })).toMatchObject({ type: 'file_relayed' });
    await eve.next((f) => f.type === 'file_manifest');
    expect(await eve.request({ type: 'request_files', session_id: other.sessionId, file_paths: A, format: 'compact', transfer_id: 'eve-1', chunk_size: CHUNK })).toMatchObject({ type: 'file_relayed', to_peer_id: 'mallory-host' });
    // The whole request reached the other session's host: nothing skipped, nothing served from a cache.
    const asked = (await mallory.next((f) => f.type === 'request_files')) as Frame & { skip_chunks?: number[] };
    expect(asked.skip_chunks).toBeUndefined();
    expect(await eve.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    // Its host gone: PEER_DISCONNECTED naming every file; still no byte.
    mallory.ws.close();
    const gone = await waitFor('mallory gone', async () => {
      const r = await eve.request({ type: 'request_files', session_id: other.sessionId, to_peer_id: 'mallory-host', file_paths: A, format: 'compact', transfer_id: 'eve-2', chunk_size: CHUNK });
      return r.type === 'error' && r.code === 'PEER_DISCONNECTED' ? r : undefined;
    });
    expect(new Set(gone.paths)).toEqual(new Set(A));
    expect(eve.frames.filter((f) => f.type === 'file_data' || f.type === 'files_chunk')).toEqual([]);
    expect(await cachedOf(other.sessionId, A)).toBe(0);
  }, 60_000);

  it('the host leaves mid-transfer: the cache serves what it sent, PEER_DISCONNECTED names only the files never sent', async () => {
    const [gw1, gw2] = cluster.gateways;
    const leaving = await sdk(gw1, people.alice.token, 'alice-leaving');
    const slow = new FileSyncHost(leaving.session, slowSource(), { window: 1 });
    await slow.share();
    const guest = new FileSyncGuest((await sdk(gw2, people.bob.token, 'bob-orphan')).session);
    await guest.fetchManifest();
    const paths = [...A, ...C];
    const layout = chunkLayout(paths.map((p) => ({ path: p, size: content.get(p)?.length ?? 0 })), CHUNK);
    const aChunks = layout.filter((entries) => entries.every((e) => e.path.startsWith('a/'))).length;
    const download = guest.download(manifest, paths, { chunkSize: CHUNK, stallMs: 1_000, hostWaitMs: 2_000 }).catch((e: unknown) => e);
    // A comes from the cache at once; the slow host sends C chunk by chunk (told to skip A's chunks).
    await waitFor('A from the cache and some of C from the host', () => guest.chunksReceived >= aChunks + 8, { timeoutMs: 30_000 });
    leaving.client.close();
    const err = (await download) as ChorusError;
    expect(err).toBeInstanceOf(ChorusError);
    expect(err.code).toBe('PEER_DISCONNECTED');
    // The host never sent a chunk of A: the cache did.
    expect(slow.chunksSent).toBeLessThanOrEqual(layout.length - aChunks);
    const missing = new Set(err.details.paths);
    for (const p of A) expect(missing.has(p)).toBe(false);
    expect(missing.size).toBeGreaterThan(0);
    expect(missing.size).toBeLessThan(C.length);
    for (const p of missing) expect(C).toContain(p);
    const complete = new Set(C.filter((p) => !missing.has(p)));

    // Later, with nobody hosting: a new guest (its manifest from before) gets A and every C file the host finished
    // from the cache; PEER_DISCONNECTED names exactly the files never sent whole — in the seed format too.
    await waitFor('the finished C files cached', async () => (await cachedOf(people.sessionId, [...complete])) === complete.size, { timeoutMs: 15_000 });
    const late = await sdk(gw2, people.bob.token, 'bob-late');
    const lateGuest = new FileSyncGuest(late.session);
    await lateGuest.fetchManifest({ hostPeerId: 'alice-host' });
    const seed = await ws(gw2, people.bob.token, 'pulsar-late', await people.bob.joinToken());
    expect(await seed.request({ type: 'request_file_manifest', session_id: people.sessionId, to_peer_id: 'alice-host' })).toMatchObject({ type: 'file_relayed' });
    await seed.next((f) => f.type === 'file_manifest');
    host.client.close();
    await waitFor('alice-host gone', async () => !(await late.client.request('who', { session_id: people.sessionId })).peers.some((p) => p.peer_id === 'alice-host'), { timeoutMs: 15_000 });
    const files: number[] = [];
    lateGuest.on('progress', (p) => files.push(p.files));
    const lateErr = (await lateGuest.download(manifest, [...A, ...C, ...B], { chunkSize: CHUNK, stallMs: 1_000, hostWaitMs: 2_000 }).catch((e: unknown) => e)) as ChorusError;
    expect(lateErr).toMatchObject({ code: 'PEER_DISCONNECTED' });
    expect(new Set(lateErr.details.paths)).toEqual(new Set([...missing, ...B]));
    expect(files.at(-1)).toBe(A.length + complete.size);

    // The seed format, verbatim over /ws: the cached files as files_chunk, the others named at once.
    const asked = [...complete, ...B];
    expect(await seed.request({ type: 'request_files', session_id: people.sessionId, file_paths: asked })).toMatchObject({ code: 'PEER_DISCONNECTED', field: 'file_paths', paths: B });
    const chunks = () => seed.of('files_chunk');
    await waitFor('the cached files as seed chunks', () => chunks().length > 0 && chunks().length === chunks()[0].total_chunks, { timeoutMs: 30_000 });
    const parts = new Map<string, number[][]>();
    for (const c of [...chunks()].sort((a, b) => a.chunk_index - b.chunk_index)) {
      expect(c.from_peer_id).toBe('alice-host');
      for (const [path, bytes] of (parseFilesPayload(JSON.parse(c.files_json)) as { ok: true; value: FilesPayload }).value) parts.set(path, [...(parts.get(path) ?? []), bytes]);
    }
    expect(new Set(parts.keys())).toEqual(complete);
    for (const p of complete) expect(sha(Uint8Array.from((parts.get(p) ?? []).flat()))).toBe(sha(content.get(p) as Uint8Array));
  }, 120_000);
});
