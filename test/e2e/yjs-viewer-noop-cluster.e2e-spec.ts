import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { Client } from 'pg';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { WebsocketProvider } from 'y-websocket';
import { ChorusClient } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { stockYjsProvider } from './support/yjs';

// Stock viewers on a document with deletions (docs/yjs.md "Roles", issue #17), on the real distributed topology (2
// gateways, the services as separate processes, real Postgres and Redis). An UNMODIFIED y-websocket provider on
// /yjs/ and an UNMODIFIED @hocuspocus/provider on /hocuspocus answer the server's sync step 1 with their whole
// delete set; that holds nothing the document lacks, so gateway 2 ignores it (chorus_yjs_updates_total
// {outcome="ignored"}) instead of refusing it as a viewer's edit — the refusal counter does not move. The delete
// set gateway 2 checks against is kept from the editor's updates it delivers (Alice types on gateway 1): a viewer
// joining after more deletions is still answered as a no-op. A viewer's real edits — typed, or a deletion only —
// are still refused (read_only), never stored, never seen by the editor. A connection demoted after its sync (over
// Socket.IO, on a document gateway 2 had no viewer of) has its no-op ignored too: the gateway reads the state once.

let cluster: ProcessCluster;
let people: People;
const DOC = 'notes/viewer noop.md';
const cleanups: Array<() => void> = [];
const WebSocketPolyfill = WebSocket as unknown as typeof globalThis.WebSocket;

const stockProvider = (gateway: string, joinToken: string, docId = DOC) => stockYjsProvider(gateway, { sessionId: people.sessionId, docId }, joinToken, cleanups);

function hocuspocus(gateway: string, token: string): HocuspocusProvider {
  const websocketProvider = new HocuspocusProviderWebsocket({ url: gateway.replace('http', 'ws') + '/hocuspocus', WebSocketPolyfill, maxDelay: 500 });
  const document = new Y.Doc();
  const provider = new HocuspocusProvider({ websocketProvider, name: people.sessionId + '/' + DOC, token, document });
  provider.attach();
  cleanups.push(() => (provider.destroy(), websocketProvider.destroy(), document.destroy()));
  return provider;
}

/** A y-protocols update message (base64) carrying `update`. */
function updateMessage(update: Uint8Array): string {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0); // messageSync, then the sync protocol's update
  syncProtocol.writeUpdate(encoder, update);
  return Buffer.from(encoding.toUint8Array(encoder)).toString('base64');
}

/** The stored text: snapshot and log, merged, from Postgres. */
async function storedText(): Promise<string> {
  const pg = new Client({ connectionString: cluster.db.url });
  await pg.connect();
  try {
    const head = await pg.query<{ snapshot: Buffer | null; snapshot_seq: string }>(`SELECT snapshot, snapshot_seq FROM yjs_documents WHERE session_id = $1 AND doc_id = $2`, [people.sessionId, DOC]);
    const log = await pg.query<{ update: Buffer }>(`SELECT update FROM yjs_updates WHERE session_id = $1 AND doc_id = $2 AND seq > $3 ORDER BY seq`, [people.sessionId, DOC, head.rows[0].snapshot_seq]);
    const doc = new Y.Doc();
    if (head.rows[0].snapshot) Y.applyUpdate(doc, head.rows[0].snapshot);
    for (const r of log.rows) Y.applyUpdate(doc, r.update);
    return doc.getText('codemirror').toString();
  } finally {
    await pg.end();
  }
}

