import WebSocket from 'ws';
import * as Y from 'yjs';
import { ChorusClient, type ChorusSession } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { waitFor, mulberry32 as prng } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { providerSynced, stockYjsProvider, yjsFromPostgres } from './support/yjs';

// Yjs documents on the real distributed topology (2 gateways, conflict/session/presence as separate processes, real
// Postgres and Redis): two STOCK y-websocket providers (npm y-websocket, unmodified, on /yjs/) on different gateways
// and one SDK client (yjs_sync over Socket.IO) type into one document; they converge, and the state read back from
// Postgres after every process is stopped equals theirs. A gateway killed with SIGKILL mid-edit loses no
// acknowledged update. A viewer's provider receives but cannot edit; another session's client cannot subscribe.

let cluster: ProcessCluster;
let people: People;
const DOC = 'notes/design notes.md';
const cleanups: Array<() => void> = [];


const stockProvider = (gateway: string, sessionId: string, joinToken: string, doc?: Y.Doc) => stockYjsProvider(gateway, { sessionId, docId: DOC }, joinToken, cleanups, { doc });

const synced = providerSynced;

/** Types unique characters at random places until stopped; returns every character typed. */
function typist(text: Y.Text, random: () => number, first: number) {
  const typed: string[] = [];
  let running = true;
  let next = first;
  const done = (async () => {
    while (running) {
      const ch = String.fromCodePoint(next++);
      text.insert(Math.floor(random() * (text.length + 1)), ch);
      typed.push(ch);
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.floor(random() * 25)));
    }
  })();
  return { typed, stop: async () => ((running = false), await done) };
}

const reloadFromPostgres = (url: string, sessionId: string) => yjsFromPostgres(url, sessionId, DOC);

beforeAll(async () => {
  cluster = await startProcessCluster('yjs_cluster', { replicas: 1 });
  people = await setUpSession(cluster.gateways[0], 'yjs');
}, 180_000);
afterAll(async () => {
  for (const c of cleanups) c();
  await cluster?.stop();
});

