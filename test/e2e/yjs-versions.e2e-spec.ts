import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { ChorusClient } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { waitFor } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { yjsFromPostgres } from './support/yjs';

// Version history of Yjs documents (docs/yjs.md "Version history") on the real distributed topology (2 gateways,
// the services as separate processes, real Postgres and Redis): versions saved over REST, listed newest first and
// read back (state and text); an old one restored while a STOCK y-websocket provider (gateway 1) and an SDK
// YjsProvider (gateway 2) are connected — both converge to the version's text, the state reloaded from Postgres
// equals it, and the restore is in the session's audit trail. Viewers read the history and cannot restore.

let cluster: ProcessCluster;
let people: People;
const LABEL = 'yjsver';
const DOC = 'notes/versions.md';
const cleanups: Array<() => void> = [];

interface VersionInfo {
  doc_id: string;
  version: number;
  seq: number;
  reason: string;
  label: string | null;
  author: string | null;
  created_at: string;
  bytes: number;
}

const reloadFromPostgres = (sessionId: string) => yjsFromPostgres(cluster.db.url, sessionId, DOC);

beforeAll(async () => {
  cluster = await startProcessCluster('yjs_versions', { replicas: 1 });
  people = await setUpSession(cluster.gateways[0], LABEL);
}, 180_000);
afterAll(async () => {
  for (const c of cleanups) c();
  await cluster?.stop();
});

