import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ChorusClient, ChorusRest, selectionToUtf16, type ChorusDocument, type ChorusSession } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { appState, caretTo, createSession, inviteLink, sendChat, sessionReady, signIn, tokensOf, typeTokens, waitForApp, type AppState } from './support/app';
import type { BrowserUser } from './support/browser';
import { OUTPUT_DIR } from './support/web-build';
import { appCluster } from './support/app-cluster';

// The browser app in real Chromium (Debian's, driven by playwright-core) against the distributed topology: two
// gateway processes serving the app and the API, one replica of each service, the real Postgres and Redis. Two
// people, each in their own browser context on their own gateway, edit one file through the UI (the keyboard
// into CodeMirror), chat, go offline, and lose their gateway to kill -9. The server's text (read back by a third,
// Node SDK client) is the reference. The kill -9 test goes last: it takes gateway-1 down for good.

const FILE = 'main.txt';
const app = appCluster('browser_app');
/** Chromium's own log line for a WebSocket it could not open: expected while a test cuts the network. */
const NETWORK_CUT = /^console: WebSocket connection to '.*' failed: .*(ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET)/;

/**
 * Alice at the start of the file, Bob at its end, a line apart: each types at a caret the other's inserts never
 * reach, so each person's tokens stay contiguous and in order, and the final text shows every keystroke.
 */
async function carets(p: Pair): Promise<void> {
  await caretTo(p.alice.page, 'start');
  await p.alice.page.keyboard.press('Enter');
  await waitForApp(p.bob.page, 'Bob to see Alice\'s new line', (s) => s.editorText === '\n');
  await caretTo(p.alice.page, 'start');
  await caretTo(p.bob.page, 'end');
}

/** The text is the two people's tokens and the one new line, nothing else. */
function onlyTokens(text: string): string {
  return text.replace(/[AB]\d+\./g, '');
}

interface Pair {
  alice: BrowserUser;
  bob: BrowserUser;
  sessionId: string;
  /** A Node SDK client in the same session: reads the server's text and presence. */
  observer: { session: ChorusSession; doc: ChorusDocument };
}

/**
 * Alice signs in on the app served by `aliceGateways[0]` and creates a session; Bob opens her invite link on the
 * app served by `bobGateways[0]`, signs in and joins. Both end up in the editor of the default file.
 */
async function pair(label: string, aliceGateways: string[], bobGateways: string[]): Promise<Pair> {
  const alice = await app.person();
  const bob = await app.person();
  await signIn(alice.page, aliceGateways[0], aliceGateways, `Alice ${label}`);
  const sessionId = await createSession(alice.page, `browser ${label}`);
  const link = await inviteLink(alice.page);
  expect(link).toMatch(new RegExp(`^${aliceGateways[0]}/join/`));
  // Bob opens the link on his gateway's copy of the app.
  await signIn(bob.page, link.replace(aliceGateways[0], bobGateways[0]), bobGateways, `Bob ${label}`);
  await sessionReady(bob.page);
  expect(await bob.page.getByTestId('session-id').textContent()).toBe(sessionId);

  const observerToken = await ChorusRest.devToken(app.cluster.gateways[1], { user_id: `observer-${label}`, display_name: 'Observer', kind: 'agent' });
  const observer = new ChorusClient({ url: [app.cluster.gateways[1]], token: observerToken, onWarning: () => undefined });
  app.keep(observer);
  await observer.connect();
  const code = (await alice.page.getByTestId('invite-link').getAttribute('data-code')) as string;
  await observer.rest.redeemInvite(code);
  const session = observer.session(sessionId);
  await session.join();
  const doc = await session.document(FILE);
  return { alice, bob, sessionId, observer: { session, doc } };
}

