import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { ChorusClient, ChorusError, FileSyncGuest, FileSyncHost, type ChorusSession } from '@chorus/client';
import { buildManifest, diskSource } from '@chorus/client-node';
import type { Manifest } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { prng } from './support/file-project';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { WsClient } from './support/ws-client';

// Issue #19 for project file sync, on two gateway processes (Redis Streams, real Postgres and Redis, the file cache
// on): the host on gateway 1, guests on gateway 2. A participant rule hides infra/** from Bob: his manifest
// withholds those files (a count, no names), a direct request_files for infra/main.tf is refused naming the rule —
// also when the host has left and the cache holds the file — and the audit export lists the refusal. A rule that
// hides secrets/** from the host herself keeps them out of everyone's manifest. A chunk the host sends after a
// rule change hid its path is dropped, the host told which rule, the guest sent nothing.

let cluster: ProcessCluster;
let people: People;
let db: Client;
let dir: string;
let manifest: Manifest;
const clients: ChorusClient[] = [];
const sockets: WsClient[] = [];
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const PROJECT: Record<string, string> = {
  'src/main.ts': 'console.log("hello");\n',
  'src/util.ts': 'export const two = 2;\n',
  'docs/readme.md': '# The project\n',
  'infra/main.tf': 'resource "aws_s3_bucket" "b" {}\n',
  'infra/vars.tf': 'variable "region" {}\n',
  'secrets/key.pem': '-----BEGIN PRIVATE KEY-----\n',
};
const base = () => `/api/v1/collaboration/sessions/${people.sessionId}`;

