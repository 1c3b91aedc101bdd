import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { waitFor } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { Api, startTestStack, type TestStack } from './support/stack';

// docs/yjs.md "Close codes", with an unmodified y-websocket 3.x WebsocketProvider (it takes 4400–4499 as final and
// reconnects after anything else): rate limited (4529), it reconnects — refused 429 at the upgrade while its user is
// over the budget, so it backs off — resyncs, and nothing it typed is lost; a malformed message (1007) is refused
// and the honest provider carries on after its resync; removed from the session (4403), it stops for good.

const DOC = 'notes/close-codes.md';
const LABEL = 'yjs-close';
let stack: TestStack;
let people: People;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  stack = await startTestStack('yjs_close_codes', { redis: true });
  people = await setUpSession(stack.url, LABEL);
}, 60_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await stack?.stop();
});

interface Watched {
  readonly provider: WebsocketProvider;
  /** The close codes of its connections, in order (y-websocket's `connection-close`). */
  readonly closes: number[];
  /** Its terminal close (y-websocket's `closed`: it will not reconnect), if any. */
  final: { code: number; reason: string } | undefined;
}

function stockProvider(joinToken: string): Watched {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(stack.url.replace('http', 'ws') + '/yjs', people.sessionId + '/' + encodeURIComponent(DOC), doc, {
    params: { join_token: joinToken },
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  const watched: Watched = { provider, closes: [], final: undefined };
  provider.on('connection-close', (event) => void (event && watched.closes.push(event.code)));
  provider.on('closed', (event) => void (watched.final = event));
  cleanups.push(() => (provider.destroy(), doc.destroy()));
  return watched;
}

const text = (w: Watched) => w.provider.doc.getText('t').toString();
const path = (joinToken: string) => `${stack.url.replace('http', 'ws')}/yjs/${people.sessionId}/${encodeURIComponent(DOC)}?join_token=${joinToken}`;

/**
 * Opens a raw socket on the path, sends sync step 1 then `count` query-awareness messages; resolves at its close
 * (or at a deadline: the budgets are fixed windows, and a burst split across two of them may stay under both).
 */
function burst(joinToken: string, count: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(path(joinToken));
    const deadline = setTimeout(() => ws.close(), 5_000);
    ws.on('open', () => {
      ws.send(Buffer.from([0, 0, 1, 0]));
      for (let i = 0; i < count; i++) ws.send(Buffer.from([3]));
    });
    ws.on('close', (code) => (clearTimeout(deadline), resolve(code)));
    ws.on('unexpected-response', (_req, res) => (clearTimeout(deadline), resolve(res.statusCode ?? 0)));
    ws.on('error', (err) => (err.message.includes('Unexpected server response') ? undefined : reject(err)));
  });
}

/** The status an upgrade is refused with, or 101 when it opens (then closed at once). */
function upgrade(joinToken: string): Promise<number> {
  return new Promise<number>((resolve) => {
    const ws = new WebSocket(path(joinToken));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => (ws.close(), resolve(101)));
    ws.on('error', () => undefined);
  });
}

describe('close codes of /yjs/ and what a stock y-websocket provider does with them', () => {
  let alice: Watched;
  let bob: Watched;

  it('rate limited (4529): the provider reconnects, backs off while its user is over the budget, and nothing is lost', async () => {
    alice = stockProvider(await people.alice.joinToken());
    bob = stockProvider(await people.bob.joinToken());
    await waitFor('both synced', () => alice.provider.synced && bob.provider.synced, { timeoutMs: 10_000 });
    // 200 transactions at once: 200 update messages, over the 60 per second a connection may send (in either of two
    // windows, should they straddle one's end).
    const t = alice.provider.doc.getText('t');
    for (let i = 0; i < 200; i++) t.insert(t.length, String.fromCodePoint(0x4e00 + i));
    await waitFor('the socket is closed as rate limited', () => alice.closes.includes(4529), { timeoutMs: 10_000 });
    await waitFor('it reconnected, resynced, and every character reached Bob', () => alice.provider.synced && [...text(bob)].length === 200 && text(bob) === text(alice), { timeoutMs: 20_000, intervalMs: 50 });
    expect(alice.final).toBeUndefined();

    // Over the user's budget (120 a second across connections), a new connection is refused 429 before the
    // upgrade — a failed attempt for the provider, whose backoff then grows — until the window ends.
    const token = await people.alice.joinToken();
    let refused = 0;
    await waitFor(
      "an upgrade refused 429 while Alice's user is over the budget",
      async () => {
        await Promise.all([burst(token, 130), burst(token, 130)]);
        return (refused = await upgrade(token)) === 429;
      },
      { timeoutMs: 20_000, intervalMs: 10 },
    );
    expect(refused).toBe(429);
    const metrics = await (await fetch(`${stack.adminUrl}/metrics`)).text();
    expect(Number(/^chorus_yjs_path_refused_total\{[^}]*reason="RATE_LIMITED"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    await waitFor('the window over, a connection opens again', async () => (await upgrade(token)) === 101, { timeoutMs: 10_000, intervalMs: 200 });
    t.insert(0, 'after ');
    await waitFor('the provider types on', () => text(bob).startsWith('after '), { timeoutMs: 20_000, intervalMs: 50 });
    expect(alice.final).toBeUndefined();
  }, 90_000);

  it('a malformed message (1007) is refused, nothing stored; the honest provider reconnects and carries on', async () => {
    await waitFor('connected and synced', () => alice.provider.wsconnected && alice.provider.synced, { timeoutMs: 20_000 });
    const before = alice.closes.length;
    alice.provider.ws?.send(new Uint8Array([9, 9, 9]));
    await waitFor('closed as malformed', () => alice.closes.slice(before).includes(1007), { timeoutMs: 10_000 });
    alice.provider.doc.getText('t').insert(0, 'still ');
    await waitFor('its next edit reaches Bob', () => alice.provider.synced && text(bob) === text(alice) && text(bob).startsWith('still '), { timeoutMs: 20_000, intervalMs: 50 });
    expect(alice.final).toBeUndefined();
  }, 60_000);

  it('removed from the session (4403), the provider stops for good', async () => {
    const api = new Api(stack.url);
    expect((await api.request('DELETE', `/api/v1/collaboration/sessions/${people.sessionId}/participants/bob-${LABEL}`, { token: people.alice.token })).status).toBe(200);
    await waitFor("Bob's provider is closed for good", () => bob.final !== undefined, { timeoutMs: 10_000 });
    expect(bob.final).toEqual({ code: 4403, reason: 'removed' });
    // y-websocket's own flag: the reconnect it scheduled at the close does nothing.
    expect(bob.provider.shouldConnect).toBe(false);
    // Alice types on and it is stored; Bob's provider has not opened another socket, nor seen her edit.
    alice.provider.doc.getText('t').insert(0, 'last ');
    await waitFor("Alice's edit is stored", async () => {
      const res = await fetch(`${stack.url}/api/v1/collaboration/sessions/${people.sessionId}/yjs-documents/${encodeURIComponent(DOC)}`, { headers: { authorization: `Bearer ${people.alice.token}` } });
      const state = (await res.json()) as { update: string };
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Buffer.from(state.update, 'base64'));
      return doc.getText('t').toString().startsWith('last ');
    });
    expect(bob.provider.ws).toBeNull();
    expect(bob.closes).toEqual([4403]);
    expect(text(bob)).not.toContain('last ');
  }, 60_000);
});
