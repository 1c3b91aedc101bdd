import type { ServerMessage } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { WsClient } from './support/ws-client';

// Session channels across two gateways (separate processes, real Postgres and Redis): subscribers on both
// gateways get every event of their channel in seq order and nobody else does; a subscriber that disconnects
// and resubscribes with `since` on the other gateway gets exactly what it missed; beyond retention it is told
// `recovered: false`; who may publish is the role matrix's; bad data for a built-in channel is a VALIDATION_ERROR.

const HISTORY = 80;
let cluster: ProcessCluster;
let people: People;
let carol: { token: string; joinToken: () => Promise<string> };
let claude: { token: string; joinToken: () => Promise<string> };
const clients: ChorusClient[] = [];

type ChannelEvent = Extract<ServerMessage, { type: 'event' }>;

async function connect(url: string, token: string): Promise<ChorusClient> {
  const client = await ChorusClient.connect(url, token);
  clients.push(client);
  return client;
}

/** Another participant with `role`, through an invite code of Alice's. */
async function invite(role: 'viewer' | 'agent', userId: string, kind: 'human' | 'agent' = 'human') {
  const api = new Api(cluster.gateways[0]);
  const token = await api.devToken(userId, userId, kind);
  const created = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/invite`, { token: people.alice.token, body: { role } });
  const redeemed = await api.request('POST', `/api/v1/collaboration/invites/${created.body.code}/redeem`, { token, body: {} });
  if (redeemed.status !== 200) throw new Error(`redeem failed: ${redeemed.raw}`);
  const joinToken = async () => (await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/join`, { token, body: {} })).body.join_token;
  return { token, joinToken };
}

const events = (client: ChorusClient, channel: string) => client.of('event').filter((e: ChannelEvent) => e.channel === channel && e.session_id === people.sessionId);
const fileEvent = (i: number) => ({ file: `src/file-${i}.ts`, event: 'change' as const, timestamp: 1_795_312_800_000 + i });

