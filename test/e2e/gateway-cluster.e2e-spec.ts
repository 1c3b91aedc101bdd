import Redis from 'ioredis';
import { ChorusClient as Sdk, type ChatMessage } from '@chorus/client';
import { testRedisUrl, waitFor, withDeadline } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { editConcurrently, setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';

// The whole system as separate processes: 2 gateways and 2 of each service, real Postgres, real Redis, real
// clients on different gateways: the SDK's wire one connection at a time (support/chorus-client.ts), and, through
// the kill -9 of a gateway, the SDK's own ChorusClient reconnecting, rejoining and resending by itself.

let cluster: ProcessCluster;
let people: People;
const clients: ChorusClient[] = [];
const track = (c: ChorusClient) => (clients.push(c), c);
const sdks: Sdk[] = [];
/** What the SDK clients recovered from by themselves (the lost connection, the resend): kept, not printed. */
const sdkWarnings: string[] = [];
/** Every message on the cluster's Socket.IO adapter channels and on its fan-out channels, from the start. */
let watcher: Redis;
const seenOn = { adapter: [] as string[], fanout: [] as string[] };

beforeAll(async () => {
  cluster = await startProcessCluster('gateway_cluster');
  watcher = new Redis(testRedisUrl());
  watcher.on('pmessage', (pattern: string, _channel: string, message: string) => (pattern.endsWith(':fanout:*') ? seenOn.fanout : seenOn.adapter).push(message));
  await watcher.psubscribe(`${cluster.prefix}:socket.io*`, `${cluster.prefix}:fanout:*`);
  people = await setUpSession(cluster.gateways[0], 'cluster');
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  sdks.forEach((c) => c.close());
  watcher?.disconnect();
  await cluster?.stop();
});

describe('two clients on two gateways', () => {
  let alice: ChorusClient;
  let bob: ChorusClient;
  const sid = () => people.sessionId;

  it('join one session and see each other join', async () => {
    const [gw1, gw2] = cluster.gateways;
    alice = track(await ChorusClient.connect(gw1, people.alice.token));
    bob = track(await ChorusClient.connect(gw2, people.bob.token));
    expect(await alice.waitForPush('hello')).toMatchObject({ protocol_version: 1, node_id: 'gateway-1' });
    expect(await bob.waitForPush('hello')).toMatchObject({ node_id: 'gateway-2' });
    const joinedA = await alice.ok('join', { session_id: sid(), peer_id: 'alice-1', join_token: await people.alice.joinToken() });
    expect(joinedA).toMatchObject({ type: 'joined', recovered: true });
    const joinedB = await bob.ok('join', { session_id: sid(), peer_id: 'bob-1', join_token: await people.bob.joinToken(), last_seq: 0 });
    expect(joinedB.participants.map((p) => [p.peer_id, p.role]).sort()).toEqual([['alice-1', 'owner'], ['bob-1', 'editor']]);
    const seen = await alice.waitForPush('peer_joined', (m) => m.peer_id === 'bob-1');
    expect(seen.seq).toBe(joinedB.seq);
    // Bob asked for everything from 0: the replay is the stream 1..joined.seq minus his own join, in order.
    expect(bob.durableSeqs(sid())).toEqual(Array.from({ length: joinedB.seq - 1 }, (_, i) => i + 1));
  });

  it('chat in one order for everyone', async () => {
    const sent: Array<Promise<unknown>> = [];
    for (let i = 0; i < 5; i++) {
      sent.push(alice.ok('chat_message', { session_id: sid(), message: `a${i}` }));
      sent.push(bob.ok('chat_message', { session_id: sid(), message: `b${i}` }));
    }
    const acks = (await Promise.all(sent)) as Array<{ seq: number; message: string }>;
    await waitFor('every chat delivered to the other side', () => alice.of('chat_message').length === 5 && bob.of('chat_message').length === 5);
    const all = acks.sort((x, y) => x.seq - y.seq).map((a) => a.message);
    const fromA = alice.of('chat_message').map((m) => m.message);
    const fromB = bob.of('chat_message').map((m) => m.message);
    // Each side receives the other's messages exactly once, in the global seq order.
    expect(fromA).toEqual(all.filter((m) => m.startsWith('b')));
    expect(fromB).toEqual(all.filter((m) => m.startsWith('a')));
    for (const c of [alice, bob]) {
      const seqs = c.durableSeqs(sid());
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
  });

  it('edit one document concurrently and converge', async () => {
    const { states, submitted } = await editConcurrently([{ client: alice, peerId: 'alice-1' }, { client: bob, peerId: 'bob-1' }], sid(), 'src/lib.rs', 40);
    const server = await alice.ok('open_document', { session_id: sid(), doc_id: 'src/lib.rs' });
    // Every submitted op was committed once: versions 1..submitted, no gap, nothing lost or doubled.
    expect(server.version).toBe(submitted);
    for (const s of states) expect({ text: s.text, version: s.version }).toEqual({ text: server.content, version: server.version });
    const acked = states.flatMap((s) => [...s.acked.values()]).sort((a, b) => a - b);
    expect(acked).toEqual(Array.from({ length: submitted }, (_, i) => i + 1));
  }, 60_000);

  it("see each other's presence and cursors", async () => {
    await bob.ok('presence_update', { session_id: sid(), active_file: 'src/lib.rs', doc_id: 'src/lib.rs', selection: { anchor: 2, head: 5 } });
    const batch = await alice.waitForPush('presence_batch', (m) => m.peers.some((p) => p.peer_id === 'bob-1' && p.selection?.head === 5));
    const seen = batch.peers.find((p) => p.peer_id === 'bob-1');
    expect(seen).toMatchObject({ user_id: 'bob-cluster', display_name: 'Bob', kind: 'human', status: 'online', active_file: 'src/lib.rs' });
    const who = await alice.ok('who', { session_id: sid() });
    expect(who.peers.map((p) => p.peer_id).sort()).toEqual(['alice-1', 'bob-1']);
  });

  it('sends every push across gateways on the one outbound road (the fan-out), none through the Socket.IO adapter', async () => {
    const doc = 'src/road.rs';
    await alice.ok('open_document', { session_id: sid(), doc_id: doc });
    await bob.ok('open_document', { session_id: sid(), doc_id: doc });
    await alice.ok('typing', { session_id: sid(), doc_id: doc });
    expect(await bob.waitForPush('typing_start', (m) => m.peer_id === 'alice-1')).toMatchObject({ doc_id: doc });
    await alice.ok('lock_file', { session_id: sid(), doc_id: doc });
    expect(await bob.waitForPush('file_locked', (m) => m.doc_id === doc)).toMatchObject({ peer_id: 'alice-1' });
    await alice.ok('submit_op', { session_id: sid(), doc_id: doc, version: 0, op: ['road'], seq: 1 });
    expect(await bob.waitForPush('op', (m) => m.doc_id === doc)).toMatchObject({ version: 1, peer_id: 'alice-1' });
    await alice.ok('unlock_file', { session_id: sid(), doc_id: doc });
    await bob.waitForPush('file_unlocked', (m) => m.doc_id === doc);
    // The author is the excepted peer of its own pushes, on its own gateway too.
    expect(alice.of('op').filter((m) => m.doc_id === doc)).toEqual([]);
    expect(alice.of('file_locked').filter((m) => m.doc_id === doc)).toEqual([]);
    const types = seenOn.fanout.map((raw) => (JSON.parse(raw) as { kind: string; message?: { type: string }; event?: { type: string } }))
      .map((m) => (m.kind === 'push' ? m.message?.type : `event:${m.event?.type}`));
    expect(types).toEqual(expect.arrayContaining(['typing_start', 'file_locked', 'op', 'file_unlocked', 'presence_batch', 'event:chat_message', 'event:peer_joined']));
    expect(seenOn.adapter).toEqual([]);
  });

  it('replays exactly the missed events to a client that reconnects to the other gateway', async () => {
    const lastSeq = bob.lastSeq(sid());
    bob.close();
    await alice.waitForPush('peer_left', (m) => m.peer_id === 'bob-1');
    for (let i = 0; i < 3; i++) await alice.ok('chat_message', { session_id: sid(), message: `missed ${i}` });
    const back = track(await ChorusClient.connect(cluster.gateways[0], people.bob.token));
    const joined = await back.ok('join', { session_id: sid(), peer_id: 'bob-2', join_token: await people.bob.joinToken(), last_seq: lastSeq });
    expect(joined.recovered).toBe(true);
    const replayed = back.durableSeqs(sid());
    expect(replayed).toEqual(Array.from({ length: joined.seq - lastSeq - 1 }, (_, i) => lastSeq + i + 1));
    expect(back.of('chat_message').map((m) => m.message)).toEqual(['missed 0', 'missed 1', 'missed 2']);
    expect(back.of('peer_left').map((m) => m.peer_id)).toEqual(['bob-1']);
    bob = back;
  });

  it('refuses a flooding client with RATE_LIMITED acks while the others carry on', async () => {
    const flood = await Promise.all(Array.from({ length: 40 }, (_, i) => alice.request('chat_message', { session_id: sid(), message: `spam ${i}` })));
    const limited = flood.filter((r) => r.type === 'error' && r.code === 'RATE_LIMITED');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]).toMatchObject({ retryable: true, retry_after_ms: expect.any(Number) });
    expect(flood.every((r) => r.type === 'chat_message' || (r.type === 'error' && r.code === 'RATE_LIMITED'))).toBe(true);
    expect(await bob.ok('chat_message', { session_id: sid(), message: 'still here' })).toMatchObject({ type: 'chat_message' });
  });

  it('moves the clients of a killed gateway to the other one; their old presence expires within the lease', async () => {
    const gw2 = cluster.gateways[1];
    const carol = track(await ChorusClient.connect(gw2, people.alice.token));
    const joined = await carol.ok('join', { session_id: sid(), peer_id: 'alice-phone', join_token: await people.alice.joinToken() });
    await waitFor('alice-phone in presence', async () => (await bob.ok('who', { session_id: sid() })).peers.some((p) => p.peer_id === 'alice-phone'));
    // The SDK's client on the same gateway, with the other one to move to: it must recover by itself.
    const tablet = new Sdk({ url: [gw2, cluster.gateways[0]], token: () => people.alice.token, peerId: 'alice-tablet', backoff: { initialDelayMs: 100, maxDelayMs: 1_000 }, onWarning: (m) => sdkWarnings.push(m) });
    sdks.push(tablet);
    expect((await tablet.connect()).node_id).toBe('gateway-2');
    const tabletSession = tablet.session(sid());
    const tabletSaw: ChatMessage[] = [];
    tabletSession.on('chat', (m) => tabletSaw.push(m));
    await tabletSession.join();
    const rejoins: Array<{ recovered: boolean; rejoin: boolean }> = [];
    tabletSession.on('joined', (j) => rejoins.push({ recovered: j.recovered, rejoin: j.rejoin }));
    const beforeKill = tabletSession.lastSeq;
    cluster.processes.get('gateway-2')?.child.kill('SIGKILL');
    await waitFor('the client sees its connection drop', () => !carol.connected);
    // Sent while its gateway is dead: the SDK holds it until it has rejoined elsewhere, then sends it once.
    const sending = tabletSession.sendChat('sent through the kill', { clientMsgId: 'tablet-1' });
    const fromBob = await bob.ok('chat_message', { session_id: sid(), message: 'while the tablet was away' });
    await waitFor('the SDK client rejoined through gateway-1', () => tablet.hello?.node_id === 'gateway-1' && tabletSession.state === 'joined', { timeoutMs: 30_000 });
    expect(rejoins).toEqual([{ recovered: true, rejoin: true }]);
    const sent = await withDeadline('the chat sent through the kill acked', sending, 30_000);
    expect(sent.seq).toBeGreaterThan(beforeKill);
    await bob.waitForPush('chat_message', (m) => m.client_msg_id === 'tablet-1');
    expect(bob.of('chat_message').filter((m) => m.client_msg_id === 'tablet-1')).toHaveLength(1);
    // What it missed while away was replayed by the rejoin: bob's chat, once.
    await waitFor("bob's chat replayed to the SDK client", () => tabletSaw.some((m) => m.seq === fromBob.seq));
    expect(tabletSaw.filter((m) => m.seq === fromBob.seq)).toHaveLength(1);
    expect(new Set(tabletSaw.map((m) => m.seq)).size).toBe(tabletSaw.length);
    await tabletSession.leave();
    tablet.close();
    const moved = track(await ChorusClient.connect(cluster.gateways[0], people.alice.token));
    const rejoined = await moved.ok('join', { session_id: sid(), peer_id: 'alice-phone-2', join_token: await people.alice.joinToken(), last_seq: joined.seq });
    expect(rejoined.recovered).toBe(true);
    const started = Date.now();
    await bob.waitForPush('presence_left', (m) => m.peer_id === 'alice-phone' && m.reason === 'expired', 25_000);
    expect(Date.now() - started).toBeLessThan(20_000);
    const who = await bob.ok('who', { session_id: sid() });
    expect(who.peers.map((p) => p.peer_id)).not.toContain('alice-phone');
    expect(who.peers.map((p) => p.peer_id)).toContain('alice-phone-2');
  }, 60_000);

  it('applies role changes and removals to live sockets within seconds', async () => {
    const api = new Api(cluster.gateways[0]);
    const bobUser = 'bob-cluster';
    const downgrade = await api.request('PATCH', `/api/v1/collaboration/sessions/${sid()}/participants/${bobUser}`, { token: people.alice.token, body: { role: 'viewer' } });
    expect(downgrade.status).toBe(200);
    await bob.waitForPush('session_event', (m) => m.event_type === 'role_changed');
    const refused = await bob.request('submit_op', { session_id: sid(), doc_id: 'src/lib.rs', version: 0, op: ['x'], seq: 999 });
    expect(refused).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
    const removed = await api.request('DELETE', `/api/v1/collaboration/sessions/${sid()}/participants/${bobUser}`, { token: people.alice.token });
    expect(removed.status).toBe(200);
    await waitFor('the removed participant is disconnected', () => !bob.connected);
    expect(bob.of('error').some((e) => e.code === 'PERMISSION_DENIED')).toBe(true);
    // Told why before the close, by the gateway holding the socket, whichever gateway took the REST call.
    expect(bob.of('disconnect_notice')).toEqual([expect.objectContaining({ code: 4503, name: 'removed', reconnect: false })]);
  });

  it('drains on SIGTERM: the gateway closes its connections and exits 0', async () => {
    const gw1 = cluster.processes.get('gateway-1');
    expect(alice.connected).toBe(true);
    const exit = gw1?.stop('SIGTERM', 15_000);
    await waitFor('the client is let go', () => !alice.connected);
    // Nothing arrives after the close, so a recorded notice came before it.
    expect(alice.of('disconnect_notice')).toEqual([expect.objectContaining({ code: 4000, name: 'draining', reconnect: true })]);
    expect(await exit).toBe(0);
  }, 30_000);
});
