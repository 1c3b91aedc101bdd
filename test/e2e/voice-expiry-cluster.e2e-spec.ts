import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession } from './support/scenario';

// Issue 16, must show: kill -9 a gateway and its voice members leave the room for everyone within the presence
// lease. Separate processes (2 gateways, 1 of each service, real Postgres and Redis). Alice's gateway dies
// without a goodbye; Bob, on the other gateway, hears `voice_user_left {reason: "expired"}` exactly once, after
// which Alice is gone from `who`'s voice members and no one can signal her.

let cluster: ProcessCluster;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster('voice_expiry', { gateways: 2, replicas: 1 });
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

it("removes a dead gateway's voice members from the room within the presence lease, announced once", async () => {
  const [gw1, gw2] = cluster.gateways;
  const people = await setUpSession(gw1, 'voice_expiry');
  const sid = people.sessionId;
  const bob = await ChorusClient.connect(gw1, people.bob.token);
  const alice = await ChorusClient.connect(gw2, people.alice.token);
  clients.push(alice, bob);
  await bob.ok('join', { session_id: sid, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });
  await alice.ok('join', { session_id: sid, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
  await bob.ok('voice_join', { session_id: sid });
  await alice.ok('voice_join', { session_id: sid });
  await bob.waitForPush('voice_user_joined', (m) => m.peer_id === 'alice-tab');

  const killed = Date.now();
  await cluster.processes.get('gateway-2')?.stop('SIGKILL');
  // The lease is 15 s; the sweep runs every second.
  const left = await bob.waitForPush('voice_user_left', (m) => m.peer_id === 'alice-tab', 30_000);
  expect(left).toMatchObject({ room: 'default', user_id: 'alice-voice_expiry', reason: 'expired' });
  expect(Date.now() - killed).toBeLessThan(25_000);

  const who = await bob.ok('who', { session_id: sid });
  expect(who.voice?.map((m) => m.peer_id)).toEqual(['bob-tab']);
  expect(await bob.request('voice_offer', { session_id: sid, to_peer_id: 'alice-tab', sdp: 'v=0\r\n' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  // A barrier after the expiry's pushes: a late duplicate would be here by now.
  await bob.waitForPush('presence_left', (m) => m.peer_id === 'alice-tab', 10_000);
  await bob.ok('voice_speaking', { session_id: sid, speaking: false });
  expect(bob.of('voice_user_left')).toHaveLength(1);
}, 150_000);
