import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { WebsocketProvider } from 'y-websocket';
import { ChorusClient, type ChorusSession } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { waitFor } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { providerSynced, stockYjsProvider, yjsFromPostgres } from './support/yjs';

// A live role change reaches open Yjs connections (docs/yjs.md "Roles"), on the real distributed topology (2
// gateways, the services as separate processes, real Postgres and Redis): Bob's STOCK y-websocket provider (npm
// y-websocket, unmodified) and his Socket.IO client are on gateway 2; Alice demotes him to viewer over REST on
// gateway 1 — his next update is refused (the provider told, like a viewer's), never stored, never seen by Alice's
// provider. Removing him closes his provider's socket with 4403 (y-websocket does not reconnect after a 44xx), and
// his still-valid join token no longer opens the path (404, as for a stranger).

let cluster: ProcessCluster;
let people: People;
const LABEL = 'yjslive';
const DOC = 'notes/live role.md';
const cleanups: Array<() => void> = [];

const stockProvider = (gateway: string, sessionId: string, joinToken: string) => stockYjsProvider(gateway, { sessionId, docId: DOC }, joinToken, cleanups);

const synced = providerSynced;

/** The stored text: snapshot and log, merged, from Postgres. */
const storedText = async (sessionId: string) => (await yjsFromPostgres(cluster.db.url, sessionId, DOC)).getText('codemirror').toString();

/** A y-protocols update message (base64) inserting `text` at 0 of the Y.Text codemirror, by a fresh client. */
function updateMessage(text: string): string {
  const doc = new Y.Doc();
  doc.getText('codemirror').insert(0, text);
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0); // messageSync, then the sync protocol's update
  syncProtocol.writeUpdate(encoder, Y.encodeStateAsUpdate(doc));
  return Buffer.from(encoding.toUint8Array(encoder)).toString('base64');
}

