import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { ChorusClient } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { waitFor, mulberry32 as prng } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { stockYjsProvider, yjsFromPostgres } from './support/yjs';

// The Hocuspocus provider's protocol on /hocuspocus (issue #17), on the real distributed topology (2 gateways,
// conflict/session/presence as separate processes, real Postgres and Redis): an UNMODIFIED @hocuspocus/provider on
// gateway 2, a stock y-websocket provider on gateway 1 and an SDK YjsProvider type into one document at once; they
// converge, and the state read back from Postgres equals theirs. A viewer's token is answered `readonly` and its
// updates are refused (SyncStatus false, nothing stored); a bad token and another session's token are denied; live
// role changes reach it (scope announced, promotion resync, removal denied); documents share one socket.

let cluster: ProcessCluster;
let people: People;
const DOC = 'notes/hocus pocus.md';
const cleanups: Array<() => void> = [];
const WebSocketPolyfill = WebSocket as unknown as typeof globalThis.WebSocket;


/**
 * As the issue writes it — url ws://host/hocuspocus, name session_id/doc_id, the join token as `token` — with the
 * socket made explicitly, as Hocuspocus's docs do in Node, to hand it `ws` (Node 20 has no global WebSocket).
 */
function hocuspocus(gateway: string, name: string, token: string, document = new Y.Doc()): HocuspocusProvider {
  const websocketProvider = new HocuspocusProviderWebsocket({ url: gateway.replace('http', 'ws') + '/hocuspocus', WebSocketPolyfill, maxDelay: 500 });
  const provider = new HocuspocusProvider({ websocketProvider, name, token, document });
  provider.attach();
  cleanups.push(() => (provider.destroy(), websocketProvider.destroy(), document.destroy()));
  return provider;
}

const stockProvider = (gateway: string, sessionId: string, joinToken: string, doc?: Y.Doc) => stockYjsProvider(gateway, { sessionId, docId: DOC }, joinToken, cleanups, { doc });

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

const reloadFromPostgres = (sessionId: string, docId = DOC) => yjsFromPostgres(cluster.db.url, sessionId, docId);

/** What a provider was told about its token: the scope, or the reason it was denied. */
function answerOf(provider: HocuspocusProvider): Promise<{ scope: string } | { denied: string }> {
  return new Promise((resolve) => {
    provider.on('authenticated', ({ scope }: { scope: string }) => resolve({ scope }));
    provider.on('authenticationFailed', ({ reason }: { reason: string }) => resolve({ denied: reason }));
  });
}

beforeAll(async () => {
  cluster = await startProcessCluster('yjs_hocuspocus', { replicas: 1 });
  people = await setUpSession(cluster.gateways[0], 'hocuspocus');
}, 180_000);
afterAll(async () => {
  for (const c of cleanups) c();
  await cluster?.stop();
});