beforeAll(async () => {
  cluster = await startProcessCluster('file_rules_sync', { gateways: 2, replicas: 1 });
  people = await setUpSession(cluster.gateways[0], 'fsrules');
  db = new Client({ connectionString: cluster.db.url });
  await db.connect();
  dir = await mkdtemp(join(tmpdir(), 'chorus-rules-host-'));
  for (const [path, text] of Object.entries(PROJECT)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  manifest = await buildManifest(dir);
  // The rules are in force before anyone connects (a later change is the last test's subject).
  const rules = [
    { name: 'infra-hidden-from-bob', pattern: 'infra/**', user_id: 'bob-fsrules', access: 'none' },
    { name: 'secrets-hidden-from-alice', pattern: 'secrets/**', user_id: 'alice-fsrules', access: 'none' },
  ];
  const set = await new Api(cluster.gateways[0]).request('PUT', `${base()}/file-rules`, { token: people.alice.token, body: { rules } });
  expect(set.status).toBe(200);
}, 180_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  sockets.forEach((s) => s.ws.close());
  await db?.end();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sdk(url: string, token: string, peerId: string): Promise<{ client: ChorusClient; session: ChorusSession }> {
  const client = new ChorusClient({ url: [url], token, peerId, random: prng(peerId.length), backoff: { initialDelayMs: 100, maxDelayMs: 500 }, onWarning: () => undefined });
  clients.push(client);
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

type Line = { type: string; payload: Record<string, unknown> };
async function refusals(): Promise<Array<Record<string, unknown>>> {
  const exported = await fetch(`${cluster.gateways[1]}${base()}/audit?format=jsonl`, { headers: { authorization: `Bearer ${people.alice.token}` } });
  expect(exported.status).toBe(200);
  const lines = (await exported.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
  return lines.filter((l) => l.type === 'access_refused').map((l) => l.payload);
}

const metric = async (admin: string, name: string, label: string) =>
  (await (await fetch(`${admin}/metrics`)).text())
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(label))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);

describe('file sync under path rules, host on gateway 1, guests on gateway 2', () => {
  let host: { client: ChorusClient; session: ChorusSession };

  it("withholds what the guest (or the host) may not read from the guest's manifest, as a count", async () => {
    const [gw1, gw2] = cluster.gateways;
    host = await sdk(gw1, people.alice.token, 'alice-host');
    await new FileSyncHost(host.session, diskSource(dir, manifest)).share();

    const bob = new FileSyncGuest((await sdk(gw2, people.bob.token, 'bob-guest')).session);
    const seen = await bob.fetchManifest();
    expect(seen.manifest.files.map((f) => f.path).sort()).toEqual(['docs/readme.md', 'src/main.ts', 'src/util.ts']);
    expect(seen.withheld).toBe(3);
    const got = await bob.download(seen.manifest, ['src/main.ts', 'docs/readme.md']);
    expect(new TextDecoder().decode(got.get('src/main.ts'))).toBe(PROJECT['src/main.ts']);

    // Alice's own guest peer reads infra/**, but not secrets/** (hidden from her: she may not offer them either).
    const alice = new FileSyncGuest((await sdk(gw2, people.alice.token, 'alice-guest')).session);
    const hers = await alice.fetchManifest();
    expect(hers.manifest.files.map((f) => f.path).sort()).toEqual(['docs/readme.md', 'infra/main.tf', 'infra/vars.tf', 'src/main.ts', 'src/util.ts']);
    expect(hers.withheld).toBe(1);
    const infra = await alice.download(hers.manifest, ['infra/main.tf', 'infra/vars.tf']);
    expect(new TextDecoder().decode(infra.get('infra/main.tf'))).toBe(PROJECT['infra/main.tf']);

    // Over /ws, verbatim: the manifest frame carries `withheld`, and its JSON names none of the withheld files.
    const raw = await ws(gw2, people.bob.token, 'bob-raw', await people.bob.joinToken());
    expect(await raw.request({ type: 'request_file_manifest', session_id: people.sessionId })).toMatchObject({ type: 'file_relayed', to_peer_id: 'alice-host' });
    const frame = (await raw.next((f) => f.type === 'file_manifest')) as { manifest_json: string; withheld: number };
    expect(frame.withheld).toBe(3);
    expect(frame.manifest_json).not.toMatch(/infra|secrets/);
    expect(await metric(cluster.admins[0], 'chorus_file_sync_withheld_total', 'at="manifest"')).toBeGreaterThanOrEqual(7);
  }, 90_000);

  it('refuses a direct request_files for infra/main.tf naming the rule, in the SDK too, and audits it', async () => {
    const gw2 = cluster.gateways[1];
    const raw = await ws(gw2, people.bob.token, 'bob-direct', await people.bob.joinToken());
    const refused = await raw.request({ type: 'request_files', session_id: people.sessionId, file_paths: ['src/main.ts', 'infra/main.tf'] });
    expect(refused).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', rule: 'infra-hidden-from-bob', field: 'file_paths', paths: ['infra/main.tf'] });
    expect((refused as { message: string }).message).toContain('File rule "infra-hidden-from-bob"');
    expect(raw.frames.filter((f) => f.type === 'files_chunk' || f.type === 'file_data')).toEqual([]);

    // The SDK: a guest holding the full manifest (it knows the path from elsewhere) gets the typed error.
    const guest = new FileSyncGuest((await sdk(gw2, people.bob.token, 'bob-sdk')).session);
    await guest.fetchManifest();
    const err = (await guest.download(manifest, ['infra/main.tf']).catch((e: unknown) => e)) as ChorusError;
    expect(err).toBeInstanceOf(ChorusError);
    expect(err).toMatchObject({ code: 'PERMISSION_DENIED', details: { rule: 'infra-hidden-from-bob' } });

    const listed = await waitFor('the refusals in the export', async () => {
      const all = (await refusals()).filter((r) => r.action === 'request_files' && r.resource === 'infra/main.tf');
      return all.length >= 2 ? all : undefined;
    }, { timeoutMs: 15_000 });
    expect(listed[0]).toMatchObject({ user_id: 'bob-fsrules', code: 'PERMISSION_DENIED', reason: expect.stringContaining('infra-hidden-from-bob') });
  }, 60_000);

  it('the cache never answers a path the guest may not read, even with the host gone', async () => {
    const gw2 = cluster.gateways[1];
    // Alice's guest download put infra/main.tf in the session's cache.
    await waitFor('infra/main.tf cached', async () => {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM file_blobs WHERE session_id = $1 AND sha256 = $2', [people.sessionId, sha(PROJECT['infra/main.tf'])]);
      return rows[0].n === 1;
    }, { timeoutMs: 15_000 });
    const raw = await ws(gw2, people.bob.token, 'bob-cache', await people.bob.joinToken());
    expect(await raw.request({ type: 'request_file_manifest', session_id: people.sessionId })).toMatchObject({ type: 'file_relayed' });
    await raw.next((f) => f.type === 'file_manifest');
    host.client.close();
    await waitFor('alice-host gone', async () => !(await raw.request({ type: 'who', session_id: people.sessionId }) as { peers: Array<{ peer_id: string }> }).peers.some((p) => p.peer_id === 'alice-host'), { timeoutMs: 15_000 });

    // A readable file the host sent is still served from the cache (the request goes through)...
    expect(await raw.request({ type: 'request_files', session_id: people.sessionId, to_peer_id: 'alice-host', file_paths: ['src/main.ts'] })).toMatchObject({ type: 'file_relayed' });
    await waitFor('src/main.ts from the cache', () => raw.of('files_chunk').length > 0, { timeoutMs: 15_000 });
    // ...the hidden one is refused by its rule, compact or seed, before the cache is looked at.
    for (const format of [{}, { format: 'compact', transfer_id: 'bob-cache-1', chunk_size: 16 * 1024 }]) {
      const r = await raw.request({ type: 'request_files', session_id: people.sessionId, to_peer_id: 'alice-host', file_paths: ['infra/main.tf'], ...format });
      expect(r).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', rule: 'infra-hidden-from-bob' });
    }
    expect(await raw.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    const chunks = [...raw.of('files_chunk'), ...raw.of('file_data')];
    expect(chunks.map((c) => JSON.stringify(c)).join('')).not.toContain('infra');
  }, 60_000);

  it('a chunk whose path a new rule hid from the guest is dropped, the host told the rule', async () => {
    const [gw1, gw2] = cluster.gateways;
    const aliceRaw = await ws(gw1, people.alice.token, 'alice-raw', await people.alice.joinToken());
    const bobRaw = await ws(gw2, people.bob.token, 'bob-chunks', await people.bob.joinToken());
    const offered = { files: manifest.files.filter((f) => f.path.startsWith('docs/') || f.path.startsWith('src/')) };
    expect(await aliceRaw.request({ type: 'file_manifest', session_id: people.sessionId, peer_id: 'bob-chunks', manifest_json: JSON.stringify(offered) })).toMatchObject({ type: 'file_relayed' });
    expect(await bobRaw.next((f) => f.type === 'file_manifest')).toMatchObject({ withheld: 0 });

    // The owner hides docs/** from Bob now; the host's gateway hears of it with the durable event.
    const rules = [
      { name: 'infra-hidden-from-bob', pattern: 'infra/**', user_id: 'bob-fsrules', access: 'none' },
      { name: 'docs-hidden-from-bob', pattern: 'docs/**', user_id: 'bob-fsrules', access: 'none' },
    ];
    expect((await new Api(gw1).request('PUT', `${base()}/file-rules`, { token: people.alice.token, body: { rules } })).status).toBe(200);
    await aliceRaw.next((f) => f.type === 'session_event' && f.event_type === 'file_rules_updated');

    const bytes = (p: string) => Array.from(new TextEncoder().encode(PROJECT[p]));
    const chunk = (p: string) => ({ type: 'files_chunk', session_id: people.sessionId, peer_id: 'bob-chunks', files_json: JSON.stringify([[p, bytes(p)]]), chunk_index: 0, total_chunks: 1 });
    const before = await metric(cluster.admins[0], 'chorus_file_sync_withheld_total', 'at="chunk"');
    const dropped = await aliceRaw.request(chunk('docs/readme.md'));
    expect(dropped).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', rule: 'docs-hidden-from-bob', field: 'peer_id', paths: ['docs/readme.md'] });
    expect(await metric(cluster.admins[0], 'chorus_file_sync_withheld_total', 'at="chunk"')).toBe(before + 1);
    // A readable path still goes through; Bob gets that chunk only.
    expect(await aliceRaw.request(chunk('src/util.ts'))).toMatchObject({ type: 'file_relayed', to_peer_id: 'bob-chunks' });
    const got = await bobRaw.next((f) => f.type === 'files_chunk');
    expect((got as { files_json: string }).files_json).toContain('src/util.ts');
    expect(await bobRaw.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(bobRaw.of('files_chunk')).toHaveLength(1);
    await waitFor('the dropped chunk in the audit trail', async () => (await refusals()).some((r) => r.action === 'files_chunk' && r.user_id === 'alice-fsrules' && r.resource === 'docs/readme.md'), { timeoutMs: 15_000 });
  }, 60_000);
});
