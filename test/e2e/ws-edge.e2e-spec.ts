import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { CLIENT_MESSAGES, type ClientMessageType, type ServerMessage } from '@chorus/protocol';
import { waitFor, withDeadline } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { edgeAgent } from './support/edge-agent';
import { edgePeer } from './support/edge-peer';
import { EDGE_ROWS, type EdgeContext, type Send } from './support/edge-table';
import { setUpSession, type People } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';
import { WsClient, wsUrl, type Frame } from './support/ws-client';

// The plain WebSocket endpoint /ws through the `ws` npm client: the seed clients' frames verbatim (Pulsar
// join/chat/leave, `id` correlation), every client message type of the edge table over /ws (the same handlers as
// Socket.IO: one protocol, two transports), malformed frames answered and the connection kept, the three ways to
// authenticate, the heartbeat closing a silent peer (its presence leaves), and the drain's close code. A short
// heartbeat and auth deadline keep it fast; the cross-gateway half is ws-cluster.e2e-spec.ts.

const PING_MS = 300;
const AUTH_TIMEOUT_MS = 1_500;
const CAP = 12;

let stack: TestStack;
let people: People;
const open: Array<{ close(): void }> = [];
let counter = 0;

beforeAll(async () => {
  stack = await startTestStack('ws_edge', { env: { WS_PING_INTERVAL_MS: String(PING_MS), WS_AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS), MAX_CONNECTIONS_PER_USER: String(CAP), CORS_ORIGINS: 'https://app.example' } });
  people = await setUpSession(stack.url, 'ws');
});
afterAll(async () => {
  for (const c of open) c.close();
  await stack?.stop();
});

async function ws(token = people.alice.token): Promise<WsClient> {
  const c = await WsClient.connect(stack.url, token);
  open.push(c);
  return c;
}

