import WebSocket from 'ws';
import { ChorusClient, ClientClosedError, type ChannelEvent, type ChannelGap, type ChatMessage } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { WsClient } from './support/ws-client';

// The SDK over /ws and Socket.IO together, on two gateways (separate processes, real Postgres and Redis), with
// session channels: a /ws client (the `ws` package) on gateway 1, a Socket.IO client and a /ws client with a
// single-use ticket (Node's own WebSocket) on gateway 2. Channel events and chat cross transports and gateways;
// a kill -9 of the /ws client's gateway makes it reconnect through the other one, rejoin and resubscribe with
// `since`: the 50 events published meanwhile arrive exactly once, in order. Beyond the channel's retention it is
// told (`gap`), never silently.

const HISTORY = 60;
let cluster: ProcessCluster;
let people: People;
const clients: ChorusClient[] = [];
const track = (c: ChorusClient) => (clients.push(c), c);
const diagnostic = (i: number) => ({ file: 'src/parser.rs', diagnostics: [{ range: { start: { line: i, character: 0 }, end: { line: i, character: 4 } }, severity: 'error' as const, message: `problem ${i}`, source: 'rustc' }] });

beforeAll(async () => {
  cluster = await startProcessCluster('sdk_ws', { gateways: 2, replicas: 1, extraEnv: { CHANNEL_HISTORY_SIZE: String(HISTORY) } });
  people = await setUpSession(cluster.gateways[0], 'sdkws');
}, 180_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

it('channels and chat across transports and gateways; a kill -9 of the /ws client’s gateway loses and doubles nothing', async () => {
  const alice = track(new ChorusClient({ url: cluster.gateways, token: people.alice.token, peerId: 'alice-ws', transport: { kind: 'websocket', WebSocket }, heartbeat: { intervalMs: 500, timeoutMs: 2_000 }, onWarning: () => undefined }));
  const bob = track(new ChorusClient({ url: cluster.gateways[1], token: people.bob.token, peerId: 'bob-sio', onWarning: () => undefined }));
  const ticketed = track(new ChorusClient({ url: cluster.gateways[1], token: people.bob.token, peerId: 'bob-ticket', transport: { kind: 'websocket', auth: 'ticket' }, onWarning: () => undefined }));
  expect(alice.transport).toBe('websocket');
  expect((await alice.connect()).node_id).toBe('gateway-1');
  expect((await ticketed.connect()).node_id).toBe('gateway-2');
  const a = alice.session(people.sessionId);
  const b = bob.session(people.sessionId);
  const t = ticketed.session(people.sessionId);
  await Promise.all([a.join(), b.join(), t.join()]);

  // Typed subscriptions: diagnostics for alice, a custom channel for the ticket client.
  const seen: Array<ChannelEvent<'diagnostics'>> = [];
  const resumes: boolean[] = [];
  const diagnostics = await a.channels.subscribe('diagnostics', { onEvent: (e) => seen.push(e) });
  diagnostics.on('subscribed', (s) => resumes.push(s.resumed));
  const builds: unknown[] = [];
  await t.channels.subscribe('x-build', { onEvent: (e) => builds.push(e.data) });
  expect(await a.channels.subscribe('diagnostics')).toBe(diagnostics); // idempotent

  for (let i = 1; i <= 3; i++) await b.channels.publish('diagnostics', diagnostic(i));
  await b.channels.publish('x-build', { step: 'link', progress: 0.8 });
  await waitFor('alice gets 3 diagnostics over /ws', () => seen.length === 3);
  await waitFor('the ticket client gets the build event', () => builds.length === 1);
  expect(seen.map((e) => e.data.diagnostics[0].message)).toEqual(['problem 1', 'problem 2', 'problem 3']);
  expect(seen[0].publisher).toEqual({ user_id: 'bob-sdkws', peer_id: 'bob-sio' });
  expect(builds).toEqual([{ step: 'link', progress: 0.8 }]);

  // Chat both ways across transports, once each.
  const bobChats: ChatMessage[] = [];
  const aliceChats: ChatMessage[] = [];
  b.on('chat', (m) => bobChats.push(m));
  a.on('chat', (m) => aliceChats.push(m));
  await a.sendChat('from /ws');
  await b.sendChat('from socket.io');
  await waitFor('both chats both ways', () => bobChats.some((m) => m.message === 'from /ws') && aliceChats.some((m) => m.message === 'from socket.io'));

  // The typed-protocol seed's frame, verbatim with the `ws` package: `channel_id` for `channel`, session_id left
  // out (the connection is in one session), answered with the same id; two different names are refused.
  const seed = await WsClient.connect(cluster.gateways[1], people.bob.token);
  expect(await seed.request({ id: 'req-0', type: 'join', session_id: people.sessionId, peer_id: 'bob-seed', join_token: await people.bob.joinToken() })).toMatchObject({ type: 'joined' });
  expect(await seed.request({ id: 'req-123', type: 'subscribe', channel_id: 'git' })).toMatchObject({ type: 'subscribed', id: 'req-123', session_id: people.sessionId, channel: 'git' });
  expect(await seed.request({ id: 'req-124', type: 'subscribe', channel: 'search', channel_id: 'files' })).toMatchObject({ type: 'error', id: 'req-124', code: 'VALIDATION_ERROR', field: 'channel_id' });
  await b.channels.publish('git', { type: 'commit', message: 'Fix the parser' });
  expect(await seed.next((f) => f.type === 'event' && f.channel === 'git')).toMatchObject({ data: { type: 'commit', message: 'Fix the parser' } });
  seed.close();

  // A viewer-free check of authorization through the SDK: ai-response is for agents only.
  await expect(b.channels.publish('ai-response', { id: 'x', chunk: 'no', index: 0, finished: false })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });

  // kill -9 alice's gateway; 50 diagnostics are published meanwhile from the other one.
  const lost = new Promise<string>((resolve) => alice.once('disconnected', (d) => resolve(d.reason)));
  await cluster.processes.get('gateway-1')?.stop('SIGKILL');
  for (let i = 4; i <= 53; i++) await b.channels.publish('diagnostics', diagnostic(i));
  await lost;
  await waitFor('alice is back, on gateway 2', () => alice.state === 'connected' && alice.hello?.node_id === 'gateway-2', { timeoutMs: 30_000 });
  await waitFor('alice has all 53 diagnostics', () => seen.length >= 53, { timeoutMs: 30_000 });
  expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 53 }, (_, i) => seen[0].seq + i));
  expect(seen.map((e) => e.data.diagnostics[0].message)).toEqual(Array.from({ length: 53 }, (_, i) => `problem ${i + 1}`));
  expect(resumes).toContain(true);
  expect(diagnostics.lastSeq).toBe(seen[52].seq);

  // After the rejoin, live events still arrive once (one more, from the Socket.IO client).
  await b.channels.publish('diagnostics', diagnostic(54));
  await waitFor('the live one after the recovery', () => seen.length === 54);

  // Beyond retention: a stored position older than the history is a gap, never a silent skip.
  for (let i = 0; i < HISTORY + 10; i++) await b.channels.publish('x-build', { step: `s${i}` });
  const resumedClient = track(new ChorusClient({ url: cluster.gateways[1], token: people.alice.token, peerId: 'alice-ws-2', transport: { kind: 'websocket', WebSocket }, onWarning: () => undefined }));
  const r = resumedClient.session(people.sessionId);
  await r.join();
  const gaps: ChannelGap[] = [];
  r.channels.on('gap', (g) => gaps.push(g));
  const late: unknown[] = [];
  const sub = await r.channels.subscribe('x-build', { since: 1, onEvent: (e) => late.push(e.data) });
  expect(gaps).toEqual([{ channel: 'x-build', afterSeq: 1, seq: HISTORY + 11 }]);
  expect(late).toEqual([]);
  expect(sub.lastSeq).toBe(HISTORY + 11);

  // Unsubscribed: nothing more arrives (the ticket client, still subscribed to x-build, shows the event went out).
  await sub.unsubscribe();
  await b.channels.publish('x-build', { step: 'after unsubscribe' });
  await waitFor('the ticket client gets it', () => builds.some((d) => (d as { step?: string }).step === 'after unsubscribe'));
  expect(late).toEqual([]);

  // A refused token over /ws closes for good with UNAUTHENTICATED (4500): no reconnect loop.
  const refused = track(new ChorusClient({ url: cluster.gateways[1], token: 'not-a-token', transport: { kind: 'websocket', WebSocket }, onWarning: () => undefined }));
  const closed = new Promise<{ reason: string; code?: string; notice?: number }>((resolve) => refused.once('closed', (c) => resolve({ reason: c.reason, code: c.error?.code, notice: c.notice?.code })));
  await expect(refused.connect()).rejects.toBeInstanceOf(ClientClosedError);
  expect(await closed).toMatchObject({ code: 'UNAUTHENTICATED', notice: 4500 });
}, 120_000);
