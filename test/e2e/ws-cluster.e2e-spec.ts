import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { WsClient } from './support/ws-client';
import { withDeadline } from '@chorus/testing';

// /ws across gateways, as deployed: separate processes, the Redis Streams transport and the fan-out. A /ws client
// on gateway 1 and a Socket.IO client on gateway 2 chat and edit together (pushes cross nodes on the one outbound
// road and reach both transports); a /ws client that rejoins on the other gateway with last_seq gets what it
// missed exactly once, in order; a ticket minted on one gateway opens /ws on another, once.

let cluster: ProcessCluster;
let people: People;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  cluster = await startProcessCluster('ws_cluster', { gateways: 2, replicas: 1 });
  people = await setUpSession(cluster.gateways[0], 'wsc');
}, 120_000);
afterAll(async () => {
  for (const c of open) c.close();
  await cluster?.stop();
});

it('a /ws client and a Socket.IO client on two gateways chat and edit together', async () => {
  const [gw1, gw2] = cluster.gateways;
  const sessionId = people.sessionId;
  const alice = await WsClient.connect(gw1, people.alice.token);
  const bob = await ChorusClient.connect(gw2, people.bob.token);
  open.push(alice, bob);
  expect(await alice.request({ type: 'join', session_id: sessionId, peer_id: 'alice-ws', join_token: await people.alice.joinToken() })).toMatchObject({ type: 'joined' });
  await bob.ok('join', { session_id: sessionId, peer_id: 'bob-sio', join_token: await people.bob.joinToken() });
  await alice.next((f) => f.type === 'peer_joined' && f.peer_id === 'bob-sio');

  await alice.request({ type: 'chat_message', session_id: sessionId, peer_id: 'alice-ws', message: 'from /ws' });
  await bob.waitForPush('chat_message', (m) => m.message === 'from /ws');
  await bob.ok('chat_message', { session_id: sessionId, message: 'from socket.io' });
  await alice.next((f) => f.type === 'chat_message' && f.message === 'from socket.io');

  const doc = { session_id: sessionId, doc_id: 'src/shared.rs' };
  expect(await alice.request({ type: 'open_document', ...doc })).toMatchObject({ type: 'document', version: 0 });
  await bob.ok('open_document', doc);
  expect(await alice.request({ type: 'submit_op', ...doc, version: 0, op: ['fn main() {}'], seq: 1 })).toMatchObject({ type: 'op_ack', version: 1 });
  await bob.waitForPush('op', (o) => o.version === 1 && o.peer_id === 'alice-ws');
  await bob.ok('submit_op', { ...doc, version: 1, op: [12, '\n// bob'], seq: 1 });
  expect(await alice.next((f) => f.type === 'op' && f.version === 2)).toMatchObject({ peer_id: 'bob-sio', op: [12, '\n// bob'] });
  // Concurrent edits at the same base: both committed, transformed, each side sees the other's.
  const [a, b] = await Promise.all([
    alice.request({ type: 'submit_op', ...doc, version: 2, op: ['A'], seq: 2 }),
    bob.ok('submit_op', { ...doc, version: 2, op: ['B'], seq: 2 }),
  ]);
  expect(new Set([(a as { version: number }).version, b.version])).toEqual(new Set([3, 4]));
  const final = await bob.ok('open_document', doc);
  expect(final.version).toBe(4);
  expect(final.content.endsWith('fn main() {}\n// bob')).toBe(true);
  expect(final.content.slice(0, 2).split('').sort().join('')).toBe('AB');
  alice.close();
  bob.close();
}, 60_000);

it('rejoining on the other gateway with last_seq replays what was missed once, in order', async () => {
  const [gw1, gw2] = cluster.gateways;
  const sessionId = people.sessionId;
  const alice = await WsClient.connect(gw1, people.alice.token);
  const bob = await ChorusClient.connect(gw2, people.bob.token);
  open.push(alice, bob);
  const joined = await alice.request({ type: 'join', session_id: sessionId, peer_id: 'alice-rejoin', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id: sessionId, peer_id: 'bob-writer', join_token: await people.bob.joinToken() });
  await alice.next((f) => f.type === 'peer_joined' && f.peer_id === 'bob-writer');
  const lastSeq = Math.max((joined as { seq: number }).seq, ...alice.frames.filter((f) => 'seq' in f && f.type !== 'op' && f.type !== 'op_ack').map((f) => (f as { seq: number }).seq));
  alice.close();
  await bob.waitForPush('peer_left', (p) => p.peer_id === 'alice-rejoin');
  const missed: number[] = [];
  for (let i = 0; i < 5; i++) missed.push((await bob.ok('chat_message', { session_id: sessionId, message: `missed ${i}` })).seq);

  const back = await WsClient.connect(gw2, people.alice.token);
  open.push(back);
  const rejoined = await back.request({ type: 'join', session_id: sessionId, peer_id: 'alice-rejoin', join_token: await people.alice.joinToken(), last_seq: lastSeq });
  expect(rejoined).toMatchObject({ type: 'joined', recovered: true });
  const replayedChats = back.frames.filter((f) => f.type === 'chat_message').map((f) => (f as { seq: number }).seq);
  expect(replayedChats).toEqual(missed);
  back.close();
  bob.close();
}, 60_000);

it('a ticket minted on one gateway opens /ws on another, exactly once cluster-wide', async () => {
  const [gw1, gw2] = cluster.gateways;
  const res = await fetch(`${gw1}/api/v1/auth/ws-ticket`, { method: 'POST', headers: { authorization: `Bearer ${people.alice.token}` } });
  const { ticket } = (await res.json()) as { ticket: string };
  const first = await WsClient.open(gw2, { ticket });
  open.push(first);
  expect(await first.next((f) => f.type === 'hello')).toMatchObject({ type: 'hello' });
  const reused = await WsClient.open(gw1, { ticket });
  expect(await withDeadline('the reused ticket to be refused', reused.closed)).toMatchObject({ code: 4500 });
  expect(await first.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  first.close();
});