describe('Yjs documents in version history', () => {
  const V = () => `/api/v1/collaboration/sessions/${people.sessionId}/documents/${encodeURIComponent(DOC)}/versions`;

  it('saves, lists and reads versions; restoring an old one while two clients are connected converges both and Postgres to it', async () => {
    const [gw1, gw2] = cluster.gateways;
    const api1 = new Api(gw1);
    const api2 = new Api(gw2);
    // Alice: a stock provider on gateway 1. Bob: the SDK's YjsProvider on gateway 2.
    const aliceDoc = new Y.Doc();
    const alice = new WebsocketProvider(gw1.replace('http', 'ws') + '/yjs', people.sessionId + '/' + encodeURIComponent(DOC), aliceDoc, {
      params: { join_token: await people.alice.joinToken() },
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
      maxBackoffTime: 500,
    });
    cleanups.push(() => (alice.destroy(), aliceDoc.destroy()));
    const sdk = new ChorusClient({ url: gw2, token: people.bob.token, peerId: 'bob-sdk' });
    cleanups.unshift(() => sdk.close());
    await sdk.connect();
    const session = sdk.session(people.sessionId);
    await session.join();
    const bobDoc = new Y.Doc();
    const bob = new YjsProvider(session, DOC, bobDoc);
    cleanups.unshift(() => void bob.destroy());
    await bob.connect();
    await waitFor('the stock provider synced', () => alice.synced, { timeoutMs: 20_000 });
    const aliceText = aliceDoc.getText('codemirror');
    const bobText = bobDoc.getText('codemirror');
    const converged = (text: string) => aliceText.toString() === text && bobText.toString() === text;

    aliceText.insert(0, 'The first version.');
    await waitFor('Bob has the first text', () => converged('The first version.'), { timeoutMs: 10_000 });
    await waitFor('it is stored', async () => (await reloadFromPostgres(people.sessionId)).getText('codemirror').toString() === 'The first version.', { timeoutMs: 10_000 });
    const v1 = await api1.request<VersionInfo & { created: boolean }>('POST', V(), { token: people.alice.token, body: { label: 'first' } });
    expect(v1.status).toBe(201);
    expect(v1.body).toMatchObject({ doc_id: DOC, version: 1, reason: 'saved', label: 'first', author: `alice-${LABEL}`, created: true });

    bobText.insert(bobText.length, ' Bob adds a line.');
    aliceText.delete(0, 4);
    await waitFor('both converge on the edits', () => aliceText.toString() === bobText.toString() && bobText.toString().includes('Bob adds') && !bobText.toString().startsWith('The '), { timeoutMs: 10_000 });
    await waitFor('the edits are stored', async () => (await reloadFromPostgres(people.sessionId)).getText('codemirror').toString() === bobText.toString(), { timeoutMs: 10_000 });
    const v2 = await api2.request<VersionInfo & { created: boolean }>('POST', V(), { token: people.bob.token, body: {} });
    expect(v2.body).toMatchObject({ version: 2, reason: 'saved', author: `bob-${LABEL}`, label: null, created: true });
    const second = bobText.toString();

    // Listed newest first, on either gateway; each version reads back as its state and its text.
    const list = await api2.request<{ doc_id: string; versions: VersionInfo[]; next_before: number | null }>('GET', V(), { token: people.bob.token });
    expect(list.status).toBe(200);
    expect(list.body.versions.map((v) => [v.version, v.label])).toEqual([
      [2, null],
      [1, 'first'],
    ]);
    expect(list.body.versions.every((v) => v.bytes > 0 && !Number.isNaN(Date.parse(v.created_at)))).toBe(true);
    const read = await api1.request<VersionInfo & { update: string; text: string | null; text_name: string }>('GET', `${V()}/1`, { token: people.alice.token });
    expect(read.body).toMatchObject({ version: 1, text_name: 'codemirror', text: 'The first version.' });
    const decoded = new Y.Doc();
    Y.applyUpdate(decoded, Buffer.from(read.body.update, 'base64'));
    expect(decoded.getText('codemirror').toString()).toBe('The first version.');

    // Restore version 1 (Bob, on gateway 2): one new update, pushed to both clients.
    const restored = await api2.request<{ version: number; seq: number; changed: boolean; update: string | null; skipped: string[] }>('POST', `${V()}/1/restore`, { token: people.bob.token });
    expect(restored.status).toBe(201);
    expect(restored.body).toMatchObject({ version: 1, changed: true, skipped: [] });
    await waitFor('both clients converge to version 1', () => converged('The first version.'), { timeoutMs: 10_000 });
    expect((await reloadFromPostgres(people.sessionId)).getText('codemirror').toString()).toBe('The first version.');
    // And version 2 is still there to go back to.
    await api1.request('POST', `${V()}/2/restore`, { token: people.alice.token });
    await waitFor('both clients converge to version 2', () => converged(second), { timeoutMs: 10_000 });
    expect((await reloadFromPostgres(people.sessionId)).getText('codemirror').toString()).toBe(second);

    // Audited like every restore: yjs_version_restored, in the session's history.
    const history = await api1.request<{ events: Array<{ type: string; actor: string; payload: Record<string, unknown> }> }>('GET', `/api/v1/collaboration/sessions/${people.sessionId}/history`, { token: people.alice.token });
    const restores = history.body.events.filter((e) => e.type === 'yjs_version_restored');
    expect(restores.map((e) => [e.actor, e.payload.version])).toEqual([
      [`bob-${LABEL}`, 1],
      [`alice-${LABEL}`, 2],
    ]);
    expect(restores[0].payload).toMatchObject({ doc_id: DOC, seq: restored.body.seq, user_id: `bob-${LABEL}` });
  }, 120_000);

  it('lets a viewer list and read versions but not save or restore them; a stranger learns nothing', async () => {
    const api = new Api(cluster.gateways[1]);
    const vic = await api.devToken(`vic-${LABEL}`, 'Vic');
    const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
    await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: vic, body: {} });
    expect((await api.request<{ versions: unknown[] }>('GET', V(), { token: vic })).body.versions).toHaveLength(2);
    expect((await api.request('GET', `${V()}/1`, { token: vic })).status).toBe(200);
    expect((await api.request('POST', V(), { token: vic, body: {} })).body).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((await api.request('POST', `${V()}/1/restore`, { token: vic })).status).toBe(403);
    expect((await api.request('GET', `${V()}/9`, { token: vic })).status).toBe(404);
    expect((await api.request('GET', `${V()}?limit=0`, { token: vic })).body).toMatchObject({ code: 'VALIDATION_ERROR' });
    // A stranger learns nothing.
    const eve = await api.devToken(`eve-${LABEL}`, 'Eve');
    expect((await api.request('GET', V(), { token: eve })).status).toBe(404);
  });
});
