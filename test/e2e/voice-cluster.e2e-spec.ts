import type { TestDatabase } from '@chorus/testing';
import type { RunningChorus } from '../../standalone/chorus';
import { ChorusClient } from './support/chorus-client';
import { setUpSession } from './support/scenario';
import { Api, startTestNodes } from './support/stack';

// Issue 16: voice rooms and the signaling relay across gateways. Two whole nodes share the real Postgres and
// Redis. Alice is on node A, Bob on node B, Bob's second tab (in the session, not in voice) on node A, and Carol
// on node A in another session. Signals reach exactly their one peer across nodes with the sender stamped by
// the server; nobody outside the room — another session, or the same session outside voice — can signal a
// member; membership and mute state show in `who`; leaving is announced once.

const nodes: RunningChorus[] = [];
const clients: ChorusClient[] = [];
let db: TestDatabase;
const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

beforeAll(async () => {
  const started = await startTestNodes('voice', { VOICE_STUN_URLS: 'stun:stun.example.com:3478', VOICE_TURN_URLS: 'turn:turn.example.com:3478?transport=udp', VOICE_TURN_SECRET: 'voice-e2e-turn-secret' });
  nodes.push(...started.nodes);
  db = started.db;
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  for (const n of nodes) await n.stop();
  await db?.drop();
});

async function connect(url: string, token: string): Promise<ChorusClient> {
  const client = await ChorusClient.connect(url, token);
  clients.push(client);
  return client;
}

