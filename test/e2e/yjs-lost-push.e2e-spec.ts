import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { ChorusClient } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { TypedClient, type Caller, type ConflictApi } from '@chorus/contracts';
import { waitFor } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';

// docs/yjs.md "A push lost with its gateway": an update made durable whose gateway died before pushing it reached
// nobody, and a CRDT shows nothing its author typed after it until it arrives (the yjs-cluster SIGKILL flake).
// Here the update is appended through the conflict service itself (the real transport, no gateway: exactly what a
// gateway killed between the commit and the push leaves behind). The next push's seq shows the hole, or the head of
// a later state read does when nothing follows; the gateway fills it from the stored state, to a stock y-websocket
// provider and an SDK client alike.

const DOC = 'notes/lost.md';
let stack: TestStack;
let people: People;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  stack = await startTestStack('yjs_lost_push', { redis: true });
  people = await setUpSession(stack.url, 'yjs-lost');
}, 60_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await stack?.stop();
});

function stockProvider(joinToken: string, doc = new Y.Doc()): WebsocketProvider {
  const provider = new WebsocketProvider(stack.url.replace('http', 'ws') + '/yjs', people.sessionId + '/' + encodeURIComponent(DOC), doc, {
    params: { join_token: joinToken },
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  cleanups.push(() => (provider.destroy(), doc.destroy()));
  return provider;
}

/** An edit made on a copy of `from` and appended with no gateway in the way: durable, and pushed by no one. */
async function appendUnpushed(conflict: TypedClient<ConflictApi>, from: Y.Doc, text: string): Promise<number> {
  const ghost = new Y.Doc();
  Y.applyUpdate(ghost, Y.encodeStateAsUpdate(from));
  const before = Y.encodeStateVector(ghost);
  ghost.getText('t').insert(0, text);
  const update = Y.encodeStateAsUpdate(ghost, before);
  ghost.destroy();
  const caller: Caller = { user_id: 'alice-yjs-lost', client_id: 'alice-dead-gateway', role: 'owner' };
  const appended = await conflict.call('yjs.append', { caller, payload: { session_id: people.sessionId, doc_id: DOC, update: Buffer.from(update).toString('base64') } });
  expect(appended.duplicate).toBe(false);
  return appended.seq;
}

async function gapFills(): Promise<number> {
  const text = await (await fetch(`${stack.adminUrl}/metrics`)).text();
  return Number(/^chorus_yjs_gap_fills_total\{[^}]*outcome="filled"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
}

it('a durable update that no gateway pushed reaches every subscriber: shown by the next seq, or by a later state read', async () => {
  const conflict = new TypedClient<ConflictApi>(stack.chorus.runtime.transport.client('conflict'));
  cleanups.push(() => conflict.proxy.close());
  const stock = stockProvider(await people.bob.joinToken());
  const sdk = new ChorusClient({ url: stack.url, token: people.alice.token, peerId: 'alice-sdk' });
  cleanups.push(() => sdk.close());
  await sdk.connect();
  const session = sdk.session(people.sessionId);
  await session.join();
  const sdkDoc = new Y.Doc();
  const provider = new YjsProvider(session, DOC, sdkDoc);
  cleanups.push(() => provider.destroy());
  await provider.connect();
  await waitFor('provider synced', () => stock.synced, { timeoutMs: 10_000 });
  stock.doc.getText('t').insert(0, 'a');
  await waitFor('the SDK client has the first edit', () => sdkDoc.getText('t').toString() === 'a', { timeoutMs: 10_000 });

  // Durable, never pushed: then the stock provider types on, and its push (the next seq) shows the hole.
  const lost = await appendUnpushed(conflict, stock.doc, 'LOST ');
  stock.doc.getText('t').insert(stock.doc.getText('t').length, 'b');
  const both = () => [stock.doc, sdkDoc].map((d) => d.getText('t').toString());
  await waitFor('both subscribers get the update no one pushed', () => both().every((t) => t === 'LOST ab'), { timeoutMs: 15_000, intervalMs: 50 });
  expect(await gapFills()).toBeGreaterThanOrEqual(1);

  // Nothing follows the next lost one: a new subscriber's state read (its head) shows the hole to the others.
  const tail = await appendUnpushed(conflict, stock.doc, 'TAIL ');
  expect(tail).toBe(lost + 2);
  const late = stockProvider(await people.alice.joinToken());
  await waitFor('the late provider synced', () => late.synced, { timeoutMs: 10_000 });
  expect(late.doc.getText('t').toString()).toBe('TAIL LOST ab');
  await waitFor('the subscribers already there get it too', () => both().every((t) => t === 'TAIL LOST ab'), { timeoutMs: 15_000, intervalMs: 50 });
}, 60_000);
