import { Logger } from '@nestjs/common';
import { ChorusClient as Sdk, type ChatMessage } from '@chorus/client';
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
// as last_seq and drops at once would rejoin past her message. So the ack must come after the push. Then the
// same through the SDK's own sessions (ChorusSession.sendChat, its `lastSeq` and its de-duplication).

const nodes: RunningChorus[] = [];
const clients: ChorusClient[] = [];
const sdks: Sdk[] = [];
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
  sdks.forEach((c) => c.close());
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

it('the SDK: when sendChat resolves, the session has delivered every earlier event and its lastSeq is the ack', async () => {
  const [a, b] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const people = await setUpSession(a, 'last_seq_sdk');
  const warnings: string[] = [];
  const alice = new Sdk({ url: a, token: people.alice.token, peerId: 'alice-sdk', onWarning: (m) => warnings.push(m) });
  const bob = new Sdk({ url: b, token: people.bob.token, peerId: 'bob-sdk', onWarning: (m) => warnings.push(m) });
  sdks.push(alice, bob);
  const aliceSession = alice.session(people.sessionId);
  const bobSession = bob.session(people.sessionId);
  const bobSaw: ChatMessage[] = [];
  bobSession.on('chat', (m) => bobSaw.push(m));
  await aliceSession.join();
  await bobSession.join();

  expect(relay.pause('node-b:fanout-sub')).toBe(1);
  const hers = await aliceSession.sendChat('stuck on its way to node B');
  const mine = await bobSession.sendChat('acked on node B', { clientMsgId: 'bob-sdk-1' });
  // At the ack: her earlier message is already delivered, in order, and lastSeq is the ack's seq (no hole below).
  expect(mine.seq).toBeGreaterThan(hers.seq);
  expect(bobSaw.map((m) => [m.seq, m.own])).toEqual([
    [hers.seq, false],
    [mine.seq, true],
  ]);
  expect(bobSession.lastSeq).toBe(mine.seq);

  relay.resume('node-b:fanout-sub');
  const later = await aliceSession.sendChat('after the lag');
  await waitFor('bob sees the later one', () => bobSaw.some((m) => m.seq === later.seq));
  expect(bobSaw.map((m) => m.seq)).toEqual([hers.seq, mine.seq, later.seq]);
  // A resend with the same key answers the original; nothing is delivered twice.
  expect(await bobSession.sendChat('acked on node B', { clientMsgId: 'bob-sdk-1' })).toMatchObject({ seq: mine.seq });
  expect(bobSaw.map((m) => m.seq)).toEqual([hers.seq, mine.seq, later.seq]);
  expect(bobSession.lastSeq).toBe(later.seq);

  // Bob leaves (acked) before the nodes stop, so node B's shutdown has no request of his in flight.
  await bobSession.leave();
}, 60_000);
