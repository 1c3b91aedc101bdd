import { ChorusClient } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { Api } from '../e2e/support/stack';
import { createSession, inviteLink, sendChat, sessionReady, signIn, waitForApp } from './support/app';
import type { BrowserUser } from './support/browser';
import { appCluster } from './support/app-cluster';

// Issues 12 and 13 in Chromium: the app connected over /ws with the browser's own WebSocket (`?transport=ws`)
// on gateway 1 and over Socket.IO on gateway 2; an agent (the SDK, Socket.IO, gateway 2) publishes diagnostics
// and a streamed ai-response, which both tabs' channels panels show live. A raw `new WebSocket('/ws')` in the
// page speaks the seed frames (auth frame, id-correlated subscribe without session_id) and gets the events of a
// Socket.IO publisher on the other gateway. Then gateway 1 is killed with SIGKILL: the /ws tab reconnects through
// gateway 2 and the events published meanwhile appear once each, in order.

// Chromium logs a WebSocket it could not (re)connect as a console error: expected while gateway 1 is down.
const NETWORK_CUT = /^console: WebSocket connection to '.*' failed: .*(ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET)/;
const app = appCluster('browser_ws_channels', { tolerate: NETWORK_CUT });
type Shown = Array<{ channel: string; seq: number; text: string }>;
const shown = (user: BrowserUser) => user.page.evaluate(() => (globalThis as unknown as { chorusDebug: { channelEvents: () => Shown } }).chorusDebug.channelEvents());
const transport = (user: BrowserUser) => user.page.evaluate(() => (globalThis as unknown as { chorusDebug: { transport: () => string | null } }).chorusDebug.transport());
const diagnostic = (i: number) => ({ file: 'src/parser.rs', diagnostics: [{ range: { start: { line: i, character: 0 }, end: { line: i, character: 3 } }, severity: 'warning' as const, message: `w${i}`, source: 'clippy' }] });