/** The HTTP status an upgrade to the /yjs/ path is refused with (rejects if it opens). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => (ws.close(), reject(new Error('opened'))));
    ws.on('error', () => undefined);
  });
}

beforeAll(async () => {
  cluster = await startProcessCluster('yjs_live_role', { replicas: 1 });
  people = await setUpSession(cluster.gateways[0], LABEL);
}, 180_000);
afterAll(async () => {
  for (const c of cleanups) c();
  await cluster?.stop();
});

describe('a live role change on open Yjs connections', () => {
  let alice: WebsocketProvider;
  let bob: WebsocketProvider;
  let bobJoinToken: string;
  let bobSdk: ChorusClient;
  let bobSession: ChorusSession;
  let bobProvider: YjsProvider;
  const bobProviderErrors: string[] = [];
  const roleEvents: string[] = [];
  const S = () => `/api/v1/collaboration/sessions/${people.sessionId}`;

  it('an editor demoted on gateway 1 has the next update of his provider on gateway 2 refused, unstored and unseen', async () => {
    const [gw1, gw2] = cluster.gateways;
    alice = stockProvider(gw1, people.sessionId, await people.alice.joinToken());
    bobJoinToken = await people.bob.joinToken();
    bob = stockProvider(gw2, people.sessionId, bobJoinToken);
    await Promise.all([synced(alice), synced(bob)]);
    // Bob also has a Socket.IO connection on gateway 2, subscribed to the document with yjs_sync.
    bobSdk = new ChorusClient({ url: gw2, token: people.bob.token, peerId: 'bob-sdk' });
    cleanups.unshift(() => bobSdk.close());
    await bobSdk.connect();
    bobSession = bobSdk.session(people.sessionId);
    bobSession.on('event', (e) => {
      if (e.kind === 'session_event' && e.message.event_type === 'role_changed') roleEvents.push(JSON.stringify(e.message.payload));
    });
    await bobSession.join();
    await bobSdk.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC, message: 'AAABAA==' });
    // And the SDK's YjsProvider on the same connection.
    bobProvider = new YjsProvider(bobSession, DOC, new Y.Doc());
    cleanups.unshift(() => void bobProvider.destroy());
    bobProvider.on('error', ({ error }) => bobProviderErrors.push((error as { code?: string }).code ?? error.message));
    await bobProvider.connect();

    // While an editor, Bob's edits are stored and reach Alice.
    bob.doc.getText('codemirror').insert(0, 'bob-editor ');
    await waitFor("Alice sees Bob's edit", () => alice.doc.getText('codemirror').toString().includes('bob-editor'), { timeoutMs: 10_000 });
    expect((await bobSdk.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC, message: updateMessage('sdk-editor ') })).seq).toEqual(expect.any(Number));

    // y-websocket reports y-protocols' permission-denied message with console.warn: the refusal reached it.
    const warned = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    cleanups.push(() => warned.mockRestore());
    const api = new Api(gw1);
    const demoted = await api.request('PATCH', `${S()}/participants/bob-${LABEL}`, { token: people.alice.token, body: { role: 'viewer' } });
    expect(demoted.status).toBe(200);
    // Gateway 2 delivered the role change (the Socket.IO push and the /yjs/ socket's effect are one delivery).
    await waitFor('gateway 2 delivered role_changed', () => roleEvents.some((p) => p.includes('"to":"viewer"')), { timeoutMs: 10_000 });

    bob.doc.getText('codemirror').insert(0, 'DEMOTED-EDIT ');
    await waitFor('the provider is told its update was refused', () => warned.mock.calls.some((args) => String(args[1] ?? args[0]).includes('read-only')), { timeoutMs: 10_000 });
    // Over Socket.IO: refused like a viewer's, with PERMISSION_DENIED (the SDK's provider reports it).
    bobProvider.doc.getText('codemirror').insert(0, 'PROVIDER-DEMOTED ');
    await waitFor("the SDK provider's update is refused", () => bobProviderErrors.includes('PERMISSION_DENIED'), { timeoutMs: 10_000 });
    await expect(bobSdk.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC, message: updateMessage('SDK-DEMOTED ') })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });

    // Alice keeps editing: her edit arrives at Bob (read-only sync still works) and is stored; his never is.
    alice.doc.getText('codemirror').insert(0, 'alice-after ');
    await waitFor("Bob still receives Alice's edits", () => bob.doc.getText('codemirror').toString().includes('alice-after'), { timeoutMs: 10_000 });
    await waitFor("Alice's edit is stored", async () => (await storedText(people.sessionId)).includes('alice-after'), { timeoutMs: 10_000 });
    const stored = await storedText(people.sessionId);
    expect(stored).toContain('bob-editor');
    expect(stored).toContain('sdk-editor');
    expect(stored).not.toContain('DEMOTED-EDIT');
    expect(stored).not.toContain('SDK-DEMOTED');
    expect(stored).not.toContain('PROVIDER-DEMOTED');
    expect(alice.doc.getText('codemirror').toString()).not.toContain('DEMOTED-EDIT');
    // Bob's socket stayed open (read-only sync).
    expect(bob.wsconnected).toBe(true);
  }, 120_000);

  it('promoted back, his provider edits again; removed, its socket is closed with 4403 and his join token no longer opens the path (404)', async () => {
    const api = new Api(cluster.gateways[0]);
    expect((await api.request('PATCH', `${S()}/participants/bob-${LABEL}`, { token: people.alice.token, body: { role: 'editor' } })).status).toBe(200);
    await waitFor('gateway 2 delivered the promotion', () => roleEvents.some((p) => p.includes('"to":"editor"')), { timeoutMs: 10_000 });
    bob.doc.getText('codemirror').insert(0, 'promoted ');
    await waitFor("Alice sees Bob's edit again", () => alice.doc.getText('codemirror').toString().includes('promoted'), { timeoutMs: 10_000 });
    // The gateway asked the promoted provider for what it lacks (sync step 1): what he typed while read-only was
    // refused then, and is stored now, as a reconnecting provider's resync would store it.
    expect(alice.doc.getText('codemirror').toString()).toContain('DEMOTED-EDIT');
    // The SDK's provider resyncs by itself on the role change: its refused edit is stored now too.
    await waitFor("the SDK provider's edit made while read-only arrives", () => alice.doc.getText('codemirror').toString().includes('PROVIDER-DEMOTED'), { timeoutMs: 10_000 });

    const closed = new Promise<{ code: number; reason: string }>((resolve) => bob.on('closed', (event: { code: number; reason: string }) => resolve(event)));
    const ended = new Promise<{ reason: string }>((resolve) => bobSession.on('ended', resolve));
    expect((await api.request('DELETE', `${S()}/participants/bob-${LABEL}`, { token: people.alice.token })).status).toBe(200);
    await expect(closed).resolves.toEqual({ code: 4403, reason: 'removed' });
    expect(bob.wsconnected).toBe(false);
    // His Socket.IO connection, subscribed with yjs_sync, is ended as for OT (removed from the session).
    expect((await ended).reason).toMatch(/removed/i);
    // The join token is still unexpired, but he is no longer a participant: refused before the upgrade, 404 like
    // any stranger's (the session service tells a non-participant nothing).
    const url = `${cluster.gateways[1].replace('http', 'ws')}/yjs/${people.sessionId}/${encodeURIComponent(DOC)}?join_token=${bobJoinToken}`;
    expect(await upgradeStatus(url)).toBe(404);
    // Alice's provider is unaffected.
    alice.doc.getText('codemirror').insert(0, 'alice-last ');
    await waitFor("Alice's last edit is stored", async () => (await storedText(people.sessionId)).includes('alice-last'), { timeoutMs: 10_000 });
  }, 60_000);
});