/** Both pages settled: nothing pending, one version, editor = SDK text = the server's text at that version. */
async function converged(p: Pair, timeoutMs = 30_000): Promise<string> {
  const settled = (s: AppState) => s.pending === false && s.connection === 'connected' && s.editorText === s.docText;
  let last: AppState[] = [];
  const [a, b] = await waitFor(
    'both pages settled at one version',
    async () => {
      last = await Promise.all([appState(p.alice.page), appState(p.bob.page)]);
      return last.every(settled) && last[0].version === last[1].version ? last : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last.map((s) => ({ ...s, editorText: s.editorText?.length, docText: s.docText?.length })))}`);
  });
  const server = await p.observer.doc.at(b.version as number);
  expect(a.editorText).toBe(server.text);
  expect(b.editorText).toBe(server.text);
  return server.text;
}

/**
 * Each page draws the other's cursor where the server's presence has it, which is where that person's caret
 * really is. First both move their caret (left, then right again: a real move, reported once their edits are
 * acknowledged).
 */
async function cursorsMatchServer(p: Pair, text: string): Promise<void> {
  for (const page of [p.alice.page, p.bob.page]) {
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowRight');
  }
  const [alice, bob] = [await appState(p.alice.page), await appState(p.bob.page)];
  for (const [viewer, other] of [
    [p.alice.page, bob],
    [p.bob.page, alice],
  ] as Array<[Page, AppState]>) {
    const id = other.peerId as string;
    const truth = other.ownSelection as { anchor: number; head: number };
    const server = await waitFor(`the server to have ${id}'s caret at ${JSON.stringify(truth)}`, async () => {
      const view = (await p.observer.session.refreshPresence()).find((v) => v.peer_id === id);
      const at = view?.selection ? selectionToUtf16(text, view.selection) : null;
      return at && at.anchor === truth.anchor && at.head === truth.head ? at : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    await waitForApp(viewer, `${id}'s cursor drawn at ${JSON.stringify(server)}, where the server has it`, (s) => {
      const drawn = s.drawnCursors.find((c) => c.peerId === id);
      return drawn !== undefined && drawn.anchor === server.anchor && drawn.head === server.head;
    }, 10_000);
  }
}