it('the app over /ws (native WebSocket) and Socket.IO shows channel events live, raw WebSocket frames too, and recovers after a kill -9', async () => {
  const [g1, g2] = app.cluster.gateways;
  const alice = await app.person();
  const bob = await app.person();
  await signIn(alice.page, `${g1}/?transport=ws`, [g1, g2], 'Alice ws');
  const sessionId = await createSession(alice.page, 'browser ws channels');
  expect(await transport(alice)).toBe('websocket');
  expect(await alice.page.getByTestId('conn-state').getAttribute('data-transport')).toBe('websocket');
  const link = await inviteLink(alice.page);
  await signIn(bob.page, link.replace(g1, g2), [g2, g1], 'Bob sio');
  await sessionReady(bob.page);
  expect(await transport(bob)).toBe('socket.io');

  // Chat across transports and gateways.
  await sendChat(alice.page, 'hello from a native WebSocket');
  await waitForApp(bob.page, 'Bob to see the /ws chat', (s) => s.chat.some((m) => m.message === 'hello from a native WebSocket'));

  // An agent on gateway 2 (the SDK over Socket.IO) publishes; both panels subscribed to diagnostics and ai-response.
  const api = new Api(g2);
  const aliceToken = await alice.page.evaluate(() => (JSON.parse((globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('chorus.auth') ?? '{}') as { token: string }).token);
  const agentToken = await api.devToken('agent:lint-ws', 'Linter', 'agent');
  const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${sessionId}/invite`, { token: aliceToken, body: { role: 'agent' } });
  expect((await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: agentToken, body: {} })).status).toBe(200);
  const agent = new ChorusClient({ url: g2, token: agentToken, peerId: 'lint-1', onWarning: () => undefined });
  app.keep(agent);
  const a = agent.session(sessionId);
  await a.join();
  await a.channels.publish('diagnostics', diagnostic(1));
  await a.channels.publish('ai-response', { id: 'ans-1', chunk: 'The parser ', index: 0, finished: false });
  await a.channels.publish('ai-response', { id: 'ans-1', chunk: 'is fine.', index: 1, finished: true });
  for (const user of [alice, bob]) {
    await user.page.locator('.channel-events li[data-channel="diagnostics"]', { hasText: 'src/parser.rs: warning 2:1 w1' }).waitFor({ timeout: 20_000 });
    await user.page.locator('.channel-events li[data-answer="ans-1"][data-finished="true"]', { hasText: 'The parser is fine.' }).waitFor({ timeout: 20_000 });
  }

  // Raw frames from the page's own WebSocket: auth first frame, join, the Cluso subscribe without session_id.
  const raw = alice.page.evaluate(
    async ({ sessionId: sid, token }) => {
      const join = await fetch(`/api/v1/collaboration/sessions/${sid}/join`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
      const { join_token } = (await join.json()) as { join_token: string };
      const ws = new WebSocket(`${(globalThis as unknown as { location: { origin: string } }).location.origin.replace(/^http/, 'ws')}/ws`);
      const frames: Array<Record<string, unknown>> = [];
      const next = (pred: (f: Record<string, unknown>) => boolean) =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const found = frames.find(pred);
          if (found) return resolve(found);
          const timer = setTimeout(() => reject(new Error(`no matching frame in ${JSON.stringify(frames)}`)), 20_000);
          ws.addEventListener('message', () => {
            const f = frames.find(pred);
            if (f) {
              clearTimeout(timer);
              resolve(f);
            }
          });
        });
      ws.addEventListener('message', (e) => frames.push(JSON.parse(String(e.data)) as Record<string, unknown>));
      await new Promise((resolve) => ws.addEventListener('open', resolve));
      ws.send(JSON.stringify({ type: 'auth', id: 'a-1', token }));
      const hello = await next((f) => f.id === 'a-1');
      ws.send(JSON.stringify({ id: 'req-0', type: 'join', session_id: sid, peer_id: 'alice-raw', join_token }));
      await next((f) => f.id === 'req-0');
      ws.send(JSON.stringify({ id: 'req-1', type: 'subscribe', channel: 'files' }));
      const subscribed = await next((f) => f.id === 'req-1');
      (globalThis as unknown as { rawReady: boolean }).rawReady = true;
      const event = await next((f) => f.type === 'event' && f.channel === 'files');
      ws.close();
      return { hello: hello.type, subscribed, event };
    },
    { sessionId, token: aliceToken },
  );
  await waitFor('the raw WebSocket subscribed', () => alice.page.evaluate(() => (globalThis as unknown as { rawReady?: boolean }).rawReady === true), { timeoutMs: 30_000 });
  await a.channels.publish('files', { file: 'src/parser.rs', event: 'change', timestamp: 1_795_312_800_000 });
  const frames = await raw;
  expect(frames.hello).toBe('hello');
  expect(frames.subscribed).toMatchObject({ type: 'subscribed', id: 'req-1', session_id: sessionId, channel: 'files', recovered: true });
  expect(frames.event).toMatchObject({ type: 'event', session_id: sessionId, channel: 'files', data: { file: 'src/parser.rs', event: 'change' }, publisher: { user_id: 'agent:lint-ws', peer_id: 'lint-1' } });

  // kill -9 the /ws tab's gateway; 10 diagnostics meanwhile; the tab reconnects through gateway 2 and shows all once.
  await app.cluster.processes.get('gateway-1')?.stop('SIGKILL');
  for (let i = 2; i <= 11; i++) await a.channels.publish('diagnostics', diagnostic(i));
  await waitForApp(alice.page, 'Alice reconnected through gateway 2', (s) => s.connection === 'connected' && s.url === g2 && s.sessionState === 'joined', 40_000);
  const all = await waitFor(
    'every diagnostic in the /ws tab',
    async () => {
      const list = (await shown(alice)).filter((e) => e.channel === 'diagnostics');
      return list.length >= 11 ? list : undefined;
    },
    { timeoutMs: 30_000 },
  );
  expect(all.map((e) => e.text)).toEqual(Array.from({ length: 11 }, (_, i) => `src/parser.rs: warning ${i + 2}:1 w${i + 1}`));
  expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  expect(await transport(alice)).toBe('websocket');
}, 180_000);
