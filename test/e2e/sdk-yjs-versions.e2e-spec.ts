import * as Y from 'yjs';
import { ChorusClient, ChorusError, type ChorusSession } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { waitFor } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';

// The SDK's YjsProvider on the real distributed topology (2 gateways, the services as separate processes, real
// Postgres and Redis): a viewer syncs a document that holds deletions (read-only sync must complete), and
// `provider.versions` (libs/client/src/yjs-versions.ts, docs/yjs.md "Versions in the SDK and the app") saves, lists,
// reads and restores versions, a second client on the other gateway seeing the restored text live; a viewer lists
// and reads them but cannot save or restore (PERMISSION_DENIED).

let cluster: ProcessCluster;
let people: People;
let viewerToken: string;
const LABEL = 'sdkyver';
const cleanups: Array<() => void | Promise<void>> = [];

beforeAll(async () => {
  cluster = await startProcessCluster('sdk_yjs_versions', { replicas: 1 });
  people = await setUpSession(cluster.gateways[0], LABEL);
  const api = new Api(cluster.gateways[1]);
  viewerToken = await api.devToken(`vic-${LABEL}`, 'Vic');
  const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
  const redeemed = await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: viewerToken, body: {} });
  if (redeemed.status !== 200) throw new Error(`redeem failed: ${redeemed.raw}`);
}, 180_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await cluster?.stop();
});

/** A joined session of `token` on `gateway`, closed after the file. */
async function joined(gateway: string, token: string, peerId: string): Promise<ChorusSession> {
  const client = new ChorusClient({ url: gateway, token, peerId });
  cleanups.push(() => client.close());
  await client.connect();
  const session = client.session(people.sessionId);
  await session.join();
  return session;
}

/** A provider of `docId` on `session`, connected (synced) unless `connect` is false; destroyed after the file. */
async function provider(session: ChorusSession, docId: string, connect = true): Promise<YjsProvider> {
  const p = new YjsProvider(session, docId, new Y.Doc());
  cleanups.push(() => p.destroy());
  if (connect) await p.connect();
  return p;
}

const textOf = (p: YjsProvider) => p.doc.getText('codemirror').toString();

/** Resolves once every local update of `p` is acknowledged (durable). */
async function durable(p: YjsProvider, edit: () => void): Promise<void> {
  const acked = new Promise<void>((resolve) => {
    const off = p.on('acked', () => (off(), resolve()));
  });
  edit();
  await acked;
}

describe('a viewer syncs read-only', () => {
  it('reaches synced with the right text on a document that holds deletions, and its own edit is refused', async () => {
    const DOC = 'notes/with deletes.md';
    const alice = await provider(await joined(cluster.gateways[0], people.alice.token, 'alice-del'), DOC);
    const text = alice.doc.getText('codemirror');
    await durable(alice, () => text.insert(0, 'Hello, brave new world.'));
    await durable(alice, () => text.delete(5, 7)); // "Hello new world."
    await durable(alice, () => text.insert(text.length, ' Again.'));
    expect(textOf(alice)).toBe('Hello new world. Again.');

    // The viewer on the other gateway: its sync step 2 answer holds the delete set (Yjs always sends it whole).
    const vic = await provider(await joined(cluster.gateways[1], viewerToken, 'vic-del'), DOC, false);
    const errors: Error[] = [];
    vic.on('error', ({ error }) => errors.push(error));
    await vic.connect();
    expect(vic.synced).toBe(true);
    expect(textOf(vic)).toBe('Hello new world. Again.');
    expect(errors).toEqual([]);

    // Live updates keep arriving (deletions included).
    text.delete(0, 6);
    await waitFor('the viewer sees the editor delete', () => textOf(vic) === 'new world. Again.', { timeoutMs: 10_000 });

    // Its own edit is refused (PERMISSION_DENIED, reported), never stored or seen by the editor; it stays synced.
    vic.doc.getText('codemirror').insert(0, 'VIEWER ');
    await waitFor('the refusal reported', () => errors.some((e) => e instanceof ChorusError && e.code === 'PERMISSION_DENIED'), { timeoutMs: 10_000 });
    await waitFor('the viewer synced again after the refusal', () => vic.synced, { timeoutMs: 10_000 });
    text.insert(text.length, '!');
    await waitFor('the viewer still receives', () => textOf(vic).endsWith('Again.!'), { timeoutMs: 10_000 });
    expect(textOf(alice)).toBe('new world. Again.!');
  }, 60_000);
});
