import Redis from 'ioredis';
import { startTsProcess, testRedisUrl, waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession } from './support/scenario';
import { Api } from './support/stack';

// Issue 20, "durable record first": a presence lease expires while the session service is down. Separate
// processes (2 gateways, 1 of each service, real Postgres and Redis). Alice's gateway and the only session
// replica are killed; her lease runs out and presence claims the expiry, but `session.disconnect` fails (nobody
// serves it before the deadline). The expiry must not be lost: once a session replica is back, peer_left is
// recorded exactly once, and the ephemeral presence_left goes out only after it.

let cluster: ProcessCluster;
const clients: ChorusClient[] = [];
let redis: Redis;

beforeAll(async () => {
  cluster = await startProcessCluster('expiry_durable', { gateways: 2, replicas: 1 });
  redis = new Redis(testRedisUrl());
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  redis?.disconnect();
  await cluster?.stop();
});

it('records an expired peer_left once the session service is back, exactly once, before presence_left', async () => {
  const [gw1, gw2] = cluster.gateways;
  const people = await setUpSession(gw1, 'expiry_durable');
  const sid = people.sessionId;
  const bob = await ChorusClient.connect(gw1, people.bob.token);
  const alice = await ChorusClient.connect(gw2, people.alice.token);
  clients.push(alice, bob);
  await bob.ok('join', { session_id: sid, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });
  await alice.ok('join', { session_id: sid, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });

  // Both die without a goodbye: alice's lease is no longer renewed, and nothing can record her leave.
  await Promise.all([cluster.processes.get('session-1')?.stop('SIGKILL'), cluster.processes.get('gateway-2')?.stop('SIGKILL')]);
  const presence = cluster.processes.get('presence-1');
  if (!presence) throw new Error('no presence-1');
  await presence.waitForLine(/Could not record peer_left for expired alice-tab/, 60_000);
  // Nothing recorded, so nothing pushed yet: a client must never see a leave its replay would not contain.
  expect(bob.of('presence_left').filter((m) => m.peer_id === 'alice-tab')).toEqual([]);

  const session = startTsProcess('apps/session/src/main.ts', { ...cluster.env, LOG_LEVEL: 'log', NODE_ID: 'session-1b' });
  cluster.processes.set('session-1b', session);
  await session.waitForLine(/listening on/, 60_000);

  const left = await bob.waitForPush('presence_left', (m) => m.peer_id === 'alice-tab', 30_000);
  expect(left).toMatchObject({ reason: 'expired' });
  const outbox = `${cluster.prefix}:presence:expiry-outbox`;
  await waitFor('the expiry outbox to drain', async () => ((await redis.zcard(outbox)) === 0 ? true : undefined), { timeoutMs: 20_000 });

  const history = await new Api(gw1).request<{ events: Array<{ type: string; payload: { peer_id?: string; reason?: string } }> }>('GET', `/api/v1/collaboration/sessions/${sid}/history?after_seq=0`, {
    token: people.bob.token,
  });
  const leaves = history.body.events.filter((e) => e.type === 'peer_left' && e.payload.peer_id === 'alice-tab');
  expect(leaves.map((e) => e.payload.reason)).toEqual(['expired']);
}, 150_000);