beforeAll(async () => {
  cluster = await startProcessCluster('channels', { gateways: 2, replicas: 1, extraEnv: { CHANNEL_HISTORY_SIZE: String(HISTORY) } });
  people = await setUpSession(cluster.gateways[0], 'channels');
  carol = await invite('viewer', 'carol-channels');
  claude = await invite('agent', 'agent:claude-channels', 'agent');
}, 180_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

it('delivers a channel to its subscribers on both gateways, in order, and to nobody else', async () => {
  const [one, two] = cluster.gateways;
  const session_id = people.sessionId;
  const alice = await connect(one, people.alice.token);
  const bob = await connect(two, people.bob.token);
  const viewer = await connect(two, carol.token);
  await alice.ok('join', { session_id, peer_id: 'alice-fan', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id, peer_id: 'bob-fan', join_token: await people.bob.joinToken() });
  await viewer.ok('join', { session_id, peer_id: 'carol-fan', join_token: await carol.joinToken() });
  expect(await alice.ok('subscribe', { session_id, channel: 'x-fanout' })).toMatchObject({ type: 'subscribed', session_id, channel: 'x-fanout', seq: 0, recovered: true, replayed: 0 });
  // The Cluso frame: no session_id, the connection's only session is meant. Subscribing twice is subscribing once.
  expect(await bob.ok('subscribe', { channel: 'x-fanout' } as never)).toMatchObject({ session_id, channel: 'x-fanout', seq: 0 });
  expect(await bob.ok('subscribe', { session_id, channel: 'x-fanout' })).toMatchObject({ seq: 0, replayed: 0 });
  // The viewer follows another channel only: the marker that it would have had the first one's events by now.
  await viewer.ok('subscribe', { session_id, channel: 'x-marker' });

  for (let i = 1; i <= 20; i++) {
    const from = i % 2 ? alice : bob;
    expect(await from.ok('publish', { session_id, channel: 'x-fanout', data: { n: i, by: i % 2 ? 'alice' : 'bob' } })).toMatchObject({ type: 'published', session_id, channel: 'x-fanout', seq: i });
  }
  await alice.ok('publish', { session_id, channel: 'x-marker', data: 'done' });
  await waitFor('all 20 at both subscribers and the marker at the viewer', () => events(alice, 'x-fanout').length >= 20 && events(bob, 'x-fanout').length >= 20 && events(viewer, 'x-marker').length === 1);
  const expected = Array.from({ length: 20 }, (_, i) => i + 1);
  for (const c of [alice, bob]) {
    expect(events(c, 'x-fanout').map((e) => e.seq)).toEqual(expected);
    expect(events(c, 'x-fanout').map((e) => (e.data as { n: number }).n)).toEqual(expected);
  }
  expect(events(bob, 'x-fanout')[0]).toEqual({ type: 'event', session_id, channel: 'x-fanout', data: { n: 1, by: 'alice' }, timestamp: expect.any(Number), seq: 1, publisher: { user_id: 'alice-channels', peer_id: 'alice-fan' } });
  expect(events(viewer, 'x-fanout')).toEqual([]);
  expect(events(alice, 'x-marker')).toEqual([]);

  // Unsubscribed: nothing more arrives (the marker channel again tells when it would have).
  expect(await bob.ok('unsubscribe', { session_id, channel: 'x-fanout' })).toMatchObject({ type: 'unsubscribed', session_id, channel: 'x-fanout' });
  expect(await bob.ok('unsubscribe', { session_id, channel: 'x-fanout' })).toMatchObject({ type: 'unsubscribed' });
  await bob.ok('subscribe', { session_id, channel: 'x-marker' });
  await alice.ok('publish', { session_id, channel: 'x-fanout', data: { n: 21 } });
  await alice.ok('publish', { session_id, channel: 'x-marker', data: 'after' });
  await waitFor('#21 at alice, the marker at bob', () => events(alice, 'x-fanout').length === 21 && events(bob, 'x-marker').length === 1);
  expect(events(bob, 'x-fanout')).toHaveLength(20);
});

it('recovers exactly the 50 events a subscriber missed when it resubscribes with `since` on the other gateway', async () => {
  const [one, two] = cluster.gateways;
  const session_id = people.sessionId;
  const alice = await connect(one, people.alice.token);
  await alice.ok('join', { session_id, peer_id: 'alice-rec', join_token: await people.alice.joinToken() });
  const bob = await connect(two, people.bob.token);
  await bob.ok('join', { session_id, peer_id: 'bob-rec', join_token: await people.bob.joinToken() });
  await bob.ok('subscribe', { session_id, channel: 'files' });
  for (let i = 1; i <= 5; i++) await alice.ok('publish', { session_id, channel: 'files', data: fileEvent(i) });
  await waitFor('5 events at bob', () => events(bob, 'files').length === 5);
  const since = Math.max(...events(bob, 'files').map((e) => e.seq));
  bob.close();

  const missed: number[] = [];
  for (let i = 6; i <= 55; i++) missed.push((await alice.ok('publish', { session_id, channel: 'files', data: fileEvent(i) })).seq);
  expect(missed).toHaveLength(50);

  const back = await connect(one, people.bob.token);
  await back.ok('join', { session_id, peer_id: 'bob-rec', join_token: await people.bob.joinToken() });
  const subscribed = await back.ok('subscribe', { session_id, channel: 'files', since });
  // The replay precedes the reply on the wire.
  expect(subscribed).toEqual({ type: 'subscribed', session_id, channel: 'files', seq: missed[49], recovered: true, replayed: 50 });
  expect(events(back, 'files').map((e) => e.seq)).toEqual(missed);
  expect(events(back, 'files').map((e) => (e.data as { file: string }).file)).toEqual(missed.map((_, i) => `src/file-${i + 6}.ts`));
  // Then live, once.
  const live = await alice.ok('publish', { session_id, channel: 'files', data: fileEvent(56) });
  await waitFor('the live event', () => events(back, 'files').some((e) => e.seq === live.seq));
  expect(events(back, 'files').map((e) => e.seq)).toEqual([...missed, live.seq]);

  // Beyond the retained HISTORY events: told, not silently skipped.
  const late = await connect(two, people.bob.token);
  await late.ok('join', { session_id, peer_id: 'bob-late', join_token: await people.bob.joinToken() });
  for (let i = 57; i <= HISTORY + 10; i++) await alice.ok('publish', { session_id, channel: 'files', data: fileEvent(i) });
  expect(await late.ok('subscribe', { session_id, channel: 'files', since: 1 })).toMatchObject({ recovered: false, replayed: 0, seq: HISTORY + 10 });
  expect(events(late, 'files')).toEqual([]);
});

it('lets a viewer subscribe but not publish, agents alone publish ai-response, and refuses bad data of a built-in channel', async () => {
  const [, two] = cluster.gateways;
  const session_id = people.sessionId;
  const viewer = await connect(two, carol.token);
  await viewer.ok('join', { session_id, peer_id: 'carol-auth', join_token: await carol.joinToken() });
  expect(await viewer.ok('subscribe', { session_id, channel: 'ai-response' })).toMatchObject({ type: 'subscribed' });
  expect(await viewer.request('publish', { session_id, channel: 'files', data: fileEvent(1) })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', retryable: false });
  const bob = await connect(two, people.bob.token);
  await bob.ok('join', { session_id, peer_id: 'bob-auth', join_token: await people.bob.joinToken() });
  const chunk = { id: 'answer-1', chunk: 'Hello', index: 0, finished: false };
  expect(await bob.request('publish', { session_id, channel: 'ai-response', data: chunk })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  const agent = await connect(cluster.gateways[0], claude.token);
  await agent.ok('join', { session_id, peer_id: 'claude-1', join_token: await claude.joinToken() });
  const published = await agent.ok('publish', { session_id, channel: 'ai-response', data: chunk });
  await waitFor('the chunk at the viewer', () => events(viewer, 'ai-response').length === 1);
  expect(events(viewer, 'ai-response')[0]).toMatchObject({ seq: published.seq, data: chunk, publisher: { user_id: 'agent:claude-channels', peer_id: 'claude-1' } });

  expect(await bob.request('publish', { session_id, channel: 'files', data: { file: 'src/a.ts', event: 'moved', timestamp: 1 } })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'data.event' });
  expect(await bob.request('publish', { session_id, channel: 'diagnostics', data: { file: 'src/a.ts', diagnostics: [{ severity: 'error', message: 'x' }] } })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'data.diagnostics.0.range' });
  expect(await bob.request('publish', { session_id, channel: 'x-free', data: { anything: [1, { goes: true }] } })).toMatchObject({ type: 'published', seq: 1 });
  expect(await bob.request('subscribe', { session_id, channel: 'logs' })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'channel' });
  // A resend with the same client_msg_id is the same event.
  const first = await bob.ok('publish', { session_id, channel: 'git', data: { type: 'commit', message: 'fix parser' }, client_msg_id: 'git-1' });
  expect(await bob.ok('publish', { session_id, channel: 'git', data: { type: 'commit', message: 'fix parser' }, client_msg_id: 'git-1' })).toEqual(first);
});