describe('the browser app in Chromium on two gateways', () => {
  it('is served by the gateway (WEB_APP): index.html revalidated, hashed assets cached for a year, the API and sockets untouched', async () => {
    const base = app.cluster.gateways[0];
    for (const path of ['/', '/join/some-invite-token', `/s/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`]) {
      const res = await fetch(`${base}${path}`);
      expect({ path, status: res.status, type: res.headers.get('content-type'), cache: res.headers.get('cache-control'), referrer: res.headers.get('referrer-policy') }).toEqual({
        path,
        status: 200,
        type: expect.stringContaining('text/html'),
        cache: 'no-cache',
        referrer: 'no-referrer',
      });
    }
    const html = await (await fetch(base)).text();
    const asset = /\/assets\/index-[\w-]+\.js/.exec(html)?.[0];
    expect(asset).toBeDefined();
    const js = await fetch(`${base}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // Everything else is the API's, as before: JSON errors, health, the Socket.IO endpoint.
    const missing = await fetch(`${base}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/json');
    expect((await fetch(`${base}/nothing-here`)).status).toBe(404);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const unauthenticated = await fetch(`${base}/api/v1/collaboration/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unauthenticated.status).toBe(401);
    expect((await fetch(`${base}/socket.io/?EIO=4&transport=polling`)).headers.get('content-type')).not.toContain('text/html');
  });

  it('two people type concurrently for 20 s on two gateways: both converge to the server\'s text, each sees the other\'s cursor where the server has it, and a lock shows', async () => {
    const [g1, g2] = app.cluster.gateways;
    const p = await pair('typing', [g1, g2], [g2, g1]);
    await carets(p);
    const end = Date.now() + 20_000;
    const [typedA, typedB] = await Promise.all([typeTokens(p.alice.page, 'A', () => Date.now() > end), typeTokens(p.bob.page, 'B', () => Date.now() > end)]);
    const text = await converged(p);
    // Every keystroke exactly once, each person's tokens in the order typed.
    expect(tokensOf(text, 'A')).toEqual(typedA);
    expect(tokensOf(text, 'B')).toEqual(typedB);
    expect(onlyTokens(text)).toBe('\n');
    expect(typedA.length).toBeGreaterThan(20);
    expect(typedB.length).toBeGreaterThan(20);
    // Each on a different gateway.
    expect((await appState(p.alice.page)).url).toBe(g1);
    expect((await appState(p.bob.page)).url).toBe(g2);
    await cursorsMatchServer(p, text);

    // The screenshot of the app with two peers' cursors: Bob's caret, and the observer (an agent) selecting the
    // first token; written on every run.
    await p.observer.session.setPresence({ doc_id: FILE, active_file: FILE, selection: { anchor: 0, head: typedA[0].length } });
    await waitForApp(p.alice.page, 'two remote cursors drawn', (s) => s.drawnCursors.length === 2, 10_000);
    await p.alice.page.locator('.remote-caret').nth(1).waitFor({ timeout: 5_000 });
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await p.alice.page.screenshot({ path: join(OUTPUT_DIR, 'two-peers.png') });
    await p.bob.page.screenshot({ path: join(OUTPUT_DIR, 'two-peers-bob.png') });

    // Lock indicators: Alice locks the file; Bob's lock bar and file list say so and his editor is read-only.
    await p.alice.page.getByTestId('lock-bar').getByRole('button', { name: 'Lock' }).click();
    await p.alice.page.locator('[data-testid=lock-bar][data-locked=mine]').waitFor({ timeout: 10_000 });
    await p.bob.page.locator('[data-testid=lock-bar][data-locked=other]').waitFor({ timeout: 10_000 });
    await p.bob.page.locator(`[data-file="${FILE}"][data-locked]`).waitFor({ timeout: 10_000 });
    await p.bob.page.keyboard.type('zzz');
    expect((await appState(p.bob.page)).editorText).toBe(text);
    await p.alice.page.getByTestId('lock-bar').getByRole('button', { name: 'Unlock' }).click();
    await p.bob.page.locator('[data-testid=lock-bar][data-locked=none]').waitFor({ timeout: 10_000 });
  }, 120_000);

  it('a context offline for 10 s keeps typing and chatting: back online, no keystroke lost or doubled, the chat arrives once', async () => {
    const [g1, g2] = app.cluster.gateways;
    const p = await pair('offline', [g1, g2], [g2, g1]);
    await carets(p);
    let bobStop = false;
    const bobTyping = typeTokens(p.bob.page, 'B', () => bobStop);
    const before = await typeTokens(p.alice.page, 'A', (() => {
      const until = Date.now() + 2_000;
      return () => Date.now() > until;
    })());

    app.tolerate(NETWORK_CUT);
    await p.alice.context.setOffline(true);
    const offlineUntil = Date.now() + 10_000;
    let chatted = false;
    const offline = await typeTokens(p.alice.page, 'A', () => Date.now() > offlineUntil, before.length, async () => {
      if (chatted || Date.now() < offlineUntil - 5_000) return;
      chatted = true;
      await sendChat(p.alice.page, 'sent while offline');
    });
    expect(chatted).toBe(true);
    // The connection really was lost (the heartbeat noticed) while Alice typed on.
    const down = await appState(p.alice.page);
    expect(down.connection).not.toBe('connected');
    expect(down.pending).toBe(true);
    await p.alice.context.setOffline(false);

    const after = await typeTokens(p.alice.page, 'A', (() => {
      const until = Date.now() + 2_000;
      return () => Date.now() > until;
    })(), before.length + offline.length);
    bobStop = true;
    const typedB = await bobTyping;
    const text = await converged(p);
    expect(tokensOf(text, 'A')).toEqual([...before, ...offline, ...after]);
    expect(tokensOf(text, 'B')).toEqual(typedB);
    expect(onlyTokens(text)).toBe('\n');

    const once = (s: AppState) => s.chat.filter((m) => m.message === 'sent while offline').length === 1;
    await waitForApp(p.bob.page, 'Bob to see the offline chat', once, 15_000);
    await waitForApp(p.alice.page, 'Alice to see her own chat', once, 15_000);
    const history = await p.observer.session.client.rest.history(p.sessionId, 0);
    expect(history.events.filter((e) => e.type === 'chat_message' && e.payload.message === 'sent while offline')).toHaveLength(1);
    expect((await appState(p.bob.page)).chat.filter((m) => m.message === 'sent while offline')).toHaveLength(1);
  }, 120_000);

  it('kill -9 of the gateway a context is on: it reconnects through the other gateway and recovers', async () => {
    const [g1, g2] = app.cluster.gateways;
    const p = await pair('kill', [g1, g2], [g2, g1]);
    await carets(p);
    expect((await appState(p.alice.page)).url).toBe(g1);
    let stop = false;
    let killed = false;
    let chatted = false;
    const typing = Promise.all([
      typeTokens(p.alice.page, 'A', () => stop, 0, async () => {
        if (!killed || chatted) return;
        chatted = true;
        await sendChat(p.alice.page, 'after the kill');
      }),
      typeTokens(p.bob.page, 'B', () => stop),
    ]);
    await waitForApp(p.bob.page, 'Alice\'s typing to reach Bob', (s) => (s.editorText ?? '').includes('A20.'), 20_000);
    app.tolerate(NETWORK_CUT);
    await app.cluster.processes.get('gateway-1')?.stop('SIGKILL');
    killed = true;
    await waitForApp(p.alice.page, 'Alice reconnected through gateway-2', (s) => s.connection === 'connected' && s.url === g2 && s.sessionState === 'joined', 30_000);
    const more = Date.now() + 3_000;
    await waitForApp(p.alice.page, 'typing on for a while after the reconnect', () => Date.now() > more, 10_000);
    stop = true;
    const [typedA, typedB] = await typing;
    const text = await converged(p);
    expect(tokensOf(text, 'A')).toEqual(typedA);
    expect(tokensOf(text, 'B')).toEqual(typedB);
    expect(onlyTokens(text)).toBe('\n');
    const once = (s: AppState) => s.chat.filter((m) => m.message === 'after the kill').length === 1;
    await waitForApp(p.bob.page, 'Bob to see the chat sent across the kill', once, 15_000);
    await waitForApp(p.alice.page, 'Alice to see her chat once', once, 15_000);
  }, 120_000);
});