describe('Yjs documents across gateways', () => {
  let sdk: ChorusClient;
  let session: ChorusSession;
  let sdkDoc: Y.Doc;
  let provider: YjsProvider;
  const acked: Uint8Array[] = [];

  it('two stock providers on two gateways and an SDK client converge while typing concurrently', async () => {
    const [gw1, gw2] = cluster.gateways;
    const p1 = stockProvider(gw1, people.sessionId, await people.alice.joinToken());
    const p2 = stockProvider(gw2, people.sessionId, await people.bob.joinToken());
    sdk = new ChorusClient({ url: [gw1, gw2], token: people.alice.token, peerId: 'alice-sdk', random: prng(3), backoff: { initialDelayMs: 100, maxDelayMs: 500 } });
    cleanups.push(() => sdk.close());
    await sdk.connect();
    session = sdk.session(people.sessionId);
    await session.join();
    sdkDoc = new Y.Doc();
    provider = new YjsProvider(session, DOC, sdkDoc);
    cleanups.unshift(() => void provider.destroy());
    provider.on('acked', ({ update }) => acked.push(update));
    await provider.connect();
    await Promise.all([synced(p1), synced(p2)]);

    const typists = [typist(p1.doc.getText('t'), prng(11), 0x4e00), typist(p2.doc.getText('t'), prng(12), 0x5e00), typist(sdkDoc.getText('t'), prng(13), 0x6e00)];
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await Promise.all(typists.map((t) => t.stop()));
    const total = typists.reduce((n, t) => n + t.typed.length, 0);
    const docs = [p1.doc, p2.doc, sdkDoc];
    await waitFor(
      'all three converged on every character',
      () => {
        const texts = docs.map((d) => d.getText('t').toString());
        return new Set(texts).size === 1 && [...texts[0]].length === total;
      },
      { timeoutMs: 40_000, intervalMs: 50 },
    );
    // The stored state is theirs too (every update durable before it was pushed).
    await waitFor('Postgres holds every character', async () => (await reloadFromPostgres(cluster.db.url, people.sessionId)).getText('t').toString() === sdkDoc.getText('t').toString(), { timeoutMs: 10_000 });
    p1.destroy();
    p2.destroy();
  }, 120_000);

  it("a viewer's stock provider receives updates, but its own are refused and never stored", async () => {
    const api = new Api(cluster.gateways[1]);
    const vic = await api.devToken('vic-yjs', 'Vic');
    const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
    const redeemed = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: vic, body: {} });
    // y-websocket reports y-protocols' permission-denied message with console.warn: the refusal reached it.
    const warned = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    cleanups.push(() => warned.mockRestore());
    const viewer = stockProvider(cluster.gateways[1], people.sessionId, redeemed.body.join_token);
    await synced(viewer);
    expect(viewer.doc.getText('t').toString()).toBe(sdkDoc.getText('t').toString());
    viewer.doc.getText('t').insert(0, 'VIEWER-EDIT');
    sdkDoc.getText('t').insert(0, '!');
    await waitFor('the viewer receives the editor update', () => viewer.doc.getText('t').toString().includes('!'), { timeoutMs: 10_000 });
    await waitFor('the editor update is stored', async () => (await reloadFromPostgres(cluster.db.url, people.sessionId)).getText('t').toString().startsWith('!'), { timeoutMs: 10_000 });
    expect((await reloadFromPostgres(cluster.db.url, people.sessionId)).getText('t').toString()).not.toContain('VIEWER-EDIT');
    expect(sdkDoc.getText('t').toString()).not.toContain('VIEWER-EDIT');
    expect(warned.mock.calls.some((args) => String(args[1] ?? args[0]).includes('read-only'))).toBe(true);
    viewer.destroy();
  });

  it("a client of another session cannot subscribe (its join token is refused on the document's path)", async () => {
    const api = new Api(cluster.gateways[0]);
    const carol = await api.devToken('carol-yjs', 'Carol');
    const other = await api.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token: carol, body: { name: 'other' } });
    const joined = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${other.body.session_id}/join`, { token: carol, body: {} });
    const url = `${cluster.gateways[0].replace('http', 'ws')}/yjs/${people.sessionId}/${encodeURIComponent(DOC)}?join_token=${joined.body.join_token}`;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(403);
    // And over Socket.IO: not a member of the session, so yjs_sync is refused.
    const c = new ChorusClient({ url: cluster.gateways[0], token: carol, peerId: 'carol-sdk', random: prng(5) });
    cleanups.push(() => c.close());
    await c.connect();
    await expect(c.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC, message: 'AAABAA==' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('loses no acknowledged update when a gateway is killed with SIGKILL mid-edit', async () => {
    const [, gw2] = cluster.gateways;
    // The SDK client is on gateway-1 (its first URL); a stock provider types through gateway-2, which survives.
    const survivor = stockProvider(gw2, people.sessionId, await people.bob.joinToken());
    await synced(survivor);
    const sdkTypist = typist(sdkDoc.getText('t'), prng(21), 0x7e00);
    const stockTypist = typist(survivor.doc.getText('t'), prng(22), 0x8e00);
    await waitFor('some SDK updates acknowledged', () => acked.length > 40, { timeoutMs: 30_000 });
    await cluster.processes.get('gateway-1')?.stop('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await Promise.all([sdkTypist.stop(), stockTypist.stop()]);
    // The SDK reconnects to gateway-2, rejoins and resyncs (what was not acknowledged goes in its step 2).
    await waitFor('the SDK client and the survivor converge', () => sdkDoc.getText('t').toString() === survivor.doc.getText('t').toString(), { timeoutMs: 60_000, intervalMs: 100 });

    // Stop everything, then read the document back from Postgres.
    await Promise.all([...cluster.processes.values()].map((p) => p.stop('SIGTERM')));
    const stored = await reloadFromPostgres(cluster.db.url, people.sessionId);
    const text = stored.getText('t').toString();
    expect(text).toBe(sdkDoc.getText('t').toString());
    // Every acknowledged update is contained in the stored state: applying it again changes nothing.
    const sv = Y.encodeStateVector(stored);
    for (const update of acked) {
      const copy = new Y.Doc();
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(stored));
      Y.applyUpdate(copy, update);
      expect(Buffer.from(Y.encodeStateVector(copy)).equals(Buffer.from(sv))).toBe(true);
    }
    for (const ch of [...sdkTypist.typed, ...stockTypist.typed]) expect(text).toContain(ch);
  }, 150_000);
});
