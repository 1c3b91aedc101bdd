import { ChorusClient, type ChorusSession } from '@chorus/client';
import type { ServerMessage } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { SDK_TRANSPORTS } from './support/sdk-transports';
import { Api, startTestStack, type TestStack } from './support/stack';

// The SDK's hooks for tools and tests (issue #12, "use it ourselves"): `reconnect: false` (one connection, then
// closed for good), the `message` tap (every server message outside a reply, as it came) and `requestRaw` (any
// event, any payload; the ack as the server sent it). The e2e suite's own client (support/chorus-client.ts) and
// the load tests are built on them; here they are pinned down on both transports against a whole stack.

let stack: TestStack;
let people: People;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  stack = await startTestStack('sdk_one_connection');
  people = await setUpSession(stack.url, 'sdk_one');
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

describe.each(SDK_TRANSPORTS)('over %s', (name, transport) => {
  it('the message tap sees hello first, then the pushes of a session joined with requestRaw; error replies are values', async () => {
    const client = new ChorusClient({ url: stack.url, token: people.bob.token, transport, reconnect: false, heartbeat: false });
    clients.push(client);
    const seen: ServerMessage[] = [];
    client.on('message', (m) => seen.push(m));
    await client.connect();
    expect(seen.map((m) => m.type)).toEqual(['hello']);

    // No ChorusSession: the SDK routes nothing, the tap still sees the session's pushes.
    const joined = await client.requestRaw('join', { session_id: people.sessionId, peer_id: `bob-raw-${name}`, join_token: await people.bob.joinToken() });
    expect(joined).toMatchObject({ type: 'joined', session_id: people.sessionId });
    const alice = new ChorusClient({ url: stack.url, token: people.alice.token, transport, peerId: `alice-${name}` });
    clients.push(alice);
    const session: ChorusSession = alice.session(people.sessionId);
    await session.join();
    const chat = await session.sendChat(`hello over ${name}`);
    await waitFor('the chat reaches the tap', () => seen.some((m) => m.type === 'chat_message' && m.seq === chat.seq));
    await session.leave();

    // An invalid payload is answered, not thrown: the ack as it came, with its field.
    expect(await client.requestRaw('chat_message', { session_id: 42, message: 'x' })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'session_id' });
    expect(await client.requestRaw('no_such_message', {})).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR' });
    // The typed request of the same rejects with the ChorusError of its code.
    await expect(client.request('chat_message', { session_id: 42, message: 'x' } as never)).rejects.toMatchObject({ name: 'ChorusError', code: 'VALIDATION_ERROR' });
    expect(client.state).toBe('connected');
  });
});

describe.each(SDK_TRANSPORTS)('reconnect: false over %s', (name, transport) => {
  it('a lost connection (its gateway drains and stops) is not retried: closed with the notice, requests rejected', async () => {
    const own = await startTestStack(`sdk_one_stop_${name.replace(/\W/g, '_')}`);
    let stopped = false;
    try {
      const token = await new Api(own.url).devToken(`sdk-one-stop-${name}`);
      const client = new ChorusClient({ url: own.url, token, transport, reconnect: false, heartbeat: false });
      clients.push(client);
      const closed = new Promise<{ reason: string; code?: number }>((resolve) => client.once('closed', (c) => resolve({ reason: c.reason, code: c.notice?.code })));
      const disconnected: boolean[] = [];
      client.on('disconnected', (d) => disconnected.push(d.willReconnect));
      await client.connect();
      await own.stop();
      stopped = true;
      // Draining (4000) allows a reconnect; with reconnect off the client stops instead.
      expect(await closed).toMatchObject({ code: 4000, reason: expect.stringMatching(/^reconnect is off: draining \(4000\)/) });
      expect(disconnected).toEqual([false]);
      expect(client.state).toBe('closed');
      await expect(client.requestRaw('ping', {})).rejects.toMatchObject({ name: 'ClientClosedError' });
    } finally {
      if (!stopped) await own.stop();
    }
  });
});

it('requestRaw: an event name Socket.IO reserves rejects at once (nothing left pending); the connection carries on', async () => {
  const client = new ChorusClient({ url: stack.url, token: people.bob.token, reconnect: false, heartbeat: false });
  clients.push(client);
  await client.connect();
  await expect(client.requestRaw('disconnect', {}, { timeoutMs: 5_000 })).rejects.toThrow(/reserved/);
  expect(await client.requestRaw('ping', {})).toMatchObject({ type: 'pong' });
});
