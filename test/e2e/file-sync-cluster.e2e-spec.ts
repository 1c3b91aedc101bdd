import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChorusClient, ChorusError, FileSyncGuest, FileSyncHost, chunkLayout, syncDiff, type ChorusSession, type FileSource } from '@chorus/client';
import { manifestSchema, parseFilesPayload, type FilesPayload, type Manifest } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { buildManifest, diskSource, writeFiles } from '@chorus/client-node';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { hashesOf, prng, writeProject } from './support/file-project';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { WsClient, type Frame } from './support/ws-client';

// Issue 15: project file sync, host to guests, through 2 gateways (separate processes) on the real Redis and
// Postgres. The host (Alice, SDK over Socket.IO) is on gateway 1; guests on gateway 2 — Bob's SDK (compact) and a
// plain `ws` client speaking the seed's frames verbatim (seed JSON and compact binary frames). A 300-file project
// with binary, empty and unicode-named files and one 8 MB file arrives byte-identical; a kill -9 of the host's
// gateway mid-transfer is resumed without re-sending finished chunks; a host that leaves yields PEER_DISCONNECTED
// naming what is missing; tampered chunks, traversal, oversized manifests, viewers hosting and other sessions are
// refused.

let cluster: ProcessCluster;
let people: People;
let dir: string;
let expected: Map<string, string>;
let manifest: Manifest;
const clients: ChorusClient[] = [];
const sockets: WsClient[] = [];
const track = (c: ChorusClient) => (clients.push(c), c);
const cleanup: string[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster('file_sync', { gateways: 2, replicas: 1, extraEnv: { FILE_SYNC_BYTES_PER_S: String(16 * 1024 * 1024) } });
  people = await setUpSession(cluster.gateways[0], 'files');
  dir = await mkdtemp(join(tmpdir(), 'chorus-files-host-'));
  cleanup.push(dir);
  expected = await writeProject(dir, { files: 300, bigBytes: 8 * 1024 * 1024, seed: 15 });
  manifest = await buildManifest(dir);
}, 180_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  sockets.forEach((s) => s.ws.close());
  await cluster?.stop();
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

async function sdk(url: string[], token: string, peerId: string): Promise<{ client: ChorusClient; session: ChorusSession }> {
  const client = track(new ChorusClient({ url, token, peerId, random: prng(peerId.length), backoff: { initialDelayMs: 100, maxDelayMs: 500 }, onWarning: () => undefined }));
  await client.connect();
  const session = client.session(people.sessionId);
  await session.join();
  return { client, session };
}