it('relays signals to exactly one member of the room on any gateway, and to nobody outside it', async () => {
  const [a, b] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const people = await setUpSession(a, 'voice');
  const others = await setUpSession(a, 'voice_other');
  const sid = people.sessionId;
  const alice = await connect(a, people.alice.token);
  const bob = await connect(b, people.bob.token);
  const bobTab2 = await connect(a, people.bob.token);
  const carol = await connect(a, others.alice.token);
  await alice.ok('join', { session_id: sid, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id: sid, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });
  await bobTab2.ok('join', { session_id: sid, peer_id: 'bob-tab-2', join_token: await people.bob.joinToken() });
  await carol.ok('join', { session_id: others.sessionId, peer_id: 'carol-tab', join_token: await others.alice.joinToken() });

  const mine = await alice.ok('voice_join', { session_id: sid });
  expect(mine.members.map((m) => m.peer_id)).toEqual(['alice-tab']);
  // The configured ICE servers, TURN with Alice's own short-lived credentials.
  expect(mine.ice_servers).toEqual([
    { urls: ['stun:stun.example.com:3478'] },
    { urls: ['turn:turn.example.com:3478?transport=udp'], username: expect.stringMatching(/^\d+:alice-voice$/), credential: expect.any(String) },
  ]);
  expect(mine.ice_expires_at).toBeGreaterThan(Date.now());
  // Joining twice is joining once.
  expect((await alice.ok('voice_join', { session_id: sid })).members).toEqual(mine.members);
  const bobs = await bob.ok('voice_join', { session_id: sid, muted: true });
  expect(bobs.members.map((m) => [m.peer_id, m.muted])).toEqual([
    ['alice-tab', false],
    ['bob-tab', true],
  ]);
  await alice.waitForPush('voice_user_joined', (m) => m.peer_id === 'bob-tab' && m.muted);
  expect(alice.of('voice_user_joined')).toHaveLength(1);

  // Offer (node A → node B), answer back, ICE: each to its one peer, the sender stamped by the server.
  expect(await alice.ok('voice_offer', { session_id: sid, to_peer_id: 'bob-tab', sdp: SDP })).toMatchObject({ type: 'voice_relayed', to_peer_id: 'bob-tab' });
  const offer = await bob.waitForPush('voice_offer');
  expect(offer).toEqual({ type: 'voice_offer', session_id: sid, room: 'default', from_peer_id: 'alice-tab', from_user_id: 'alice-voice', sdp: SDP });
  await bob.ok('voice_answer', { session_id: sid, to_peer_id: 'alice-tab', sdp: SDP });
  await alice.waitForPush('voice_answer', (m) => m.from_peer_id === 'bob-tab' && m.sdp === SDP);
  const candidate = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host', sdp_mid: '0', sdp_mline_index: 0 };
  await alice.ok('voice_ice', { session_id: sid, to_peer_id: 'bob-tab', candidate });
  expect(await bob.waitForPush('voice_ice')).toMatchObject({ from_peer_id: 'alice-tab', candidate });

  // Outside the room: Bob's other tab is in the session but not in voice; Carol is in another session.
  expect(await bobTab2.request('voice_offer', { session_id: sid, to_peer_id: 'alice-tab', sdp: SDP })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  expect(await alice.request('voice_offer', { session_id: sid, to_peer_id: 'bob-tab-2', sdp: SDP })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', field: 'to_peer_id' });
  expect(await carol.request('voice_offer', { session_id: sid, to_peer_id: 'bob-tab', sdp: SDP })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  await carol.ok('voice_join', { session_id: others.sessionId });
  expect(await carol.request('voice_offer', { session_id: others.sessionId, to_peer_id: 'bob-tab', sdp: SDP })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', field: 'to_peer_id' });
  // Oversized SDP is refused at the edge.
  expect(await alice.request('voice_offer', { session_id: sid, to_peer_id: 'bob-tab', sdp: 'x'.repeat(16_001) })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'sdp' });

  // Mute state: in `who`, and pushed when it changes; speaking goes to the room only.
  const who = await bobTab2.ok('who', { session_id: sid });
  expect(who.voice?.map((m) => [m.peer_id, m.room, m.muted])).toEqual([
    ['alice-tab', 'default', false],
    ['bob-tab', 'default', true],
  ]);
  expect(await bob.ok('voice_unmute', { session_id: sid })).toMatchObject({ type: 'voice_member_updated', peer_id: 'bob-tab', muted: false });
  await alice.waitForPush('voice_member_updated', (m) => m.peer_id === 'bob-tab' && !m.muted);
  await alice.ok('voice_speaking', { session_id: sid, speaking: true });
  await bob.waitForPush('voice_speaking', (m) => m.peer_id === 'alice-tab' && m.speaking);

  // Bob disconnects: everyone hears it once. Alice leaves: Bob's other tab hears that.
  bob.close();
  const gone = await alice.waitForPush('voice_user_left', (m) => m.peer_id === 'bob-tab');
  expect(gone).toMatchObject({ room: 'default', user_id: 'bob-voice', reason: 'disconnected' });
  expect(await alice.ok('voice_leave', { session_id: sid })).toMatchObject({ type: 'voice_left', room: 'default' });
  await bobTab2.waitForPush('voice_user_left', (m) => m.peer_id === 'alice-tab' && m.reason === 'left');
  expect(await alice.ok('voice_leave', { session_id: sid })).toMatchObject({ type: 'voice_left', room: null });
  // A barrier: a push after everything above, so late duplicates would have arrived by now.
  await alice.ok('chat_message', { session_id: sid, message: 'barrier' });
  await bobTab2.waitForPush('chat_message', (m) => m.message === 'barrier');
  expect(bobTab2.of('voice_user_left').map((m) => [m.peer_id, m.reason])).toEqual([
    ['bob-tab', 'disconnected'],
    ['alice-tab', 'left'],
  ]);
  expect(alice.of('voice_user_left')).toHaveLength(1);

  // Bob never received a signal but Alice's, and Bob's other tab none at all; nobody heard its own speaking.
  expect(bob.of('voice_offer').map((m) => m.from_peer_id)).toEqual(['alice-tab']);
  expect([...bobTab2.of('voice_offer'), ...bobTab2.of('voice_ice'), ...bobTab2.of('voice_speaking')]).toEqual([]);
  expect(alice.of('voice_speaking')).toEqual([]);
  expect(carol.of('voice_user_joined')).toEqual([]);
}, 60_000);

it('hands every signed-in user its own short-lived TURN credentials over REST, and nobody else any', async () => {
  const api = new Api(`http://127.0.0.1:${nodes[1].port}`);
  const token = await api.devToken('erin-voice', 'Erin');
  const before = Math.floor(Date.now() / 1000);
  const res = await api.request<{ ice_servers: Array<{ urls: string[]; username?: string; credential?: string }>; expires_at: number }>('GET', '/api/v1/voice/ice-servers', { token });
  expect(res.status).toBe(200);
  const turn = res.body.ice_servers[1];
  expect(turn.urls).toEqual(['turn:turn.example.com:3478?transport=udp']);
  const [expiry, user] = (turn.username ?? '').split(':');
  expect(user).toBe('erin-voice');
  // VOICE_TURN_TTL_S defaults to an hour; expires_at (ms) is the username's expiry.
  expect(Number(expiry)).toBeGreaterThanOrEqual(before + 3600);
  expect(Number(expiry)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 3600);
  expect(res.body.expires_at).toBe(Number(expiry) * 1000);
  expect((await api.request('GET', '/api/v1/voice/ice-servers')).status).toBe(401);
});