it('serves the Cluso frames verbatim on /ws: subscribe without session_id, events published from Socket.IO on the other gateway', async () => {
  const [one, two] = cluster.gateways;
  const session_id = people.sessionId;
  const cluso = await WsClient.connect(one, people.bob.token);
  clients.push(cluso as unknown as ChorusClient);
  expect(await cluso.request({ type: 'join', session_id, peer_id: 'cluso-1', join_token: await people.bob.joinToken() })).toMatchObject({ type: 'joined' });
  // Exactly the seed client's text, no id: the one reply frame comes back without one.
  cluso.send('{"type": "subscribe", "channel": "files"}');
  const subscribed = await cluso.next((f) => f.type === 'subscribed');
  expect(subscribed).toMatchObject({ type: 'subscribed', session_id, channel: 'files', recovered: true, replayed: 0 });
  expect(subscribed).not.toHaveProperty('id');
  const alice = await connect(two, people.alice.token);
  await alice.ok('join', { session_id, peer_id: 'alice-cluso', join_token: await people.alice.joinToken() });
  const published = await alice.ok('publish', { session_id, channel: 'files', data: fileEvent(900) });
  expect(await cluso.next((f) => f.type === 'event' && (f as { seq?: number }).seq === published.seq)).toEqual({
    type: 'event',
    session_id,
    channel: 'files',
    data: fileEvent(900),
    timestamp: published.timestamp,
    seq: published.seq,
    publisher: { user_id: 'alice-channels', peer_id: 'alice-cluso' },
  });
  // With an id (the typed seed protocol's correlation), the reply echoes it; bad data is an error frame, connection kept.
  expect(await cluso.request({ type: 'publish', channel: 'files', data: { file: 'a.ts', event: 'moved', timestamp: 1 } })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'data.event' });
  expect(await cluso.request({ type: 'unsubscribe', channel: 'files' })).toMatchObject({ type: 'unsubscribed', session_id, channel: 'files' });
  cluso.close();
});
