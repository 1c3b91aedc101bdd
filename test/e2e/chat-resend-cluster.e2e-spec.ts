import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession } from './support/scenario';
import { Api } from './support/stack';

// Issue 20, "must show": a session replica dies (SIGKILL) between a chat message's commit and its ack, and the
// client resends with the same client_msg_id. Separate processes: 1 gateway, 2 of each service, real Postgres
// and Redis. The crash is deterministic: TEST_CRASH_AFTER_CHAT_COMMIT makes whichever session replica commits
// a new message containing the marker kill itself right after the commit, before its publish and reply. The
// request stays pending in Redis; the surviving replica claims it (as soon as the dead replica's Redis
// connections are gone) and runs it again; meanwhile the client, whose ack timed out, resends. Exactly one message may be stored, and every ack carries its seq.

const MARKER = 'crash-after-commit-7c1d';
let cluster: ProcessCluster;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster('chat_resend', { gateways: 1, replicas: 2, extraEnv: { TEST_CRASH_AFTER_CHAT_COMMIT: MARKER } });
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

it('stores a chat message once when its replica dies after the commit and the client resends with the same client_msg_id', async () => {
  const [url] = cluster.gateways;
  const people = await setUpSession(url, 'chat_resend');
  const sid = people.sessionId;
  const alice = await ChorusClient.connect(url, people.alice.token);
  const bob = await ChorusClient.connect(url, people.bob.token);
  clients.push(alice, bob);
  await alice.ok('join', { session_id: sid, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id: sid, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });
  const before = await alice.ok('chat_message', { session_id: sid, message: 'warm-up', client_msg_id: 'k-0' });

  const message = { session_id: sid, message: `about to crash ${MARKER}`, client_msg_id: 'k-1' };
  // The first attempt: its replica commits and dies; the gateway keeps waiting (up to its transport deadline)
  // for the redelivery. The client does not wait: like an app whose ack timed out, it resends at once with the
  // same key — the resend reaches the surviving replica while the first request is still pending.
  const first = alice.request('chat_message', message, 15_000);
  const killed = await waitFor('a session replica to die after the commit', () => {
    const dead = ['session-1', 'session-2'].filter((n) => cluster.processes.get(n)?.child.signalCode === 'SIGKILL');
    return dead.length > 0 ? dead : undefined;
  });
  expect(killed).toHaveLength(1);
  const resent = await alice.request('chat_message', message, 15_000);
  const original = await first;

  // Both acks are the one stored message: same seq, right after the warm-up.
  expect(resent).toMatchObject({ type: 'chat_message', seq: before.seq + 1, client_msg_id: 'k-1', message: message.message });
  expect(original).toMatchObject({ type: 'chat_message', seq: before.seq + 1, client_msg_id: 'k-1' });

  // History: exactly one message with the key (the redelivery and the resend appended nothing).
  const history = await new Api(url).request<{ events: Array<{ seq: number; type: string; payload: { client_msg_id?: string } }> }>('GET', `/api/v1/collaboration/sessions/${sid}/history?after_seq=0`, {
    token: people.alice.token,
  });
  const chats = history.body.events.filter((e) => e.type === 'chat_message');
  expect(chats.map((e) => [e.seq, e.payload.client_msg_id])).toEqual([
    [before.seq, 'k-0'],
    [before.seq + 1, 'k-1'],
  ]);
  // Bob sees it once, with the key echoed (so a client can match its optimistic copy).
  const pushed = await bob.waitForPush('chat_message', (m) => m.client_msg_id === 'k-1');
  expect(pushed.seq).toBe(before.seq + 1);
  expect(bob.of('chat_message').filter((m) => m.client_msg_id === 'k-1')).toHaveLength(1);

  // The stream goes on with no gap: the next message takes the next seq.
  const next = await alice.ok('chat_message', { session_id: sid, message: 'after', client_msg_id: 'k-2' });
  expect(next.seq).toBe(before.seq + 2);
}, 90_000);