async function ws(url: string, token: string, peerId: string, joinToken: string): Promise<WsClient> {
  const c = await WsClient.connect(url, token);
  sockets.push(c);
  expect(await c.request({ type: 'join', session_id: people.sessionId, peer_id: peerId, join_token: joinToken })).toMatchObject({ type: 'joined' });
  return c;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('hostile input and isolation', () => {
  it('refuses traversal, absolute and duplicated paths, oversized manifests, unoffered requests, and viewers hosting', async () => {
    const gw2 = cluster.gateways[1];
    const alice = await ws(gw2, people.alice.token, 'alice-raw', await people.alice.joinToken());
    const bob = await ws(gw2, people.bob.token, 'bob-raw', await people.bob.joinToken());
    const H = 'a'.repeat(64);
    const send = (files: unknown[]) => alice.request({ type: 'file_manifest', session_id: people.sessionId, peer_id: 'bob-raw', manifest_json: JSON.stringify({ files }) });
    expect(await send([{ path: '../etc/passwd', hash: H, size: 1, modified: 0 }])).toMatchObject({ code: 'VALIDATION_ERROR', field: 'manifest_json.files.0.path' });
    expect(await send([{ path: '/etc/passwd', hash: H, size: 1, modified: 0 }])).toMatchObject({ code: 'VALIDATION_ERROR', field: 'manifest_json.files.0.path' });
    expect(await send([{ path: 'a\u0000b', hash: H, size: 1, modified: 0 }])).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(await send([{ path: './a', hash: H, size: 1, modified: 0 }])).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('normal form') });
    expect(await send([{ path: 'a', hash: H, size: 1, modified: 0 }, { path: 'a', hash: H, size: 1, modified: 0 }])).toMatchObject({ code: 'VALIDATION_ERROR', field: 'manifest_json.files.1.path' });
    expect(await send([{ path: 'huge', hash: H, size: 300 * 1024 * 1024, modified: 0 }])).toMatchObject({ code: 'VALIDATION_ERROR', field: 'manifest_json.files.0.size' });
    const many = Array.from({ length: 5_001 }, (_, i) => ({ path: `f/${i}`, hash: H, size: 0, modified: 0 }));
    expect(await send(many)).toMatchObject({ code: 'VALIDATION_ERROR', field: 'manifest_json.files' });
    expect(await alice.request({ type: 'file_manifest', session_id: people.sessionId, peer_id: 'bob-raw', manifest_json: '{' })).toMatchObject({ code: 'VALIDATION_ERROR', field: 'manifest_json' });

    // A real offer of one file; Bob may ask for it and nothing else; Alice may send it and nothing else.
    expect(await send([{ path: 'ok.txt', hash: sha(new TextEncoder().encode('hi')), size: 2, modified: 0 }])).toMatchObject({ type: 'file_relayed' });
    expect(await bob.request({ type: 'request_files', session_id: people.sessionId, to_peer_id: 'alice-raw', file_paths: ['secret.txt'] })).toMatchObject({ code: 'PERMISSION_DENIED', field: 'file_paths', paths: ['secret.txt'] });
    expect(await bob.request({ type: 'request_files', session_id: people.sessionId, to_peer_id: 'alice-raw', file_paths: ['../ok.txt'] })).toMatchObject({ code: 'VALIDATION_ERROR', field: 'file_paths.0' });
    expect(await bob.request({ type: 'request_files', session_id: people.sessionId, to_peer_id: 'alice-raw', file_paths: ['ok.txt'] })).toMatchObject({ type: 'file_relayed' });
    const chunk = (files: unknown) => alice.request({ type: 'files_chunk', session_id: people.sessionId, peer_id: 'bob-raw', files_json: JSON.stringify(files), chunk_index: 0, total_chunks: 1 });
    expect(await chunk([['other.txt', [1]]])).toMatchObject({ code: 'PERMISSION_DENIED', paths: ['other.txt'] });
    expect(await chunk([['ok.txt', [1, 2, 3]]])).toMatchObject({ code: 'VALIDATION_ERROR', field: 'files_json' });
    expect(await chunk([['ok.txt', [104, 105]]])).toMatchObject({ type: 'file_relayed' });
    await bob.next((f) => f.type === 'files_chunk' && f.from_peer_id === 'alice-raw');
    // Binary frames of anything but file_data are refused.
    expect(await bob.request({ type: 'ping', data: new Uint8Array([1]) })).toMatchObject({ code: 'VALIDATION_ERROR', field: '(frame)' });

    // A viewer receives but never hosts.
    const api = new Api(gw2);
    const viewerToken = await api.devToken('vera-files', 'Vera');
    const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
    const redeemed = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: viewerToken, body: {} });
    const vera = await ws(gw2, viewerToken, 'vera-raw', redeemed.body.join_token);
    expect(await vera.request({ type: 'share_project', session_id: people.sessionId })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await vera.request({ type: 'file_manifest', session_id: people.sessionId, peer_id: 'bob-raw', manifest_json: '{"files":[]}' })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await vera.request({ type: 'request_file_manifest', session_id: people.sessionId, to_peer_id: 'alice-raw' })).toMatchObject({ type: 'file_relayed' });
    await alice.next((f) => f.type === 'request_file_manifest' && f.from_peer_id === 'vera-raw');
  }, 60_000);

  it('rejects a tampered chunk naming the file, and a file whose bytes do not match its manifest sha256', async () => {
    const gw2 = cluster.gateways[1];
    const evil = await ws(gw2, people.alice.token, 'alice-evil', await people.alice.joinToken());
    const guest = await sdk([gw2], people.bob.token, 'bob-victim');
    const files = new FileSyncGuest(guest.session);
    const hello = new TextEncoder().encode('hello');
    const jello = new TextEncoder().encode('jello');
    const offer: Manifest = { files: [{ path: 'a.txt', hash: sha(hello), size: 5, modified: 0 }] };
    expect(await evil.request({ type: 'file_manifest', session_id: people.sessionId, peer_id: 'bob-victim', manifest_json: JSON.stringify(offer) })).toMatchObject({ type: 'file_relayed' });
    const rejected: ChorusError[] = [];
    files.on('rejected', (e) => rejected.push(e));
    const download = files.download(offer, ['a.txt'], { hostPeerId: 'alice-evil', stallMs: 60_000 }).catch((e: unknown) => e);
    const req = (await evil.next((f) => f.type === 'request_files' && f.from_peer_id === 'bob-victim')) as Frame & { transfer_id: string };
    const header = { type: 'file_data', session_id: people.sessionId, peer_id: 'bob-victim', transfer_id: req.transfer_id, chunk_index: 0, total_chunks: 1, encoding: 'none', entries: [{ path: 'a.txt', offset: 0, length: 5 }] };
    // The bytes changed on the way, the chunk's sha256 still the original's: rejected, never written.
    expect(await evil.request({ ...header, sha256: sha(hello), data: jello })).toMatchObject({ type: 'file_relayed' });
    await waitFor('the tampered chunk rejected', () => rejected[0]);
    expect(rejected[0]).toMatchObject({ code: 'FILE_INTEGRITY', details: { paths: ['a.txt'] } });
    // A consistent chunk of the wrong content: the file fails its manifest hash, a typed error naming it.
    expect(await evil.request({ ...header, sha256: sha(jello), data: jello })).toMatchObject({ type: 'file_relayed' });
    expect(await download).toMatchObject({ code: 'FILE_INTEGRITY', details: { paths: ['a.txt'] } });
  }, 30_000);

  it('a guest in another session never receives a byte, even with the same peer id', async () => {
    const gw2 = cluster.gateways[1];
    const other = await setUpSession(gw2, 'files_other');
    const dave = await WsClient.connect(gw2, other.bob.token);
    sockets.push(dave);
    await dave.request({ type: 'join', session_id: other.sessionId, peer_id: 'bob-raw2', join_token: await other.bob.joinToken() });
    const alice = await ws(gw2, people.alice.token, 'alice-iso', await people.alice.joinToken());
    // Not a member of this session: refused; a peer of this session does not exist in dave's.
    expect(await dave.request({ type: 'request_file_manifest', session_id: people.sessionId, to_peer_id: 'alice-iso' })).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await dave.request({ type: 'request_file_manifest', session_id: other.sessionId, to_peer_id: 'alice-iso' })).toMatchObject({ code: 'PEER_DISCONNECTED' });
    // Alice addresses dave's peer id in her session: nobody there has it.
    expect(await alice.request({ type: 'file_manifest', session_id: people.sessionId, peer_id: 'bob-raw2', manifest_json: '{"files":[]}' })).toMatchObject({ code: 'PEER_DISCONNECTED' });
    const bob = await ws(gw2, people.bob.token, 'bob-raw2', await people.bob.joinToken());
    expect(await alice.request({ type: 'file_manifest', session_id: people.sessionId, peer_id: 'bob-raw2', manifest_json: '{"files":[]}' })).toMatchObject({ type: 'file_relayed' });
    await bob.next((f) => f.type === 'file_manifest');
    expect(await dave.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(dave.frames.filter((f) => ['file_manifest', 'files_chunk', 'file_data', 'request_files', 'request_file_manifest'].includes(f.type))).toEqual([]);
  }, 30_000);
});

