import { request as httpRequest } from 'node:http';
import { Hs256Tokens, IdentityTokens } from '@chorus/auth';
import type { Socket } from 'socket.io-client';
import { waitFor, withDeadline } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { connected as rawConnected, type ErrorMessage } from './support/edge-socket';
import { setUpSession, type People } from './support/scenario';
import { Api, TEST_JWT_SECRET, startTestStack, type TestStack } from './support/stack';

// Hostile input at the gateway edge (issue 11, items 3–5 and 8): text Postgres cannot store, malformed and
// deeply nested frames, binary attachments, garbage floods, framework errors of the REST stack, and the
// Socket.IO transport ceiling — each answered with a typed error, never a 500/SERVER_ERROR, never a stack in
// the error log. Real HTTP requests and the SDK's wire (support/chorus-client.ts) against the whole product; a raw
// socket.io-client only where the test is below the SDK: a pre-encoded engine packet, the WebSocket close code.

const S = '/api/v1/collaboration/sessions';
const NUL = 'a\u0000b';
const LONE = 'a\ud800b';

let stack: TestStack;
let api: Api;
let people: People;
const clients: ChorusClient[] = [];
const rawSockets: Socket[] = [];

beforeAll(async () => {
  stack = await startTestStack('hostile_edge');
  api = new Api(stack.url);
  people = await setUpSession(stack.url, 'hostile');
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  rawSockets.forEach((s) => s.close());
  await stack?.stop();
});

function errorLines(): string[] {
  return stack.logs.lines.filter((l) => (JSON.parse(l) as { level: string }).level === 'error');
}

/** A raw HTTP request (fetch forbids bodies on GET and sets its own encodings). */
function raw(method: string, path: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(path, stack.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ method, hostname: url.hostname, port: url.port, path, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function joined(): Promise<ChorusClient> {
  const client = await ChorusClient.connect(stack.url, people.alice.token);
  clients.push(client);
  await client.ok('join', { session_id: people.sessionId, peer_id: `alice-${clients.length}`, join_token: await people.alice.joinToken() });
  return client;
}

/**
 * A fresh user's connection, not in any session: edge refusals happen before membership is looked at, and a
 * fresh user keeps the per-user budgets of one test from leaking into the next.
 */
async function connected(): Promise<ChorusClient> {
  const client = await ChorusClient.connect(stack.url, await api.devToken(`user-${clients.length}-${Date.now()}`));
  clients.push(client);
  return client;
}

/** Emits anything (the typed client would refuse these shapes) through the SDK's wire and returns the ack. */
async function emitRaw(client: ChorusClient, event: string, payload: unknown): Promise<Record<string, unknown>> {
  return (await client.requestRaw(event, payload)) as unknown as Record<string, unknown>;
}

/** A fresh user's raw socket.io-client socket: for what sits below the SDK (engine packets, close codes). */
async function rawSocket(): Promise<Socket> {
  const socket = await rawConnected(stack.url, await api.devToken(`raw-${rawSockets.length}-${Date.now()}`));
  rawSockets.push(socket);
  return socket;
}

/** JSON nested `depth` arrays deep, written by hand: JSON.stringify itself overflows on it. */
function nestedJson(depth: number): string {
  return `${'['.repeat(depth)}"deep"${']'.repeat(depth)}`;
}

/**
 * Sends a pre-encoded Socket.IO EVENT packet (type 2; the engine adds its own message prefix) without an ack (the client's encoder would overflow on the payload);
 * the server answers with an `error` push instead.
 */
async function sendEncoded(socket: Socket, event: string, payloadJson: string): Promise<Record<string, unknown>> {
  const pushed = withDeadline('an error push', new Promise<ErrorMessage>((resolve) => socket.once('error', resolve)));
  (socket.io.engine as unknown as { send(data: string): void }).send(`2${JSON.stringify([event]).slice(0, -1)},${payloadJson}]`);
  return (await pushed) as unknown as Record<string, unknown>;
}

describe('REST: text Postgres cannot store is refused naming the field', () => {
  it.each([
    ['name', { name: NUL }],
    ['name', { name: LONE }],
    ['project_path', { name: 'ok', project_path: NUL }],
    ['project_path', { name: 'ok', project_path: LONE }],
    ['password', { name: 'ok', password: `pass${NUL}` }],
    ['settings.theme', { name: 'ok', settings: { theme: NUL } }],
    ['settings.a\ufffdb', { name: 'ok', settings: { [NUL]: 1 } }],
  ])('POST /sessions with a bad %s', async (field, body) => {
    const res = await api.request('POST', S, { token: people.alice.token, body });
    expect(res).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field } });
  });

  it.each(['PATCH', 'DELETE'])('%s /participants/%%00 is VALIDATION_ERROR on userId; an encoded lone surrogate on the path', async (method) => {
    // An encoded surrogate (%ED%A0%80) is not valid UTF-8, so it can never even decode into a parameter.
    for (const [userId, field] of [['%00', 'userId'], ['a%00b', 'userId'], ['%ED%A0%80', 'path']]) {
      const res = await api.request(method, `${S}/${people.sessionId}/participants/${userId}`, { token: people.alice.token, ...(method === 'PATCH' ? { body: { role: 'viewer' } } : {}) });
      expect({ userId, status: res.status, code: res.body.code, field: res.body.field }).toEqual({ userId, status: 400, code: 'VALIDATION_ERROR', field });
    }
  });

  it('dev-token refuses NUL and lone surrogates, and a token already minted with one is refused, not a 500', async () => {
    for (const [field, body] of [
      ['user_id', { user_id: NUL, display_name: 'x' }],
      ['user_id', { user_id: LONE, display_name: 'x' }],
      ['display_name', { user_id: 'eve', display_name: NUL }],
    ] as const) {
      expect(await api.request('POST', '/api/v1/auth/dev-token', { body })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field } });
    }
    const keys = new Hs256Tokens(TEST_JWT_SECRET);
    const minted = new IdentityTokens(keys, keys).mintAccess({ user_id: NUL, display_name: 'Eve', kind: 'human' }, 60);
    expect(await api.request('GET', S, { token: minted })).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
  });

  it('an invite code with NUL and a query with NUL are VALIDATION_ERROR', async () => {
    expect(await api.request('POST', '/api/v1/collaboration/invites/ABC%00DEF/redeem', { token: people.bob.token, body: {} })).toMatchObject({ status: 400, body: { field: 'code' } });
    expect(await api.request('GET', `${S}/${people.sessionId}/history?after_seq=%00`, { token: people.alice.token })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'after_seq' } });
  });

  it('a deeply nested body is refused before anything recursive runs', async () => {
    const res = await api.request('POST', S, { token: people.alice.token, body: `{"name":"deep","settings":{"x":${nestedJson(20_000)}}}` });
    expect(res).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'settings' } });
    expect(res.body.message).toMatch(/nest/i);
  });
});

