import { ChorusClient, ClientClosedError, type ChatMessage, type ChorusDocument, type ChorusSession } from '@chorus/client';
import { startTsProcess, waitFor, withDeadline, mulberry32 as prng } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';

// The SDK against the real distributed topology (2 gateways, 2 replicas of each service, real Postgres and
// Redis): two users type into one file and chat while the gateway one of them is on is killed with SIGKILL.
// The client must reconnect through the other gateway, rejoin with its last_seq, resend its in-flight op and its
// unacknowledged chat, and converge — no keystroke lost or doubled, no chat duplicated.

let cluster: ProcessCluster;
let people: People;
const clients: ChorusClient[] = [];
const track = (c: ChorusClient) => (clients.push(c), c);
const warnings: string[] = [];
let aliceTokenCalls = 0;

beforeAll(async () => {
  cluster = await startProcessCluster('sdk_cluster');
  people = await setUpSession(cluster.gateways[0], 'sdk');
}, 180_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

/** Types unique characters (each inserted once, anywhere) every few ms until `stop()`; returns what it typed. */
function typist(doc: ChorusDocument, random: () => number, firstCodePoint: number) {
  const typed: string[] = [];
  let running = true;
  let next = firstCodePoint;
  const done = (async () => {
    while (running) {
      const ch = String.fromCodePoint(next++);
      const length = [...doc.text].length;
      const pos = Math.floor(random() * (length + 1));
      doc.edit(pos > 0 ? [pos, ch] : [ch]);
      typed.push(ch);
      await new Promise((resolve) => setTimeout(resolve, 15 + Math.floor(random() * 30)));
    }
  })();
  return { typed, stop: async () => ((running = false), await done) };
}

describe('the SDK on two gateways, with a kill -9 of one', () => {
  let alice: ChorusClient;
  let bob: ChorusClient;
  let aliceSession: ChorusSession;
  let bobSession: ChorusSession;
  const aliceSaw: ChatMessage[] = [];
  const bobSaw: ChatMessage[] = [];

  it('connects, joins through REST join tokens, and sees the other', async () => {
    const [gw1, gw2] = cluster.gateways;
    const onWarning = (m: string) => warnings.push(m);
    alice = track(new ChorusClient({ url: [gw1, gw2], token: () => (aliceTokenCalls++, people.alice.token), peerId: 'alice-sdk', random: prng(1), onWarning, backoff: { initialDelayMs: 100, maxDelayMs: 1_000 } }));
    bob = track(new ChorusClient({ url: [gw2, gw1], token: people.bob.token, peerId: 'bob-sdk', random: prng(2), onWarning }));
    expect((await alice.connect()).node_id).toBe('gateway-1');
    expect((await bob.connect()).node_id).toBe('gateway-2');
    aliceSession = alice.session(people.sessionId);
    bobSession = bob.session(people.sessionId);
    aliceSession.on('chat', (m) => aliceSaw.push(m));
    bobSession.on('chat', (m) => bobSaw.push(m));
    await aliceSession.join();
    await bobSession.join();
    expect(bobSession.participants.map((p) => p.peer_id).sort()).toEqual(['alice-sdk', 'bob-sdk']);
    await waitFor('alice sees bob in presence', () => aliceSession.presence.get('bob-sdk') ?? aliceSession.refreshPresence().then(() => aliceSession.presence.get('bob-sdk')));
  });

  it('keeps typing and chatting through a SIGKILL of its gateway, then converges with nothing lost or doubled', async () => {
    const aDoc = await aliceSession.document('src/main.ts');
    const bDoc = await bobSession.document('src/main.ts');
    await bobSession.setPresence({ doc_id: 'src/main.ts', active_file: 'src/main.ts', selection: { anchor: 0, head: 0 } });
    await waitFor("bob's cursor reaches alice", () => aDoc.cursors().some((c) => c.peerId === 'bob-sdk'));

    const disconnects: string[] = [];
    alice.on('disconnected', (d) => disconnects.push(d.reason));
    const a = typist(aDoc, prng(11), 0x4e00); // CJK: one UTF-16 unit each
    const b = typist(bDoc, prng(12), 0x20000); // CJK Ext. B: astral, a surrogate pair each
    const aliceChats: Array<Promise<ChatMessage>> = [];
    const bobChats: Array<Promise<ChatMessage>> = [];
    const chatLoop = async (session: ChorusSession, into: Array<Promise<ChatMessage>>, prefix: string, count: number) => {
      for (let i = 0; i < count; i++) {
        into.push(session.sendChat(`${prefix}${i}`));
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    };
    const chatting = Promise.all([chatLoop(aliceSession, aliceChats, 'a', 12), chatLoop(bobSession, bobChats, 'b', 6)]);

    await waitFor('some edits committed', () => aDoc.version > 20);
    await cluster.processes.get('gateway-1')?.stop('SIGKILL');
    await waitFor('alice reconnected through gateway-2', () => alice.hello?.node_id === 'gateway-2' && aliceSession.state === 'joined', { timeoutMs: 30_000 });
    await waitFor('more edits committed after the reconnect', () => aDoc.version > 60, { timeoutMs: 30_000 });
    await chatting;
    await Promise.all([a.stop(), b.stop()]);

    // Every chat acknowledged, delivered once to the other side, in seq order.
    const aliceSent = await withDeadline('alice chats acked', Promise.all(aliceChats), 30_000);
    const bobSent = await withDeadline('bob chats acked', Promise.all(bobChats), 30_000);
    await waitFor('chats delivered', () => bobSaw.filter((m) => !m.own).length >= 12 && aliceSaw.filter((m) => !m.own).length >= 6);
    const fromAlice = bobSaw.filter((m) => !m.own).map((m) => m.message);
    const fromBob = aliceSaw.filter((m) => !m.own).map((m) => m.message);
    expect(fromAlice).toEqual(aliceSent.sort((x, y) => x.seq - y.seq).map((m) => m.message));
    expect(fromBob).toEqual(bobSent.sort((x, y) => x.seq - y.seq).map((m) => m.message));
    expect(new Set(aliceSent.map((m) => m.seq)).size).toBe(12);
    for (const saw of [aliceSaw, bobSaw]) expect(new Set(saw.map((m) => m.seq)).size).toBe(saw.length);

    // The document converges to the server's text; every typed character is in it exactly once.
    await waitFor('both documents settled', () => !aDoc.pending && !bDoc.pending && aDoc.version === bDoc.version && aDoc.text === bDoc.text, { timeoutMs: 30_000 });
    const server = await bob.request('open_document', { session_id: people.sessionId, doc_id: 'src/main.ts' });
    expect({ text: aDoc.text, version: aDoc.version }).toEqual({ text: server.content, version: server.version });
    expect([...server.content].sort()).toEqual([...a.typed, ...b.typed].sort());
    expect(disconnects.length).toBeGreaterThanOrEqual(1);
    expect(aliceTokenCalls).toBeGreaterThanOrEqual(2); // the provider was asked again for the reconnect

    // Presence was rebuilt after the rejoin, and bob's cursor is still tracked in alice's copy.
    await waitFor("bob's cursor known again after the rejoin", () => aDoc.cursors().some((c) => c.peerId === 'bob-sdk'));
    const cursor = aDoc.cursors().find((c) => c.peerId === 'bob-sdk');
    expect(cursor?.selection.head).toBeLessThanOrEqual([...aDoc.text].length);
  }, 120_000);
});

describe('disconnect codes', () => {
  it('a refused token closes the client for good (4500: no reconnect loop)', async () => {
    const client = track(new ChorusClient({ url: cluster.gateways[1], token: 'not-a-token', onWarning: () => undefined }));
    const closed = new Promise<{ reason: string; code?: number }>((resolve) => client.on('closed', (c) => resolve({ reason: c.reason, code: c.notice?.code })));
    await expect(client.connect()).rejects.toBeInstanceOf(ClientClosedError);
    expect(await closed).toMatchObject({ code: 4500 });
    expect(client.state).toBe('closed');
  });

  it('a draining gateway (SIGTERM) sends the client to another one at once', async () => {
    const extra = startTsProcess('apps/gateway/src/main.ts', { ...cluster.env, LOG_LEVEL: 'log', NODE_ID: 'gateway-3' });
    cluster.processes.set('gateway-3', extra);
    const port = (await extra.waitForLine(/listening on http:\/\/[^:]+:(\d+)/, 60_000))[1];
    const carol = track(new ChorusClient({ url: [`http://127.0.0.1:${port}`, cluster.gateways[1]], token: people.bob.token, peerId: 'bob-drain', onWarning: () => undefined }));
    expect((await carol.connect()).node_id).toBe('gateway-3');
    await carol.session(people.sessionId).join();
    const notices: Array<string | undefined> = [];
    carol.on('disconnected', (d) => notices.push(d.notice?.name));
    const started = Date.now();
    void extra.stop('SIGTERM');
    await waitFor('carol on gateway-2', () => carol.hello?.node_id === 'gateway-2' && carol.session(people.sessionId).state === 'joined', { timeoutMs: 20_000 });
    expect(notices[0]).toBe('draining');
    // Reconnected within the drain's 0–1 s of jitter plus a rejoin, not after a backoff.
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 90_000);
});
