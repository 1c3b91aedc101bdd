import Redis from 'ioredis';
import { TypedClient, documentKey, type ConflictApi, type PresenceApi } from '@chorus/contracts';
import { testRedisUrl, waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { setUpSession, type People } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';

// Issue 20, "committed ops reach presence in version order": through the whole stack on the Redis Streams
// transport. A redelivered `presence.op_committed` must not move a stored cursor twice, and an op whose event
// never reached presence (its gateway died after the commit) must still move it — read from the conflict
// service's op log once a later op shows the gap. `who` is what late joiners see.

const DOC = 'a.txt';
let stack: TestStack;
let people: People;
let redis: Redis;
const clients: ChorusClient[] = [];
const proxies: Array<{ close(): unknown }> = [];

beforeAll(async () => {
  stack = await startTestStack('presence_op_order', { redis: true });
  people = await setUpSession(stack.url, 'opord');
  redis = new Redis(testRedisUrl());
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await Promise.all(proxies.map((p) => p.close()));
  redis?.disconnect();
  await stack?.stop();
});

it('moves a stored cursor through each committed op exactly once: a duplicate dropped, a lost op read from the log', async () => {
  const sid = people.sessionId;
  const { runtime } = stack.chorus;
  const alice = await ChorusClient.connect(stack.url, people.alice.token);
  const bob = await ChorusClient.connect(stack.url, people.bob.token);
  clients.push(alice, bob);
  const joined = await alice.ok('join', { session_id: sid, peer_id: 'alice-1', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id: sid, peer_id: 'bob-1', join_token: await people.bob.joinToken() });
  const aliceUser = joined.participants.find((p) => p.peer_id === 'alice-1')?.user_id;
  if (aliceUser === undefined) throw new Error('alice is not in her own join');

  const appliedKey = `${runtime.redisPrefix}:presence:applied:${JSON.stringify([sid, DOC])}`;
  const applied = async () => Number(await redis.get(appliedKey));
  const bobsCursor = async () => (await alice.ok('who', { session_id: sid })).peers.find((p) => p.peer_id === 'bob-1')?.selection;

  // v1 through the gateway; then Bob puts his caret after "hello" (a selection is taken as is, at v1).
  await alice.ok('submit_op', { session_id: sid, doc_id: DOC, version: 0, op: ['hello world'], seq: 1 });
  await waitFor('presence to apply v1', async () => (await applied()) === 1);
  await bob.ok('presence_update', { session_id: sid, doc_id: DOC, selection: { anchor: 5, head: 5 } });

  // The transport redelivers v1 (at least once): dropped. Applied again it would move Bob to 16.
  const presence = new TypedClient<PresenceApi>(runtime.transport.client('presence', { 'presence.op_committed': (d: { session_id: string; doc_id: string }) => documentKey(d.session_id, d.doc_id) }));
  const conflict = new TypedClient<ConflictApi>(runtime.transport.client('conflict'));
  proxies.push(presence.proxy, conflict.proxy);
  await presence.emit('presence.op_committed', { session_id: sid, doc_id: DOC, version: 1, op: ['hello world'], author_peer_id: 'alice-1' });

  // v2 is committed but its event is lost (as if its gateway died right after the commit): Bob 5 → 7.
  const caller = { user_id: aliceUser, client_id: 'alice-1', role: 'owner' as const };
  expect((await conflict.call('op.submit', { caller, payload: { session_id: sid, doc_id: DOC, version: 1, op: ['AB'], seq: 2 } })).ack.version).toBe(2);
  // v3 through the gateway (insert after "A"): presence sees 3 after 1, waits for 2, reads it from the op log. Bob 7 → 8.
  await alice.ok('submit_op', { session_id: sid, doc_id: DOC, version: 2, op: [1, 'C'], seq: 3 });
  await waitFor('presence to apply v2 and v3', async () => (await applied()) === 3, { timeoutMs: 10_000 });
  expect(await bobsCursor()).toEqual({ anchor: 8, head: 8 });
  const doc = await bob.ok('open_document', { session_id: sid, doc_id: DOC });
  // The cursor is where it should be in the text: "ACBhello" then the caret, then " world".
  expect(doc.content.slice(0, 8)).toBe('ACBhello');
}, 60_000);