describe('REST: framework errors get their protocol code', () => {
  const big = JSON.stringify({ name: 'x'.repeat(200 * 1024) });

  it.each([
    ['POST', S],
    ['POST', '/api/v1/auth/dev-token'],
    ['GET', '/health/live'],
    ['GET', '/health/ready'],
    ['GET', '/metrics'],
  ])('a body over 100 KB on %s %s is 413 PAYLOAD_TOO_LARGE', async (method, path) => {
    const res = await raw(method, path, big, { authorization: `Bearer ${people.alice.token}` });
    expect(res).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('an unknown Content-Encoding, a gzip header on plain JSON and an unknown charset are 400 naming the header', async () => {
    const auth = { authorization: `Bearer ${people.alice.token}` };
    expect(await raw('POST', S, '{"name":"x"}', { ...auth, 'content-encoding': 'bogus' })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'content-encoding' } });
    expect(await raw('POST', S, '{"name":"x"}', { ...auth, 'content-encoding': 'gzip' })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'content-encoding' } });
    expect(await raw('POST', S, '{"name":"x"}', { ...auth, 'content-type': 'application/json; charset=klingon' })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'content-type' } });
  });

  it('a path that is not valid percent-encoding is 400 naming the path, not "body is not valid JSON"', async () => {
    const res = await api.request('GET', `${S}/%FF`, { token: people.alice.token });
    expect(res).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'path' } });
    expect(res.body.message).not.toMatch(/JSON/);
  });

  it('documents 400 and 413 on every operation in the OpenAPI', async () => {
    const doc = (await api.request<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>('GET', '/api/docs-json')).body;
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ op: `${method} ${path}`, statuses: Object.keys(op.responses) })));
    expect(operations.length).toBeGreaterThan(10);
    for (const { op, statuses } of operations) expect({ op, has: ['400', '413'].every((s) => statuses.includes(s)) }).toEqual({ op, has: true });
  });

  it('logged none of these as errors', () => {
    expect(errorLines()).toEqual([]);
  });
});