describe('seed frames, verbatim', () => {
  it('Pulsar: join, chat (restating session_id and peer_id), leave — a Socket.IO member sees each', async () => {
    const bob = await ChorusClient.connect(stack.url, people.bob.token);
    open.push(bob);
    await bob.ok('join', { session_id: people.sessionId, peer_id: 'bob-sio', join_token: await people.bob.joinToken() });
    const alice = await ws();
    const sessionId = people.sessionId;

    const joined = await alice.request({ type: 'join', session_id: sessionId, peer_id: 'pulsar-1', join_token: await people.alice.joinToken() });
    expect(joined).toMatchObject({ type: 'joined', session_id: sessionId, peer_id: 'pulsar-1' });
    await bob.waitForPush('peer_joined', (p) => p.peer_id === 'pulsar-1');

    // Pulsar's chat frame restates who is sending: accepted when it is this connection.
    const chat = await alice.request({ type: 'chat_message', session_id: sessionId, peer_id: 'pulsar-1', message: 'hello from pulsar' });
    expect(chat).toMatchObject({ type: 'chat_message', session_id: sessionId, peer_id: 'pulsar-1', message: 'hello from pulsar', seq: expect.any(Number) });
    await bob.waitForPush('chat_message', (m) => m.message === 'hello from pulsar' && m.peer_id === 'pulsar-1');
    // ...and refused when it names another peer (or user): nobody speaks as someone else.
    expect(await alice.request({ type: 'chat_message', session_id: sessionId, peer_id: 'bob-sio', message: 'spoofed' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', field: 'peer_id' });
    expect(await alice.request({ type: 'chat_message', session_id: sessionId, user_id: 'someone-else', message: 'spoofed' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', field: 'user_id' });
    // In exactly one session, session_id may be left out.
    expect(await alice.request({ type: 'chat_message', message: 'no session_id' })).toMatchObject({ type: 'chat_message', session_id: sessionId, message: 'no session_id' });
    // The same seed frame on Socket.IO: the rule is the edge's, not the transport's.
    expect(await bob.request('chat_message', { session_id: sessionId, peer_id: 'bob-sio', message: 'restated on socket.io' } as never)).toMatchObject({ type: 'chat_message', peer_id: 'bob-sio' });
    expect(await bob.request('chat_message', { session_id: sessionId, peer_id: 'pulsar-1', message: 'spoofed' } as never)).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', field: 'peer_id' });
    expect(await bob.request('chat_message', { message: 'socket.io without session_id' } as never)).toMatchObject({ type: 'chat_message', session_id: sessionId });
    const pushed = await alice.next((f) => f.type === 'chat_message' && f.message === 'restated on socket.io');
    expect(pushed).not.toHaveProperty('id');

    expect(await alice.request({ type: 'leave', session_id: sessionId })).toMatchObject({ type: 'left', session_id: sessionId });
    await bob.waitForPush('peer_left', (p) => p.peer_id === 'pulsar-1');
    bob.close();
  });

  it('answers {"id":"req-1","type":"join",...} with the same id (strings and numbers)', async () => {
    const c = await ws();
    const frame = JSON.stringify({ id: 'req-1', type: 'join', session_id: people.sessionId, peer_id: 'typed-1', join_token: await people.alice.joinToken() });
    const from = c.frames.length;
    c.send(frame);
    expect(await c.next((f) => f.id === 'req-1')).toMatchObject({ type: 'joined', id: 'req-1', peer_id: 'typed-1' });
    expect(c.frames.slice(from).filter((f) => f.id === 'req-1')).toHaveLength(1);
    expect(await c.request({ id: 7, type: 'ping' })).toMatchObject({ type: 'pong', id: 7 });
    c.close();
  });

  it('answers malformed JSON, an unknown type, a non-object, a binary frame and an oversized message with error frames, and keeps the connection', async () => {
    const c = await ws();
    const errors = () => c.frames.filter((f) => f.type === 'error');
    c.send('{"type": "join", oops');
    expect(await c.next((f) => f.type === 'error' && f.field === '(message)')).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('not valid JSON') });
    expect(await c.request({ type: 'no_such_message', id: 'u-1' })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'type', id: 'u-1' });
    c.send('[1,2,3]');
    await waitFor('the non-object refused', () => errors().find((f) => f.type === 'error' && f.message.includes('JSON object')));
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await c.next((f) => f.type === 'error' && f.field === '(frame)')).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('Binary frames') });
    expect(await c.request({ type: 'ping', id: 'big', pad: 'x'.repeat(1_000) })).toMatchObject({ type: 'error', code: 'PAYLOAD_TOO_LARGE', id: 'big' });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect(await c.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    c.close();
  });
});

describe('every client message type over /ws (the edge table: the same handlers as Socket.IO)', () => {
  it.each(Object.keys(CLIENT_MESSAGES) as ClientMessageType[])('%s: replied with its reply type and id; malformed → VALIDATION_ERROR with the id', async (type) => {
    const row = EDGE_ROWS[type];
    // Every row joins the session once: the rows alternate between the two users, so the table stays within one
    // user's join budget (30 per 10 s) however many message types there are. Agent rows are sent by an agent.
    const [person, personId] = Object.keys(CLIENT_MESSAGES).indexOf(type) % 2 === 0 ? [people.alice, 'alice-ws'] : [people.bob, 'bob-ws'];
    const agent = row.as === 'agent' ? await edgeAgent(stack.url, people, `ws-edge-${type}`) : undefined;
    const c = await ws(agent?.token ?? person.token);
    const ctx: EdgeContext = {
      sessionId: people.sessionId,
      peerId: `ws-edge-${type}`,
      userId: agent?.userId ?? personId,
      joinToken: await (agent ?? person).joinToken(),
      accessToken: agent?.token ?? person.token,
      next: () => ++counter,
      ...(agent ? { queuePrompt: () => agent.queuePrompt() } : {}),
      ...edgePeer(stack.url, person === people.alice ? people.bob : people.alice, people.sessionId, `ws-edge-${type}-peer`),
    };
    let joined = false;
    const send: Send = async (t, body) => {
      const reply = (await c.request({ ...body, type: t })) as ServerMessage;
      if (reply.type === 'joined') joined = true;
      if (reply.type === 'left') joined = false;
      return reply;
    };
    for (const id of [`ws-${type}`, 4242]) {
      if (row.joined && !joined) expect(await send('join', { session_id: ctx.sessionId, peer_id: ctx.peerId, join_token: ctx.joinToken })).toMatchObject({ type: 'joined' });
      if (!row.joined && joined) expect(await send('leave', { session_id: ctx.sessionId })).toMatchObject({ type: 'left' });
      const body = await (row.valid as (x: EdgeContext, s: Send) => Promise<Record<string, unknown>>)(ctx, send);
      const reply = await send(type, { ...body, id });
      expect(reply).toMatchObject({ type: row.reply, id });
      (row.check as (r: ServerMessage, x: EdgeContext, sent: Record<string, unknown>) => void)(reply, ctx, body);
    }
    const refusal = { type: 'error', code: 'VALIDATION_ERROR', retryable: false, ...(row.field !== undefined ? { field: row.field } : {}) };
    // session_id is given in every malformed row that needs one: nothing is filled in for it.
    expect(await c.request({ ...row.malformed(ctx), type, id: `bad-${type}` })).toMatchObject({ ...refusal, id: `bad-${type}` });
    c.close();
  });
});

describe('authentication', () => {
  it('by header: hello at once, no frame needed', async () => {
    const c = await WsClient.open(stack.url, { token: people.alice.token });
    open.push(c);
    expect(await c.next((f) => f.type === 'hello')).toMatchObject({ type: 'hello', protocol_version: 1, node_id: expect.any(String), limits: expect.objectContaining({ join: 8192 }) });
    // The client offered permessage-deflate (ws does by default); off unless WS_PERMESSAGE_DEFLATE (ws-deflate spec).
    expect(c.ws.extensions).toBe('');
    c.close();
  });

  it('by a first auth frame, answered hello with its id; frames before it are UNAUTHENTICATED', async () => {
    const c = await WsClient.open(stack.url);
    open.push(c);
    expect(await c.request({ type: 'ping', id: 'early' })).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED', id: 'early' });
    expect(await c.request({ type: 'auth', id: 'a-1', token: people.alice.token })).toMatchObject({ type: 'hello', id: 'a-1', protocol_version: 1 });
    expect(await c.request({ type: 'ping', id: 'later' })).toMatchObject({ type: 'pong', id: 'later' });
    expect(await c.request({ type: 'auth', id: 'a-2', token: people.alice.token })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', id: 'a-2' });
    c.close();
  });

  it('reads nothing large before authentication, and closes a connection that keeps sending without it (4500)', async () => {
    const c = await WsClient.open(stack.url);
    // Not parsed, so not even its id is read: the error comes without one.
    c.send({ type: 'ping', id: 'big-early', pad: 'x'.repeat(20_000) });
    expect(await c.next((f) => f.type === 'error')).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(c.frames[0]).not.toHaveProperty('id');
    for (let i = 0; i < 9; i++) expect(await c.request({ type: 'ping', id: `early-${i}` })).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED' });
    c.send({ type: 'ping', id: 'one-too-many' });
    expect(await withDeadline('the connection to be closed', c.closed)).toMatchObject({ code: 4500 });
    expect(c.frames.at(-1)).toMatchObject({ type: 'disconnect_notice', code: 4500 });
  });

  it('refuses a bad token with an error, a disconnect_notice and close code 4500', async () => {
    const c = await WsClient.open(stack.url);
    c.send({ type: 'auth', id: 'bad', token: 'not-a-token' });
    expect(await withDeadline('the close', c.closed)).toMatchObject({ code: 4500 });
    expect(c.frames.map((f) => f.type)).toEqual(['error', 'disconnect_notice']);
    expect(c.frames[0]).toMatchObject({ code: 'UNAUTHENTICATED', id: 'bad' });
    expect(c.frames[1]).toMatchObject({ code: 4500, name: 'unauthenticated', reconnect: false });
  });

  it('by a single-use ticket from REST: a second use is refused with 4500', async () => {
    const res = await fetch(`${stack.url}/api/v1/auth/ws-ticket`, { method: 'POST', headers: { authorization: `Bearer ${people.bob.token}` } });
    expect(res.status).toBe(201);
    const { ticket, expires_in } = (await res.json()) as { ticket: string; expires_in: number };
    expect(expires_in).toBeLessThanOrEqual(60);
    const first = await WsClient.open(stack.url, { ticket });
    open.push(first);
    expect(await first.next((f) => f.type === 'hello')).toMatchObject({ type: 'hello' });
    expect(await first.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    const again = await WsClient.open(stack.url, { ticket });
    expect(await withDeadline('the reused ticket to be refused', again.closed)).toMatchObject({ code: 4500 });
    expect(again.frames[0]).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED', message: expect.stringContaining('ticket') });
    // Without an access token no ticket is minted.
    expect((await fetch(`${stack.url}/api/v1/auth/ws-ticket`, { method: 'POST' })).status).toBe(401);
    first.close();
  });

  it('counts /ws and Socket.IO connections against one MAX_CONNECTIONS_PER_USER: over it, 4502 after the error', async () => {
    const token = await (async () => {
      const res = await fetch(`${stack.url}/api/v1/auth/dev-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: 'ws-capped', display_name: 'Capped' }) });
      return ((await res.json()) as { access_token: string }).access_token;
    })();
    const sio = await ChorusClient.connect(stack.url, token);
    open.push(sio);
    const conns: WsClient[] = [];
    for (let i = 0; i < CAP - 1; i++) conns.push(await ws(token));
    const over = await WsClient.open(stack.url, { token });
    expect(await withDeadline('the connection over the cap to close', over.closed)).toMatchObject({ code: 4502 });
    expect(over.frames.map((f) => f.type)).toEqual(['error', 'disconnect_notice']);
    expect(over.frames[0]).toMatchObject({ code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) });
    conns[0].close();
    // The slot is freed when the server has handled the close (asynchronously): poll with a deadline.
    const again = await waitFor('a connection admitted after one closed', async () => {
      const c = await WsClient.open(stack.url, { token });
      const first = await c.next(() => true);
      if (first.type === 'hello') return c;
      c.close();
      return undefined;
    });
    open.push(again);
    for (const c of conns) c.close();
    sio.close();
  });

  it('refuses another protocol_version with 4501', async () => {
    const c = await WsClient.open(stack.url, { token: people.alice.token, query: 'protocol_version=2' });
    expect(await withDeadline('the mismatched connection to close', c.closed)).toMatchObject({ code: 4501 });
    expect(c.frames[0]).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'protocol_version' });
  });

  it(`closes a connection that never authenticates after WS_AUTH_TIMEOUT_MS with 4500 (it outlives engine.io's 1 s upgrade cut)`, async () => {
    const c = await WsClient.open(stack.url);
    const opened = Date.now();
    const closed = await withDeadline('the unauthenticated connection to close', c.closed, AUTH_TIMEOUT_MS + 5_000);
    expect(closed.code).toBe(4500);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 100);
    expect(c.frames.at(-1)).toMatchObject({ type: 'disconnect_notice', code: 4500 });
  });

  it('refuses a browser origin that CORS_ORIGINS does not allow (403 before any WebSocket), admits a listed one, and answers other paths 404', async () => {
    const refused = await new Promise<number>((resolve, reject) => {
      const w = new WebSocket(wsUrl(stack.url), { headers: { origin: 'https://evil.example' } });
      w.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      w.once('open', () => reject(new Error('opened')));
      w.once('error', () => undefined);
    });
    expect(refused).toBe(403);
    const listed = await WsClient.connect(stack.url, people.alice.token, { headers: { origin: 'https://app.example' } });
    listed.close();
    const other = await new Promise<number>((resolve) => {
      const req = httpRequest(`${stack.url}/not-a-socket`, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.once('response', (res) => resolve(res.statusCode ?? 0));
      req.once('upgrade', () => resolve(101));
      req.once('error', () => resolve(-1));
      req.end();
    });
    expect(other).toBe(404);
  });
});

describe('heartbeat', () => {
  it('closes a client that stops answering pings within ~2 intervals, and its presence leaves', async () => {
    const watcher = await ws(people.bob.token);
    expect(await watcher.request({ type: 'join', session_id: people.sessionId, peer_id: 'bob-watcher', join_token: await people.bob.joinToken() })).toMatchObject({ type: 'joined' });
    const silent = await WsClient.open(stack.url, { token: people.alice.token, autoPong: false });
    expect(await silent.request({ type: 'join', session_id: people.sessionId, peer_id: 'silent-1', join_token: await people.alice.joinToken() })).toMatchObject({ type: 'joined' });
    const joinedAt = Date.now();
    const closed = await withDeadline('the silent client to be closed', silent.closed, 10 * PING_MS + 5_000);
    // terminate(): no close frame, the client sees an abnormal closure.
    expect(closed.code).toBe(1006);
    expect(Date.now() - joinedAt).toBeLessThan(2 * PING_MS + 1_000);
    await watcher.next((f) => f.type === 'presence_left' && f.peer_id === 'silent-1');
    await watcher.next((f) => f.type === 'peer_left' && f.peer_id === 'silent-1');
    // A client that answers stays: the watcher lived through many intervals.
    expect(await watcher.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    watcher.close();
  });
});

describe('drain', () => {
  it('closes /ws connections with disconnect_notice and close code 4000 (draining)', async () => {
    // Bob, not Alice: the edge table's rows spend most of Alice's join budget (30 per 10 s) just before.
    const c = await ws(people.bob.token);
    expect(await c.request({ type: 'join', session_id: people.sessionId, peer_id: 'drained', join_token: await people.bob.joinToken() })).toMatchObject({ type: 'joined' });
    const stopping = stack.chorus.stop();
    const closed = await withDeadline('the drained connection to close', c.closed, 15_000);
    expect(closed).toMatchObject({ code: 4000, reason: 'draining' });
    expect(c.frames.at(-1)).toMatchObject({ type: 'disconnect_notice', code: 4000, name: 'draining', reconnect: true } satisfies Partial<Frame>);
    await withDeadline('the stack to stop', stopping, 20_000);
    // stop() is idempotent enough for afterAll: mark it done.
    stack = { ...stack, stop: () => stack.db.drop() };
  });
});
