import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ChorusClient, FileSyncGuest, FileSyncHost, type WebSocketConstructor } from '@chorus/client';
import { diskSource } from '@chorus/client-node';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@chorus/config';
import { createTestDatabase, waitFor, type TestDatabase } from '@chorus/testing';
import { startChorus, type RunningChorus } from '../../standalone/chorus';
import { CaptureLogger } from './support/capture-logger';
import { writeProject } from './support/file-project';
import { setUpSession } from './support/scenario';
import { TEST_JWT_SECRET } from './support/stack';
import { WsClient } from './support/ws-client';

// Issue 15, on one standalone node: bytes per second per connection (FILE_SYNC_BYTES_PER_S) over /ws — a host
// that sends faster than its budget is answered RATE_LIMITED with when to retry, then accepted — and a synced
// file opened as a shared document, seeded from the host's bytes when it does not exist yet; the SDK's own /ws
// transport carrying compact chunks as binary frames.

let node: RunningChorus;
let db: TestDatabase;
const sockets: WsClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase('file_sync_limits');
  const logs = new CaptureLogger();
  Logger.overrideLogger(logs);
  node = await startChorus(loadConfig('standalone', { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'warn', DEV_TOKENS: 'true', FILE_SYNC_BYTES_PER_S: String(256 * 1024) }), logs);
}, 60_000);
afterAll(async () => {
  sockets.forEach((s) => s.ws.close());
  await node?.stop();
  await db?.drop();
});

it('caps bytes per second per connection with RATE_LIMITED and retry_after_ms', async () => {
  const url = `http://127.0.0.1:${node.port}`;
  const people = await setUpSession(url, 'limits');
  const alice = await WsClient.connect(url, people.alice.token);
  const bob = await WsClient.connect(url, people.bob.token);
  sockets.push(alice, bob);
  await alice.request({ type: 'join', session_id: people.sessionId, peer_id: 'alice', join_token: await people.alice.joinToken() });
  await bob.request({ type: 'join', session_id: people.sessionId, peer_id: 'bob', join_token: await people.bob.joinToken() });
  const bytes = new Uint8Array(200 * 1024).map((_, i) => i % 251);
  const manifest = { files: [{ path: 'big.bin', hash: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, modified: 0 }] };
  expect(await alice.request({ type: 'file_manifest', session_id: people.sessionId, peer_id: 'bob', manifest_json: JSON.stringify(manifest) })).toMatchObject({ type: 'file_relayed' });
  const chunk = (i: number) => ({ type: 'file_data', session_id: people.sessionId, peer_id: 'bob', transfer_id: 't1', chunk_index: i, total_chunks: 2, encoding: 'none', entries: [{ path: 'big.bin', offset: i * 100 * 1024, length: 100 * 1024 }], sha256: 'a'.repeat(64), data: bytes.subarray(i * 100 * 1024, (i + 1) * 100 * 1024) });
  // 256 KiB/s: the first 100 KiB and the second fit the bucket; a third at once does not.
  expect(await alice.request(chunk(0))).toMatchObject({ type: 'file_relayed' });
  expect(await alice.request(chunk(1))).toMatchObject({ type: 'file_relayed' });
  const refused = await alice.request(chunk(1));
  expect(refused).toMatchObject({ type: 'error', code: 'RATE_LIMITED', retryable: true });
  const wait = (refused as { retry_after_ms: number }).retry_after_ms;
  expect(wait).toBeGreaterThan(0);
  expect(wait).toBeLessThanOrEqual(1_000);
  // Refused attempts spend nothing: resent until the bucket has refilled (about retry_after_ms later).
  const refusedAt = Date.now();
  await waitFor('the chunk accepted once the budget refilled', async () => ((await alice.request(chunk(1))).type === 'file_relayed' ? true : undefined), { timeoutMs: 5_000, intervalMs: 100 });
  expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(wait - 100);
  // The guest got the accepted chunks (binary frames), the refused one not.
  await bob.next((f) => f.type === 'file_data' && f.chunk_index === 1);
  expect(bob.of('file_data').map((f) => f.chunk_index)).toEqual([0, 1, 1]);
}, 30_000);

it('the host seeds a shared document from its bytes when it does not exist yet, once', async () => {
  const url = `http://127.0.0.1:${node.port}`;
  const people = await setUpSession(url, 'seed_doc');
  const dir = await mkdtemp(join(tmpdir(), 'chorus-seed-doc-'));
  try {
    await writeFile(join(dir, 'main.rs'), 'fn main() {\n    println!("héllo 🚀");\n}\n');
    await writeFile(join(dir, 'logo.bin'), Buffer.from([0xff, 0xfe, 0x00, 0x80]));
    const alice = new ChorusClient({ url, token: people.alice.token, peerId: 'alice-seed', onWarning: () => undefined });
    const bob = new ChorusClient({ url, token: people.bob.token, peerId: 'bob-seed', onWarning: () => undefined });
    try {
      await alice.connect();
      await bob.connect();
      const host = new FileSyncHost(alice.session(people.sessionId), diskSource(dir));
      await alice.session(people.sessionId).join();
      await bob.session(people.sessionId).join();
      expect(await host.seedDocument('main.rs')).toBe(true);
      const doc = await bob.session(people.sessionId).document('main.rs');
      expect(doc.text).toBe('fn main() {\n    println!("héllo 🚀");\n}\n');
      // It exists now: a second seed changes nothing; binary content cannot seed a text document.
      expect(await host.seedDocument('main.rs')).toBe(false);
      await expect(host.seedDocument('logo.bin')).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
      expect((await bob.request('open_document', { session_id: people.sessionId, doc_id: 'main.rs' })).version).toBe(1);
    } finally {
      alice.close();
      bob.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 30_000);

it('the SDK over /ws (binary frames both ways): host and guest sync a project in the compact format, deflated', async () => {
  const url = `http://127.0.0.1:${node.port}`;
  const people = await setUpSession(url, 'sdk_ws');
  const source = await mkdtemp(join(tmpdir(), 'chorus-ws-host-'));
  try {
    const expected = await writeProject(source, { files: 30, bigBytes: 600 * 1024, seed: 9 });
    const transport = { kind: 'websocket' as const, WebSocket: WebSocket as unknown as WebSocketConstructor };
    const alice = new ChorusClient({ url, token: people.alice.token, peerId: 'alice-ws', transport, onWarning: () => undefined });
    const bob = new ChorusClient({ url, token: people.bob.token, peerId: 'bob-ws', transport, onWarning: () => undefined });
    try {
      await alice.connect();
      await bob.connect();
      await alice.session(people.sessionId).join();
      await bob.session(people.sessionId).join();
      const host = new FileSyncHost(alice.session(people.sessionId), diskSource(source));
      await host.share();
      const guest = new FileSyncGuest(bob.session(people.sessionId));
      const { manifest } = await guest.fetchManifest();
      const got = await guest.download(manifest, manifest.files.map((f) => f.path), { compression: 'deflate', chunkSize: 64 * 1024 });
      expect(new Map([...got].map(([p, b]) => [p, createHash('sha256').update(b).digest('hex')]))).toEqual(expected);
      expect(guest.duplicates).toBe(0);
    } finally {
      alice.close();
      bob.close();
    }
  } finally {
    await rm(source, { recursive: true, force: true });
  }
}, 30_000);
