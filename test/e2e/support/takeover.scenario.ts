import { waitFor } from '@chorus/testing';
import { ChorusClient } from './chorus-client';
import { setUpSession } from './scenario';
import { Api } from './stack';

/**
 * Issue 11, item 2: Bob (an editor) tries to take over Alice's peer id. Alice connects to `urls[0]`, Bob to
 * `urls[1]` (another gateway in the cluster; the same one in standalone). Every client it opens goes through `track`, for the caller to close.
 */
export async function peerTakeoverScenario(urls: readonly [string, string], label: string, track: (c: ChorusClient) => ChorusClient): Promise<void> {
  const people = await setUpSession(urls[0], label);
  const sid = people.sessionId;
  const aliceUser = `alice-${label}`;
  const bobUser = `bob-${label}`;

  const alice = track(await ChorusClient.connect(urls[0], people.alice.token));
  await alice.ok('join', { session_id: sid, peer_id: 'alice-tab-1', join_token: await people.alice.joinToken() });

  // The take-over: refused before anything joins (no presence entry, no peer room, no peer_joined).
  const bob = track(await ChorusClient.connect(urls[1], people.bob.token));
  const refused = await bob.request('join', { session_id: sid, peer_id: 'alice-tab-1', join_token: await people.bob.joinToken() });
  if (refused.type !== 'error') throw new Error(`Bob's join with Alice's peer id was accepted: ${JSON.stringify(refused)}`);
  if (refused.code !== 'PERMISSION_DENIED' || refused.retryable || !/pick another peer_id/i.test(refused.message)) throw new Error(`unexpected refusal: ${JSON.stringify(refused)}`);
  await bob.ok('join', { session_id: sid, peer_id: 'bob-tab-1', join_token: await people.bob.joinToken() });

  // Bob's own session, where the same peer-id string is his: another session, another peer.
  const api = new Api(urls[1]);
  const own = await api.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token: people.bob.token, body: { name: `bob's ${label}` } });
  const ownJoin = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${own.body.session_id}/join`, { token: people.bob.token, body: {} });
  await bob.ok('join', { session_id: own.body.session_id, peer_id: 'alice-tab-1', join_token: ownJoin.body.join_token });

  // seq 1 each: both commit with their own text (Alice's used to get Bob's ack and vanish).
  const a = await alice.ok('submit_op', { session_id: sid, doc_id: 'notes.md', version: 0, op: ['alice '], seq: 1 });
  const b = await bob.ok('submit_op', { session_id: sid, doc_id: 'notes.md', version: 1, op: [6, 'bob'], seq: 1 });
  const c = await bob.ok('submit_op', { session_id: own.body.session_id, doc_id: 'notes.md', version: 0, op: ['bob elsewhere'], seq: 1 });
  expectEqual([a.version, b.version, c.version], [1, 2, 1], 'op_ack versions');
  expectEqual((await alice.ok('open_document', { session_id: sid, doc_id: 'notes.md' })).content, 'alice bob', "the shared session's text");
  expectEqual((await bob.ok('open_document', { session_id: own.body.session_id, doc_id: 'notes.md' })).content, 'bob elsewhere', "Bob's own session's text");

  const whoIs = async (client: ChorusClient): Promise<string[][]> =>
    (await client.ok('who', { session_id: sid })).peers.map((p) => [p.peer_id, p.user_id, p.display_name]).sort((x, y) => x[0].localeCompare(y[0]));
  expectEqual(await whoIs(bob), [['alice-tab-1', aliceUser, 'Alice'], ['bob-tab-1', bobUser, 'Bob']], 'who');

  // Alice reconnects (on Bob's gateway) with her own peer id: accepted; her resend of seq 1 gets her own ack.
  alice.close();
  await bob.waitForPush('peer_left', (m) => m.peer_id === 'alice-tab-1');
  const back = track(await ChorusClient.connect(urls[1], people.alice.token));
  await back.ok('join', { session_id: sid, peer_id: 'alice-tab-1', join_token: await people.alice.joinToken() });
  const resent = await back.ok('submit_op', { session_id: sid, doc_id: 'notes.md', version: 0, op: ['alice '], seq: 1 });
  expectEqual(resent.version, 1, "the resend's ack");
  await waitFor('alice-tab-1 is Alice in presence again', async () => JSON.stringify(await whoIs(bob)) === JSON.stringify([['alice-tab-1', aliceUser, 'Alice'], ['bob-tab-1', bobUser, 'Bob']]));
  expectEqual((await back.ok('open_document', { session_id: sid, doc_id: 'notes.md' })).content, 'alice bob', 'the text after the resend');
}

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