/** A counter of gateway 2's /metrics (its admin listener), 0 when never incremented. */
async function counter(name: string, label: string): Promise<number> {
  const text = await (await fetch(`${cluster.admins[1]}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && l.includes(label));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}
const readOnlyRefusals = () => counter('chorus_yjs_refused_total', 'reason="read_only"');
const ignored = () => counter('chorus_yjs_updates_total', 'outcome="ignored"');

/** A fresh viewer of the session (invited as viewer): its join token. */
async function viewerJoinToken(name: string): Promise<string> {
  const api = new Api(cluster.gateways[1]);
  const token = await api.devToken(name, name);
  const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
  const redeemed = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token, body: {} });
  if (redeemed.status !== 200) throw new Error(`redeem failed: ${redeemed.raw}`);
  return redeemed.body.join_token;
}

beforeAll(async () => {
  cluster = await startProcessCluster('yjs_viewer_noop', { replicas: 1 });
  people = await setUpSession(cluster.gateways[0], 'viewernoop');
}, 180_000);
afterAll(async () => {
  for (const c of cleanups) c();
  await cluster?.stop();
});

describe('stock viewers on a document with deletions', () => {
  let alice: WebsocketProvider;
  let vic: WebsocketProvider;
  let hp: HocuspocusProvider;

  it("sync on both paths without a refusal: their step 2 answers (the delete set) are ignored as no-ops", async () => {
    alice = stockProvider(cluster.gateways[0], await people.alice.joinToken());
    await waitFor('Alice synced', () => alice.synced, { timeoutMs: 20_000 });
    const text = alice.doc.getText('codemirror');
    text.insert(0, 'hello cruel world');
    text.delete(6, 6); // "hello world": the document has a deletion
    await waitFor("Alice's edits are stored", async () => (await storedText()) === 'hello world', { timeoutMs: 10_000 });

    const refusedBefore = await readOnlyRefusals();
    const ignoredBefore = await ignored();
    vic = stockProvider(cluster.gateways[1], await viewerJoinToken('vic-noop'));
    hp = hocuspocus(cluster.gateways[1], await viewerJoinToken('hana-noop'));
    await waitFor('both viewers synced', () => vic.synced && hp.isSynced, { timeoutMs: 20_000 });
    expect(vic.doc.getText('codemirror').toString()).toBe('hello world');
    expect(hp.document.getText('codemirror').toString()).toBe('hello world');
    // Each answered the server's step 1 with its delete set: ignored, not refused.
    await waitFor('both step 2 answers ignored', async () => (await ignored()) >= ignoredBefore + 2, { timeoutMs: 10_000 });
    expect(await readOnlyRefusals()).toBe(refusedBefore);
    // Hocuspocus was answered SyncStatus(true): nothing of its own is pending.
    expect(hp.hasUnsyncedChanges).toBe(false);
  }, 120_000);

  it('a viewer joining after more deletions (delivered to gateway 2, not read again) is still a no-op', async () => {
    const text = alice.doc.getText('codemirror');
    text.delete(0, 6); // "world"
    text.insert(5, '!');
    await waitFor('the viewers see it', () => vic.doc.getText('codemirror').toString() === 'world!' && hp.document.getText('codemirror').toString() === 'world!', { timeoutMs: 10_000 });
    const refusedBefore = await readOnlyRefusals();
    const ignoredBefore = await ignored();
    const late = stockProvider(cluster.gateways[1], await viewerJoinToken('lee-noop'));
    await waitFor('the late viewer synced', () => late.synced, { timeoutMs: 20_000 });
    expect(late.doc.getText('codemirror').toString()).toBe('world!');
    await waitFor('its step 2 answer ignored', async () => (await ignored()) >= ignoredBefore + 1, { timeoutMs: 10_000 });
    expect(await readOnlyRefusals()).toBe(refusedBefore);
  }, 60_000);

  it("a viewer's real edits — typed, or a deletion only — are still refused and never stored", async () => {
    // y-websocket reports y-protocols' permission-denied message with console.warn.
    const warned = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    cleanups.push(() => warned.mockRestore());
    const refusedBefore = await readOnlyRefusals();
    vic.doc.getText('codemirror').insert(0, 'VIEWER-TYPED ');
    await waitFor('the typed edit is refused', async () => (await readOnlyRefusals()) >= refusedBefore + 1, { timeoutMs: 10_000 });
    hp.document.getText('codemirror').delete(0, 5); // a deletion of stored text, no structs
    await waitFor('the deletion is refused', async () => (await readOnlyRefusals()) >= refusedBefore + 2, { timeoutMs: 10_000 });
    expect(hp.hasUnsyncedChanges).toBe(true);

    alice.doc.getText('codemirror').insert(0, 'alice-after ');
    await waitFor("Alice's edit is stored", async () => (await storedText()).startsWith('alice-after'), { timeoutMs: 10_000 });
    const stored = await storedText();
    expect(stored).toBe('alice-after world!');
    expect(alice.doc.getText('codemirror').toString()).toBe('alice-after world!');
    expect(vic.wsconnected).toBe(true);
  }, 60_000);

  it('a connection demoted after its sync (no read-only sync on the gateway yet) has its no-op ignored, its deletion refused', async () => {
    const DOC2 = 'notes/demoted noop.md';
    const editor = stockProvider(cluster.gateways[0], await people.alice.joinToken(), DOC2);
    await waitFor('Alice synced on the second document', () => editor.synced, { timeoutMs: 20_000 });
    const text = editor.doc.getText('codemirror');
    text.insert(0, 'keep this, drop that');
    text.delete(9, 11); // "keep this"
    // Bob (an editor) subscribes over Socket.IO on gateway 2, then is demoted: gateway 2 holds no delete set of it.
    const bob = new ChorusClient({ url: cluster.gateways[1], token: people.bob.token, peerId: 'bob-noop' });
    cleanups.unshift(() => bob.close());
    await bob.connect();
    const session = bob.session(people.sessionId);
    const roles: string[] = [];
    session.on('event', (e) => {
      if (e.kind === 'session_event' && e.message.event_type === 'role_changed') roles.push(JSON.stringify(e.message.payload));
    });
    await session.join();
    await waitFor("Alice's edits are stored", async () => {
      const pg = new Client({ connectionString: cluster.db.url });
      await pg.connect();
      try {
        return (await pg.query(`SELECT 1 FROM yjs_updates WHERE session_id = $1 AND doc_id = $2`, [people.sessionId, DOC2])).rowCount === 2;
      } finally {
        await pg.end();
      }
    }, { timeoutMs: 10_000 });
    await bob.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC2, message: 'AAABAA==' });
    const demoted = await new Api(cluster.gateways[0]).request('PATCH', `/api/v1/collaboration/sessions/${people.sessionId}/participants/bob-viewernoop`, { token: people.alice.token, body: { role: 'viewer' } });
    expect(demoted.status).toBe(200);
    await waitFor('gateway 2 delivered the demotion', () => roles.some((r) => r.includes('"to":"viewer"')), { timeoutMs: 10_000 });

    const refusedBefore = await readOnlyRefusals();
    const ignoredBefore = await ignored();
    // The document's whole delete set and nothing else: a no-op (gateway 2 reads the state once to know it).
    const noop = Y.encodeStateAsUpdate(editor.doc, Y.encodeStateVector(editor.doc));
    expect(Y.parseUpdateMeta(noop).to.size).toBe(0);
    expect(await bob.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC2, message: updateMessage(noop) })).toMatchObject({ seq: null });
    expect(await ignored()).toBe(ignoredBefore + 1);
    // The whole stored state (structs the document has, its deletions): a no-op as well.
    expect(await bob.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC2, message: updateMessage(Y.encodeStateAsUpdate(editor.doc)) })).toMatchObject({ seq: null });
    expect(await ignored()).toBe(ignoredBefore + 2);
    expect(await readOnlyRefusals()).toBe(refusedBefore);
    // A deletion of stored text (no structs): an edit, refused.
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(editor.doc));
    const before = Y.encodeStateVector(copy);
    copy.getText('codemirror').delete(0, 5);
    const deletion = Y.encodeStateAsUpdate(copy, before);
    await expect(bob.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC2, message: updateMessage(deletion) })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await readOnlyRefusals()).toBe(refusedBefore + 1);
    // A typed edit on top of the stored state: refused.
    copy.getText('codemirror').insert(0, 'TYPED');
    await expect(bob.request('yjs_sync', { session_id: people.sessionId, doc_id: DOC2, message: updateMessage(Y.encodeStateAsUpdate(copy)) })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await readOnlyRefusals()).toBe(refusedBefore + 2);
    copy.destroy();
    expect(text.toString()).toBe('keep this');
  }, 60_000);
});