describe('WebSocket: malformed input', () => {
  it('chat with NUL or a lone surrogate is VALIDATION_ERROR on message', async () => {
    const client = await joined();
    for (const message of [NUL, LONE, '\udc00']) {
      expect(await emitRaw(client, 'chat_message', { session_id: people.sessionId, message })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'message' });
    }
    expect(await emitRaw(client, 'open_document', { session_id: people.sessionId, doc_id: 'src/\ud800.rs' })).toMatchObject({ code: 'VALIDATION_ERROR', field: 'doc_id' });
    expect(await emitRaw(client, 'submit_op', { session_id: people.sessionId, doc_id: 'a.txt', version: 0, op: [NUL], seq: 1 })).toMatchObject({ code: 'VALIDATION_ERROR', field: 'op.0' });
  });

  it('a type with a toString trick, 5,000 levels of nesting and a binary attachment are typed errors', async () => {
    const client = await connected();
    expect(await emitRaw(client, 'ping', { type: { toString: 1 } })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'type' });
    expect(await emitRaw(client, 'ping', { type: { valueOf: 1, toString: 1 } })).toMatchObject({ code: 'VALIDATION_ERROR', field: 'type' });
    // No encoder can write 5,000 levels (the SDK's neither): a pre-encoded packet on a raw socket.
    const raw = await rawSocket();
    const deep = await sendEncoded(raw, 'chat_message', `{"session_id":"${people.sessionId}","message":${nestedJson(5_000)}}`);
    expect(deep).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'message' });
    expect(deep.message).toMatch(/nest/i);
    expect(await raw.timeout(10_000).emitWithAck('ping', {})).toMatchObject({ type: 'pong' });
    const binary = await emitRaw(client, 'chat_message', { session_id: people.sessionId, message: Buffer.from('hello') });
    expect(binary).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'message' });
    expect(binary.message).toMatch(/binary/i);
    // Well-formed after all that: past validation, refused only because this user is in no session.
    expect(await emitRaw(client, 'chat_message', { session_id: people.sessionId, message: 'still fine' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  });

  it('garbage counts against the sender’s budget: RATE_LIMITED after it, for known and unknown types', async () => {
    const client = await connected();
    // chat: 10 per connection per 5 s. Sent at once, so the window cannot roll over inside the burst.
    const chat = await Promise.all(Array.from({ length: 14 }, () => emitRaw(client, 'chat_message', { session_id: people.sessionId, message: 42 })));
    expect(chat.filter((r) => r.code === 'VALIDATION_ERROR')).toHaveLength(10);
    expect(chat.filter((r) => r.code === 'RATE_LIMITED')).toHaveLength(4);
    const other = await connected();
    const unknown = await Promise.all(Array.from({ length: 14 }, () => emitRaw(other, 'drop_tables', { x: 1 })));
    expect(unknown.filter((r) => r.code === 'VALIDATION_ERROR').length).toBeLessThan(14);
    expect(unknown.filter((r) => r.code === 'RATE_LIMITED').length).toBeGreaterThan(0);
  });

  it('counts refusals by code in /metrics and logs none of them as errors', async () => {
    const metrics = await (await fetch(`${stack.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/chorus_ws_refused_total\{[^}]*code="VALIDATION_ERROR"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/chorus_ws_refused_total\{[^}]*code="RATE_LIMITED"[^}]*\} [1-9]/);
    expect(errorLines()).toEqual([]);
  });
});

describe('WebSocket: the transport ceiling (1 MiB)', () => {
  it('a 300 KB message and one just under the ceiling are acked PAYLOAD_TOO_LARGE; the connection stays up', async () => {
    const client = await connected();
    for (const size of [300 * 1024, 1024 * 1024 - 512]) {
      const reply = await emitRaw(client, 'chat_message', { session_id: people.sessionId, message: 'x'.repeat(size - 100) });
      expect({ size, code: reply.code }).toEqual({ size, code: 'PAYLOAD_TOO_LARGE' });
    }
    expect(client.connected).toBe(true);
    expect(await emitRaw(client, 'ping', {})).toMatchObject({ type: 'pong' });
  });

  it('a message over the ceiling closes the connection ("transport close", WebSocket close code 1009)', async () => {
    // The close code is the engine's (below the SDK, which sees only "transport close"): a raw socket.
    const socket = await rawSocket();
    const closed = new Promise<{ reason: string; code: unknown }>((resolve) =>
      socket.once('disconnect', (reason, details) => resolve({ reason, code: (details as { context?: { code?: unknown } } | undefined)?.context?.code })),
    );
    socket.emit('chat_message', { session_id: people.sessionId, message: 'x'.repeat(1024 * 1024 + 1024) });
    // The close event is the engine's WebSocket close frame: 1009 = "message too big".
    expect(await closed).toEqual({ reason: 'transport close', code: 1009 });
    await waitFor('the server dropped the socket', () => !socket.connected);
  });

  it('the same message through the SDK: its one connection ends and the request rejects (no ack), never hangs', async () => {
    const client = await connected();
    await expect(client.requestRaw('chat_message', { session_id: people.sessionId, message: 'x'.repeat(1024 * 1024 + 1024) })).rejects.toMatchObject({ name: 'ConnectionLostError' });
    await waitFor('the SDK client closed (reconnect off)', () => client.sdk.state === 'closed');
  });
});
