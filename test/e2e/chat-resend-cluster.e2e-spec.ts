import { ChorusClient as Sdk, type ChatMessage } from '@chorus/client';
import { startTsProcess, waitFor, withDeadline } from '@chorus/testing';
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
// Then the same through the SDK's own ChorusSession.sendChat (a replacement replica started first): its ack
// deadline passes, it resends by itself with the same client_msg_id, and the app sees one message.

const MARKER = 'crash-after-commit-7c1d';
let cluster: ProcessCluster;
const clients: ChorusClient[] = [];
const sdks: Sdk[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster('chat_resend', { gateways: 1, replicas: 2, extraEnv: { TEST_CRASH_AFTER_CHAT_COMMIT: MARKER } });
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  sdks.forEach((c) => c.close());
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

it('the SDK: sendChat through a replica killed after the commit resends by itself and the message is stored and seen once', async () => {
  // The first test left one replica: start a replacement, so one survives this crash too.
  const replacement = startTsProcess('apps/session/src/main.ts', { ...cluster.env, LOG_LEVEL: 'log', NODE_ID: 'session-3' });
  cluster.processes.set('session-3', replacement);
  await replacement.waitForLine(/listening on/, 60_000);
  const alive = () => ['session-1', 'session-2', 'session-3'].filter((n) => cluster.processes.get(n)?.child.exitCode === null && cluster.processes.get(n)?.child.signalCode === null);
  const survivorsBefore = alive();
  expect(survivorsBefore).toHaveLength(2);

  const [url] = cluster.gateways;
  const people = await setUpSession(url, 'chat_resend_sdk');
  const warnings: string[] = [];
  // A short ack deadline: the SDK gives up on the first attempt well before the gateway's redelivery ends.
  const alice = new Sdk({ url, token: people.alice.token, peerId: 'alice-sdk', requestTimeoutMs: 5_000, onWarning: (m) => warnings.push(m) });
  const bob = new Sdk({ url, token: people.bob.token, peerId: 'bob-sdk', onWarning: (m) => warnings.push(m) });
  sdks.push(alice, bob);
  const aliceSession = alice.session(people.sessionId);
  const bobSession = bob.session(people.sessionId);
  const aliceSaw: ChatMessage[] = [];
  const bobSaw: ChatMessage[] = [];
  aliceSession.on('chat', (m) => aliceSaw.push(m));
  bobSession.on('chat', (m) => bobSaw.push(m));
  await aliceSession.join();
  await bobSession.join();
  const before = await aliceSession.sendChat('warm-up', { clientMsgId: 's-0' });

  const text = `about to crash again ${MARKER}`;
  const sent = await withDeadline('sendChat through the crash', aliceSession.sendChat(text, { clientMsgId: 's-1' }), 60_000);
  expect(alive()).toHaveLength(1);
  expect(sent).toMatchObject({ seq: before.seq + 1, message: text, own: true });

  const history = await new Api(url).request<{ events: Array<{ seq: number; type: string; payload: { client_msg_id?: string } }> }>('GET', `/api/v1/collaboration/sessions/${people.sessionId}/history?after_seq=0`, {
    token: people.alice.token,
  });
  expect(history.body.events.filter((e) => e.type === 'chat_message').map((e) => [e.seq, e.payload.client_msg_id])).toEqual([
    [before.seq, 's-0'],
    [before.seq + 1, 's-1'],
  ]);
  // Once on each side: alice's own copy from the ack, bob's from the push.
  await waitFor('bob sees it', () => bobSaw.some((m) => m.seq === sent.seq));
  expect(bobSaw.filter((m) => m.message === text)).toHaveLength(1);
  expect(aliceSaw.filter((m) => m.message === text)).toHaveLength(1);
  const next = await aliceSession.sendChat('after', { clientMsgId: 's-2' });
  expect(next.seq).toBe(before.seq + 2);
  await waitFor('bob sees the next one', () => bobSaw.some((m) => m.seq === next.seq));
  expect(bobSaw.map((m) => m.seq)).toEqual([before.seq, before.seq + 1, before.seq + 2]);
}, 120_000);