describe('the Hocuspocus provider on /hocuspocus', () => {
  let sdkDoc: Y.Doc;

  it('a Hocuspocus provider (gateway 2), a stock y-websocket provider (gateway 1) and the SDK converge while typing; Postgres holds it', async () => {
    const [gw1, gw2] = cluster.gateways;
    const hp = hocuspocus(gw2, people.sessionId + '/' + DOC, await people.bob.joinToken());
    const answered = answerOf(hp);
    const stock = stockProvider(gw1, people.sessionId, await people.alice.joinToken());
    const sdk = new ChorusClient({ url: gw1, token: people.alice.token, peerId: 'alice-sdk-hp', random: prng(3) });
    cleanups.push(() => sdk.close());
    await sdk.connect();
    const session = sdk.session(people.sessionId);
    await session.join();
    sdkDoc = new Y.Doc();
    const provider = new YjsProvider(session, DOC, sdkDoc);
    cleanups.unshift(() => void provider.destroy());
    await provider.connect();
    expect(await answered).toEqual({ scope: 'read-write' });
    await waitFor('both providers synced', () => hp.isSynced && stock.synced, { timeoutMs: 20_000 });

    const typists = [typist(hp.document.getText('t'), prng(11), 0x4e00), typist(stock.doc.getText('t'), prng(12), 0x5e00), typist(sdkDoc.getText('t'), prng(13), 0x6e00)];
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await Promise.all(typists.map((t) => t.stop()));
    const total = typists.reduce((n, t) => n + t.typed.length, 0);
    const docs = [hp.document, stock.doc, sdkDoc];
    await waitFor(
      'all three converged on every character',
      () => {
        const texts = docs.map((d) => d.getText('t').toString());
        return new Set(texts).size === 1 && [...texts[0]].length === total;
      },
      { timeoutMs: 40_000, intervalMs: 50 },
    );
    // Every update of the Hocuspocus provider was acknowledged (SyncStatus), and only once durable: Postgres has it all.
    await waitFor('the Hocuspocus provider has no unsynced changes', () => !hp.hasUnsyncedChanges, { timeoutMs: 10_000 });
    expect((await reloadFromPostgres(people.sessionId)).getText('t').toString()).toBe(sdkDoc.getText('t').toString());
    // Awareness is presence on both paths: the Hocuspocus provider's user reaches the stock provider.
    hp.setAwarenessField('user', { name: 'Bob' });
    await waitFor('the stock provider sees Bob', () => [...stock.awareness.getStates().values()].some((s) => (s as { user?: { name?: string } }).user?.name === 'Bob'), { timeoutMs: 10_000 });
    hp.destroy();
    stock.destroy();
  }, 120_000);

  it("a viewer's token is answered readonly: it receives every update, its own are refused and never stored", async () => {
    const api = new Api(cluster.gateways[1]);
    const vic = await api.devToken('vic-hp', 'Vic');
    const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
    const redeemed = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: vic, body: {} });
    const viewer = hocuspocus(cluster.gateways[1], people.sessionId + '/' + DOC, redeemed.body.join_token);
    expect(await answerOf(viewer)).toEqual({ scope: 'readonly' });
    await waitFor('the viewer synced', () => viewer.isSynced, { timeoutMs: 20_000 });
    expect(viewer.document.getText('t').toString()).toBe(sdkDoc.getText('t').toString());
    viewer.document.getText('t').insert(0, 'VIEWER-EDIT');
    sdkDoc.getText('t').insert(0, '!');
    await waitFor('the viewer receives the editor update', () => viewer.document.getText('t').toString().includes('!'), { timeoutMs: 10_000 });
    await waitFor('the editor update is stored', async () => (await reloadFromPostgres(people.sessionId)).getText('t').toString().startsWith('!'), { timeoutMs: 10_000 });
    expect((await reloadFromPostgres(people.sessionId)).getText('t').toString()).not.toContain('VIEWER-EDIT');
    expect(sdkDoc.getText('t').toString()).not.toContain('VIEWER-EDIT');
    // Told: its update was answered SyncStatus(false), so the provider still counts it as unsynced.
    expect(viewer.hasUnsyncedChanges).toBe(true);
    viewer.destroy();
  });

  it('a bad token and a token of another session are denied (permission-denied with the reason); the token is never in the URL', async () => {
    const bad = hocuspocus(cluster.gateways[0], people.sessionId + '/' + DOC, 'not-a-token');
    expect(await answerOf(bad)).toEqual({ denied: expect.stringContaining('join token was refused') });
    expect(bad.configuration.websocketProvider.url).toBe(cluster.gateways[0].replace('http', 'ws') + '/hocuspocus');
    expect(bad.configuration.websocketProvider.webSocket?.url).toBe(cluster.gateways[0].replace('http', 'ws') + '/hocuspocus');
    bad.destroy();

    const api = new Api(cluster.gateways[0]);
    const carol = await api.devToken('carol-hp', 'Carol');
    const other = await api.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token: carol, body: { name: 'other' } });
    const joined = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${other.body.session_id}/join`, { token: carol, body: {} });
    const foreign = hocuspocus(cluster.gateways[0], people.sessionId + '/' + DOC, joined.body.join_token);
    expect(await answerOf(foreign)).toEqual({ denied: 'This join token is for another session.' });
    // Nothing of the document reached it.
    expect(foreign.document.getText('t').toString()).toBe('');
    foreign.destroy();
  });

  it('follows live role changes: demoted → scope readonly and edits refused; promoted → its refused edit stored; removed → denied', async () => {
    const api = new Api(cluster.gateways[0]);
    const S = `/api/v1/collaboration/sessions/${people.sessionId}`;
    const dan = await api.devToken('dan-hp', 'Dan');
    const invite = await api.request<{ code: string }>('POST', `${S}/invite`, { token: people.alice.token, body: { role: 'editor' } });
    const redeemed = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: dan, body: {} });
    const provider = hocuspocus(cluster.gateways[1], people.sessionId + '/' + DOC, redeemed.body.join_token);
    const scopes: string[] = [];
    const denied: string[] = [];
    provider.on('authenticated', ({ scope }: { scope: string }) => scopes.push(scope));
    provider.on('authenticationFailed', ({ reason }: { reason: string }) => denied.push(reason));
    await waitFor('synced read-write', () => provider.isSynced && scopes[0] === 'read-write', { timeoutMs: 20_000 });

    expect((await api.request('PATCH', `${S}/participants/dan-hp`, { token: people.alice.token, body: { role: 'viewer' } })).status).toBe(200);
    await waitFor('told readonly', () => provider.authorizedScope === 'readonly', { timeoutMs: 10_000 });
    provider.document.getText('t').insert(0, 'DAN-WHILE-VIEWER ');
    sdkDoc.getText('t').insert(0, '#');
    await waitFor('Dan still receives updates', () => provider.document.getText('t').toString().includes('#'), { timeoutMs: 10_000 });
    expect((await reloadFromPostgres(people.sessionId)).getText('t').toString()).not.toContain('DAN-WHILE-VIEWER');

    expect((await api.request('PATCH', `${S}/participants/dan-hp`, { token: people.alice.token, body: { role: 'editor' } })).status).toBe(200);
    await waitFor('told read-write', () => provider.authorizedScope === 'read-write', { timeoutMs: 10_000 });
    // The promotion resync (the server's sync step 1): what Dan typed while read-only is stored now.
    await waitFor('the refused edit stored after the promotion', async () => (await reloadFromPostgres(people.sessionId)).getText('t').toString().includes('DAN-WHILE-VIEWER'), { timeoutMs: 10_000 });

    expect((await api.request('DELETE', `${S}/participants/dan-hp`, { token: people.alice.token })).status).toBe(200);
    await waitFor('denied after the removal', () => denied.includes('You were removed from the session.'), { timeoutMs: 10_000 });
    provider.destroy();
  });

  it('multiplexes documents on one socket: two providers sharing a HocuspocusProviderWebsocket each sync their own', async () => {
    const socket = new HocuspocusProviderWebsocket({ url: cluster.gateways[1].replace('http', 'ws') + '/hocuspocus', WebSocketPolyfill, maxDelay: 500 });
    const token = await people.bob.joinToken();
    const first = new HocuspocusProvider({ websocketProvider: socket, name: people.sessionId + '/' + DOC, token });
    const second = new HocuspocusProvider({ websocketProvider: socket, name: people.sessionId + '/notes/second.md', token });
    first.attach();
    second.attach();
    cleanups.push(() => (first.destroy(), second.destroy(), socket.destroy()));
    await waitFor('both synced', () => first.isSynced && second.isSynced, { timeoutMs: 20_000 });
    expect(first.document.getText('t').toString()).toBe(sdkDoc.getText('t').toString());
    second.document.getText('t').insert(0, 'second document');
    await waitFor('acknowledged', () => !second.hasUnsyncedChanges, { timeoutMs: 10_000 });
    expect((await reloadFromPostgres(people.sessionId, 'notes/second.md')).getText('t').toString()).toBe('second document');
    expect((await reloadFromPostgres(people.sessionId)).getText('t').toString()).toBe(sdkDoc.getText('t').toString());
  });
});