describe('a host on gateway 1, guests on gateway 2', () => {
  let host: { client: ChorusClient; session: ChorusSession };
  let hostHelper: FileSyncHost;

  it('shares: the file host shows in who, joined and a file_host push; the manifest leaves ignored files out', async () => {
    const [gw1, gw2] = cluster.gateways;
    host = await sdk([gw1, gw2], people.alice.token, 'alice-host');
    const watcher = await ws(gw2, people.bob.token, 'bob-watch', await people.bob.joinToken());
    hostHelper = new FileSyncHost(host.session, diskSource(dir, manifest));
    await hostHelper.share();
    await watcher.next((f) => f.type === 'file_host' && f.file_host?.peer_id === 'alice-host');
    expect(await watcher.request({ type: 'who', session_id: people.sessionId })).toMatchObject({ type: 'presence_list', file_host: { peer_id: 'alice-host' } });
    const late = await ws(gw2, people.bob.token, 'bob-late', await people.bob.joinToken());
    expect(late.frames.find((f) => f.type === 'joined')).toMatchObject({ file_host: { peer_id: 'alice-host', user_id: 'alice-files' } });
    expect(manifest.files.map((f) => f.path)).not.toContain('ignored/secret.txt');
    expect(manifest.files.map((f) => f.path)).not.toContain('build.tmp');
    expect(new Map(manifest.files.map((f) => [f.path, f.hash]))).toEqual(expected);
  });

  it('compact format, SDK on Socket.IO: the whole project arrives byte-identical', async () => {
    const guest = await sdk([cluster.gateways[1]], people.bob.token, 'bob-sdk');
    const files = new FileSyncGuest(guest.session);
    const progress: number[] = [];
    files.on('progress', (p) => progress.push(p.bytes));
    const { manifest: remote, hostPeerId } = await files.fetchManifest();
    expect(hostPeerId).toBe('alice-host');
    const diff = syncDiff([], remote.files);
    expect(diff.add.length).toBe(300);
    const got = await files.download(remote, diff.add, { format: 'compact' });
    const out = await mkdtemp(join(tmpdir(), 'chorus-files-guest-'));
    cleanup.push(out);
    await writeFiles(out, got);
    expect(await hashesOf(out, expected.keys())).toEqual(expected);
    expect(progress.at(-1)).toBe(remote.files.reduce((n, f) => n + f.size, 0));
    expect(files.duplicates).toBe(0);
    // A second sync: nothing to do.
    expect(syncDiff((await buildManifest(out)).files, remote.files)).toMatchObject({ add: [], update: [], delete: [] });
  }, 60_000);

  it('the seed format verbatim over /ws (and compact binary frames with deflate): byte-identical', async () => {
    const guest = await ws(cluster.gateways[1], people.bob.token, 'pulsar-guest', await people.bob.joinToken());
    expect(await guest.request({ type: 'request_file_manifest', session_id: people.sessionId, peer_id: 'pulsar-guest' })).toMatchObject({ type: 'file_relayed', to_peer_id: 'alice-host' });
    const m = await guest.next((f) => f.type === 'file_manifest');
    expect(m).toMatchObject({ session_id: people.sessionId, from_peer_id: 'alice-host', manifest_json: expect.any(String) });
    const remote = manifestSchema.parse(JSON.parse((m as Frame & { manifest_json: string }).manifest_json));
    const paths = remote.files.map((f) => f.path);
    expect(await guest.request({ type: 'request_files', session_id: people.sessionId, peer_id: 'pulsar-guest', file_paths: paths })).toMatchObject({ type: 'file_relayed' });
    const chunks = () => guest.of('files_chunk');
    await waitFor('every seed chunk', () => chunks().length > 0 && chunks().length === chunks()[0].total_chunks, { timeoutMs: 45_000 });
    const parts = new Map<string, number[][]>();
    for (const c of [...chunks()].sort((a, b) => a.chunk_index - b.chunk_index)) {
      expect(c.from_peer_id).toBe('alice-host');
      const parsed = parseFilesPayload(JSON.parse(c.files_json));
      expect(parsed.ok).toBe(true);
      for (const [path, bytes] of (parsed as { value: FilesPayload }).value) parts.set(path, [...(parts.get(path) ?? []), bytes]);
    }
    const seedHashes = new Map([...parts].map(([p, list]) => [p, sha(Uint8Array.from(list.flat()))]));
    expect(seedHashes).toEqual(expected);

    // The compact format to the same /ws client: binary frames, deflated, 64 KiB chunks.
    const small = remote.files.filter((f) => f.size < 100_000).slice(0, 60);
    await guest.request({ type: 'request_files', session_id: people.sessionId, file_paths: small.map((f) => f.path), format: 'compact', transfer_id: 'ws-compact-1', chunk_size: 64 * 1024, compression: 'deflate' });
    const binary = () => guest.of('file_data').filter((f) => f.transfer_id === 'ws-compact-1');
    await waitFor('every compact chunk', () => binary().length > 0 && binary().length === binary()[0].total_chunks, { timeoutMs: 30_000 });
    const bytes = new Map(small.map((f) => [f.path, new Uint8Array(f.size)]));
    const { inflateSync } = await import('node:zlib');
    for (const c of binary()) {
      const raw = c.encoding === 'deflate' ? inflateSync(c.data as Uint8Array) : (c.data as Uint8Array);
      expect(sha(raw)).toBe(c.sha256);
      let at = 0;
      for (const e of c.entries) {
        bytes.get(e.path)?.set(raw.subarray(at, at + e.length), e.offset);
        at += e.length;
      }
    }
    for (const f of small) expect(sha(bytes.get(f.path) as Uint8Array)).toBe(f.hash);
  }, 90_000);

  it('kill -9 of the host gateway mid-transfer: the guest resumes and completes, no finished chunk sent again', async () => {
    // The host reads its disk slowly, so the kill lands mid-transfer.
    const slow: FileSource = { manifest: async () => manifest, read: async (p, o, l) => (await new Promise((r) => setTimeout(r, 15)), diskSource(dir, manifest).read(p, o, l)) };
    const host2 = await sdk([cluster.gateways[0], cluster.gateways[1]], people.alice.token, 'alice-host2');
    const helper = new FileSyncHost(host2.session, slow);
    const guest = await sdk([cluster.gateways[1]], people.bob.token, 'bob-resume');
    const files = new FileSyncGuest(guest.session);
    const paths = manifest.files.filter((f) => f.path === 'assets/big.bin' || f.size > 10_000).map((f) => f.path);
    const chunkSize = 64 * 1024;
    const total = chunkLayout(paths.map((p) => ({ path: p, size: manifest.files.find((f) => f.path === p)?.size ?? 0 })), chunkSize).length;
    await files.fetchManifest({ hostPeerId: 'alice-host2' });
    // The host's own resume is under test: the file cache (which holds this project since bob-sdk's download) stays out.
    const download = files.download(manifest, paths, { hostPeerId: 'alice-host2', chunkSize, stallMs: 2_000, useCache: false });
    await waitFor('some chunks in', () => files.chunksReceived >= 10, { timeoutMs: 30_000 });
    await cluster.processes.get('gateway-1')?.stop('SIGKILL');
    const got = await download;
    for (const p of paths) expect(sha(got.get(p) as Uint8Array)).toBe(expected.get(p));
    expect(files.chunksReceived).toBe(total);
    expect(files.duplicates).toBe(0);
    expect(files.resumes).toBeGreaterThanOrEqual(1);
    // At the resume the guest had what it had; the host re-sent only chunks lost in the dead gateway (≤ its window).
    expect(files.skipped[0]).toBeGreaterThanOrEqual(10);
    expect(helper.chunksSent - total).toBeLessThanOrEqual(16);
    await waitFor('the host is back on gateway 2', () => host2.client.hello?.node_id === 'gateway-2' && host2.session.state === 'joined', { timeoutMs: 30_000 });
    // The first host's client reconnected too (gateway 1 is gone for the rest of this file).
    await waitFor('alice-host rejoined', () => host.session.state === 'joined', { timeoutMs: 30_000 });
    helper.close();
  }, 90_000);

  it('the host leaves mid-transfer: PEER_DISCONNECTED names exactly the files never received', async () => {
    const gw2 = cluster.gateways[1];
    const slow: FileSource = { manifest: async () => manifest, read: async (p, o, l) => (await new Promise((r) => setTimeout(r, 40)), diskSource(dir, manifest).read(p, o, l)) };
    const leaving = await sdk([gw2], people.alice.token, 'alice-leaving');
    const helper = new FileSyncHost(leaving.session, slow, { window: 1 });
    await helper.share();
    const guest = await sdk([gw2], people.bob.token, 'bob-orphan');
    const files = new FileSyncGuest(guest.session);
    const paths = manifest.files.filter((f) => f.size > 5_000).slice(0, 60).map((f) => f.path);
    await files.fetchManifest();
    let complete = 0;
    files.on('progress', (p) => (complete = p.files));
    // Without the file cache (it holds these files already): file-sync-cache.e2e-spec.ts covers a leave with it.
    const download = files.download(manifest, paths, { chunkSize: 16 * 1024, stallMs: 1_000, hostWaitMs: 2_000, useCache: false }).catch((e: unknown) => e);
    await waitFor('some chunks in', () => files.chunksReceived >= 3, { timeoutMs: 30_000 });
    leaving.client.close();
    const err = (await download) as ChorusError;
    expect(err).toBeInstanceOf(ChorusError);
    expect(err.code).toBe('PEER_DISCONNECTED');
    expect(err.details.paths?.length).toBeGreaterThan(0);
    // Exactly the files not complete when the host went (the guest's last progress counted the complete ones).
    expect(err.details.paths?.length).toBe(paths.length - complete);
    for (const p of err.details.paths ?? []) expect(paths).toContain(p);
    // Nobody hosts now: a request says so with the typed error.
    await expect(files.fetchManifest()).rejects.toMatchObject({ code: 'PEER_DISCONNECTED' });
  }, 60_000);
});
