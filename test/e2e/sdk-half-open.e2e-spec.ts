import { createServer, connect, type Server, type Socket } from 'node:net';
import { ChorusClient, type ChatMessage } from '@chorus/client';
import { waitFor, withDeadline } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { SDK_TRANSPORTS } from './support/sdk-transports';
import { startTestStack, type TestStack } from './support/stack';

// A half-open connection: the link goes silent without closing (a NAT that forgot it, a laptop that slept).
// Socket.IO alone notices after its ping interval + timeout (45 s by default); the SDK's heartbeat notices
// within a second here, reconnects (to the next URL: the gateway directly), and recovers what was sent into the
// void: the chat and the keystrokes typed meanwhile. The relay is plain TCP; everything behind it is real.
// Over both transports (Socket.IO and /ws), a relay each.

/** A TCP relay that can go silent: bytes in both directions are dropped, the sockets stay open. */
class SilentRelay {
  private silent = false;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(target: string): Promise<SilentRelay> {
    const { hostname, port } = new URL(target);
    const server = createServer();
    const relay = new SilentRelay(server);
    server.on('connection', (client) => {
      const upstream = connect(Number(port), hostname);
      for (const s of [client, upstream]) {
        relay.sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => relay.sockets.delete(s));
      }
      client.on('data', (chunk) => relay.silent || upstream.write(chunk));
      upstream.on('data', (chunk) => relay.silent || client.write(chunk));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get url(): string {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('relay not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  goSilent(): void {
    this.silent = true;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let stack: TestStack;
const relays: SilentRelay[] = [];
let people: People;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  stack = await startTestStack('sdk_half_open');
  people = await setUpSession(stack.url, 'halfopen');
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await Promise.all(relays.map((r) => r.close()));
  await stack?.stop();
});

describe.each(SDK_TRANSPORTS)('over %s', (name, transport) => {
  it('a silent connection is found by the heartbeat; the client reconnects and nothing sent into the silence is lost', async () => {
    const warnings: string[] = [];
    const relay = await SilentRelay.start(stack.url);
    relays.push(relay);
    const alice = new ChorusClient({ url: [relay.url, stack.url], token: people.alice.token, peerId: `alice-ho-${name}`, transport, heartbeat: { intervalMs: 200, timeoutMs: 600 }, onWarning: (m) => warnings.push(m) });
    const bob = new ChorusClient({ url: stack.url, token: people.bob.token, peerId: `bob-ho-${name}`, transport, onWarning: () => undefined });
    clients.push(alice, bob);
    const aSession = alice.session(people.sessionId);
    const bSession = bob.session(people.sessionId);
    await aSession.join();
    await bSession.join();
    const bobChats: ChatMessage[] = [];
    bSession.on('chat', (m) => bobChats.push(m));
    const aDoc = await aSession.document(`notes-${name}.md`);
    const bDoc = await bSession.document(`notes-${name}.md`);
    aDoc.edit(['start ']);
    await waitFor('first edit committed', () => !aDoc.pending);

    relay.goSilent();
    const started = Date.now();
    const chat = aSession.sendChat('sent into the silence');
    for (const word of ['one ', 'two ', 'three ']) aDoc.edit([[...aDoc.text].length, word]);
    const lost = await new Promise<string>((resolve) => alice.once('disconnected', (d) => resolve(d.reason)));
    expect(lost).toBe('heartbeat timeout');
    expect(Date.now() - started).toBeLessThan(5_000);

    await withDeadline('the chat acknowledged after the reconnect', chat, 20_000);
    await waitFor('bob has the chat', () => bobChats.some((m) => m.message === 'sent into the silence'));
    expect(bobChats.filter((m) => m.message === 'sent into the silence')).toHaveLength(1);
    await waitFor('both copies settled', () => !aDoc.pending && aDoc.version === bDoc.version && aDoc.text === bDoc.text, { timeoutMs: 20_000 });
    expect(bDoc.text).toBe('start one two three ');
    expect(warnings.some((w) => w.includes('no pong'))).toBe(true);
  }, 60_000);
});
