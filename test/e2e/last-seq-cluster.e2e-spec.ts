import { Logger } from '@nestjs/common';
import { loadConfig } from '@chorus/config';
import { createTestDatabase, testRedisUrl, uniqueRedisPrefix, waitFor, type TestDatabase } from '@chorus/testing';
import { startChorus, type RunningChorus } from '../../standalone/chorus';
import { CaptureLogger } from './support/capture-logger';
import { ChorusClient } from './support/chorus-client';
import { RedisRelay } from './support/redis-relay';
import { setUpSession } from './support/scenario';
import { TEST_JWT_SECRET } from './support/stack';

// Issue 20: "a last_seq a client may trust". Two whole nodes in this process share the real Postgres and Redis;
// node B reaches Redis through a relay that can hold back what Redis sends to B's fan-out subscriber — the
// lagging fan-out seen under chaos, made deterministic. Alice (node A) chats, and that event is stuck on its
// way to node B; then Bob (node B) chats. Bob's ack carries a seq above Alice's event: a client that keeps it
// as last_seq and drops at once would rejoin past her message. So the ack must come after the push.

const nodes: RunningChorus[] = [];
const clients: ChorusClient[] = [];
let relay: RedisRelay;
let db: TestDatabase;

async function node(nodeId: string, redisUrl: string, prefix: string, logs: CaptureLogger): Promise<RunningChorus> {
  const config = loadConfig('standalone', {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'warn',
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    NODE_ID: nodeId,
  });
  const running = await startChorus(config, logs);
  nodes.push(running);
  return running;
}

beforeAll(async () => {
  db = await createTestDatabase('last_seq');
  relay = await RedisRelay.start(testRedisUrl());
  const logs = new CaptureLogger();
  Logger.overrideLogger(logs);
  const prefix = uniqueRedisPrefix('last_seq');
  await node('node-a', testRedisUrl(), prefix, logs);
  await node('node-b', relay.url, prefix, logs);
}, 60_000);
afterAll(async () => {
  relay?.resume('node-b:fanout-sub'); // a failed test may have left it held: node B could not shut down
  clients.forEach((c) => c.close());
  for (const n of nodes) await n.stop();
  await relay?.close();
  await db?.drop();
});

it('pushes every earlier session event to the sender before the ack of its chat, even when the fan-out lags', async () => {
  const [a, b] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const people = await setUpSession(a, 'last_seq');
  const sid = people.sessionId;
  const alice = await ChorusClient.connect(a, people.alice.token);
  const bob = await ChorusClient.connect(b, people.bob.token);
  clients.push(alice, bob);
  await alice.ok('join', { session_id: sid, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
  const joined = await bob.ok('join', { session_id: sid, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });

  expect(relay.pause('node-b:fanout-sub')).toBe(1);
  const hers = await alice.ok('chat_message', { session_id: sid, message: 'stuck on its way to node B' });
  const mine = await bob.ok('chat_message', { session_id: sid, message: 'acked on node B', client_msg_id: 'bob-1' });
  // Right when the ack arrives (socket.io hands packets over in order): every seq below it is already here.
  const seen = bob.durableSeqs(sid);
  expect(mine.seq).toBeGreaterThan(hers.seq);
  for (let seq = joined.seq + 1; seq < mine.seq; seq++) expect(seen).toContain(seq);

  // The fan-out catches up: nothing twice, and the sender never gets its own chat pushed.
  relay.resume('node-b:fanout-sub');
  await alice.waitForPush('chat_message', (m) => m.seq === mine.seq);
  const later = await alice.ok('chat_message', { session_id: sid, message: 'after the lag' });
  await bob.waitForPush('chat_message', (m) => m.seq === later.seq);
  const all = bob.durableSeqs(sid);
  expect(new Set(all).size).toBe(all.length);
  expect(bob.of('chat_message').map((m) => m.seq)).toEqual([hers.seq, later.seq]);

  // A resend with the same key is answered with the original seq at once (nothing left to deliver).
  expect(await bob.ok('chat_message', { session_id: sid, message: 'acked on node B', client_msg_id: 'bob-1' })).toMatchObject({ seq: mine.seq });
  await waitFor('no stray pushes', () => bob.of('chat_message').length === 2);

  // Bob leaves before the nodes stop, so node B's shutdown has no request of his in flight.
  await bob.ok('leave', { session_id: sid });
  await alice.waitForPush('peer_left', (m) => m.peer_id === 'bob-tab');
}, 60_000);
