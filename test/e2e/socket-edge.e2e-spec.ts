import type { Socket } from 'socket.io-client';
import { Hs256Tokens } from '@chorus/auth';
import { CLIENT_MESSAGES, PROTOCOL_VERSION, type ClientMessageType, type ServerMessage } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { edgeAgent } from './support/edge-agent';
import { edgePeer } from './support/edge-peer';
import { EDGE_ROWS, type EdgeContext, type Send } from './support/edge-table';
import { connected, errorPush, handshake, type ConnectError } from './support/edge-socket';
import { setUpSession, type People } from './support/scenario';
import { TEST_JWT_SECRET, startTestStack, type TestStack } from './support/stack';

// The Socket.IO edge, table-driven (support/edge-table.ts): every client message type through a real
// socket.io-client — acked with its reply type and the request's `id` echoed (a string and a number), a malformed
// one acked VALIDATION_ERROR, and the same sent without an ack callback answered by an `error` push carrying the
// id — plus every handshake refusal with the typed error in `connect_error`'s data. Draining: socket-drain.e2e-spec.ts.
// Run in-process and with Redis (transport, rate-limit counters and connection leases in Redis).

const CAP = 3;

describe.each([
  ['in-process', false],
  ['Redis', true],
] as const)('the socket edge (%s)', (_label, redis) => {
  let stack: TestStack;
  let people: People;
  const sockets: Socket[] = [];
  let counter = 0;

  beforeAll(async () => {
    stack = await startTestStack(redis ? 'socket_edge_redis' : 'socket_edge', { redis, env: { MAX_CONNECTIONS_PER_USER: String(CAP) } });
    people = await setUpSession(stack.url, 'edge');
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await stack?.stop();
  });

  describe('every client message type through a real socket', () => {
    it('has a row for every type in CLIENT_MESSAGES, and none for a type that does not exist', () => {
      expect(Object.keys(EDGE_ROWS).sort()).toEqual(Object.keys(CLIENT_MESSAGES).sort());
    });

    it.each(Object.keys(CLIENT_MESSAGES) as ClientMessageType[])('%s: acked with its reply and id (string and number); malformed → VALIDATION_ERROR, acked or pushed', async (type) => {
      const row = EDGE_ROWS[type];
      if (!row) throw new Error(`no row for client message type ${type} in test/e2e/support/edge-table.ts`);
      // Every row joins the session once: the rows alternate between the two users, so the table stays within one
      // user's join budget (30 per 10 s) however many message types there are. Agent rows are sent by an agent.
      const [person, personId] = Object.keys(CLIENT_MESSAGES).indexOf(type) % 2 === 0 ? [people.alice, 'alice-edge'] : [people.bob, 'bob-edge'];
      const agent = row.as === 'agent' ? await edgeAgent(stack.url, people, `edge-${type}`) : undefined;
      const socket = await connected(stack.url, agent?.token ?? person.token);
      sockets.push(socket);
      const ctx: EdgeContext = {
        sessionId: people.sessionId,
        peerId: `edge-${type}`,
        userId: agent?.userId ?? personId,
        joinToken: await (agent ?? person).joinToken(),
        accessToken: agent?.token ?? person.token,
        next: () => ++counter,
        ...(agent ? { queuePrompt: () => agent.queuePrompt() } : {}),
        ...edgePeer(stack.url, person === people.alice ? people.bob : people.alice, people.sessionId, `edge-${type}-peer`),
      };
      let joined = false;
      const send: Send = async (t, body) => {
        const reply = (await socket.timeout(10_000).emitWithAck(t, body)) as ServerMessage;
        if (reply.type === 'joined') joined = true;
        if (reply.type === 'left') joined = false;
        return reply;
      };
      const expectOk = async (t: ClientMessageType, body: Record<string, unknown>) => expect(await send(t, body)).not.toMatchObject({ type: 'error' });

      for (const id of [`req-${type}`, 4242]) {
        if (row.joined && !joined) await expectOk('join', { session_id: ctx.sessionId, peer_id: ctx.peerId, join_token: ctx.joinToken });
        if (!row.joined && joined) await expectOk('leave', { session_id: ctx.sessionId });
        const body = await (row.valid as (c: EdgeContext, s: Send) => Promise<Record<string, unknown>>)(ctx, send);
        const reply = await send(type, { ...body, id });
        expect(reply).toMatchObject({ type: row.reply, id });
        (row.check as (r: ServerMessage, c: EdgeContext, sent: Record<string, unknown>) => void)(reply, ctx, body);
      }

      const refusal = { type: 'error', code: 'VALIDATION_ERROR', retryable: false, ...(row.field !== undefined ? { field: row.field } : {}) };
      expect(await send(type, { ...row.malformed(ctx), id: `bad-${type}` })).toMatchObject({ ...refusal, id: `bad-${type}` });
      const pushed = errorPush(socket, 7007);
      socket.emit(type, { ...row.malformed(ctx), id: 7007 });
      expect(await pushed).toMatchObject({ ...refusal, id: 7007 });
      socket.close();
    });

    it('pushes a handler-level refusal as an error with the id when the request had no ack callback', async () => {
      const socket = await connected(stack.url, people.bob.token);
      sockets.push(socket);
      // Not joined: the schema accepts the message, the handler refuses it.
      const pushed = errorPush(socket, 'no-ack-chat');
      socket.emit('chat_message', { id: 'no-ack-chat', session_id: people.sessionId, message: 'hello?' });
      expect(await pushed).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', retryable: false, id: 'no-ack-chat' });
      // An unknown message type without an ack: refused the same way, the id still echoed.
      const unknown = errorPush(socket, 99);
      socket.emit('no_such_message', { id: 99 });
      expect(await unknown).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', id: 99 });
      socket.close();
    });
  });

  describe('FILE_LOCKED says who holds the lock, until when, and how long to wait', () => {
    it('on submit_op and on lock_file, across the service transport', async () => {
      const alice = await connected(stack.url, people.alice.token);
      const bob = await connected(stack.url, people.bob.token);
      sockets.push(alice, bob);
      const send = (socket: Socket, type: string, body: Record<string, unknown>) => socket.timeout(10_000).emitWithAck(type, body) as Promise<ServerMessage>;
      const session_id = people.sessionId;
      const doc_id = `locks/held-${++counter}.rs`;
      expect(await send(alice, 'join', { session_id, peer_id: 'alice-holder', join_token: await people.alice.joinToken() })).toMatchObject({ type: 'joined' });
      expect(await send(bob, 'join', { session_id, peer_id: 'bob-blocked', join_token: await people.bob.joinToken() })).toMatchObject({ type: 'joined' });
      const ttl = 120_000;
      const locked = await send(alice, 'lock_file', { session_id, doc_id, ttl_ms: ttl });
      expect(locked).toMatchObject({ type: 'file_locked', doc_id, expires_at: expect.any(String) });
      const until = (locked as Extract<ServerMessage, { type: 'file_locked' }>).expires_at;

      const refusals = [
        await send(bob, 'submit_op', { id: 'op-1', session_id, doc_id, version: 0, op: ['mine'], seq: 1 }),
        await send(bob, 'lock_file', { id: 'lock-1', session_id, doc_id, ttl_ms: 60_000 }),
      ];
      for (const [refusal, id] of [[refusals[0], 'op-1'], [refusals[1], 'lock-1']] as const) {
        expect(refusal).toMatchObject({ type: 'error', id, code: 'FILE_LOCKED', retryable: true, field: 'doc_id', locked_by: 'alice-edge', locked_until: until });
        // The wait left on the database clock: no more than the ttl, and most of it still ahead.
        const wait = (refusal as { retry_after_ms?: number }).retry_after_ms;
        expect(wait).toBeGreaterThan(ttl - 60_000);
        expect(wait).toBeLessThanOrEqual(ttl);
      }
      alice.close();
      bob.close();
    });
  });

  describe('rate limits per kind at the edge', () => {
    it('refuses a chat flood RATE_LIMITED while the same socket still edits (each kind has its own budget)', async () => {
      const socket = await connected(stack.url, people.bob.token);
      sockets.push(socket);
      const send = (type: string, body: Record<string, unknown>) => socket.timeout(10_000).emitWithAck(type, body) as Promise<ServerMessage>;
      expect(await send('join', { session_id: people.sessionId, peer_id: 'bob-flood', join_token: await people.bob.joinToken() })).toMatchObject({ type: 'joined' });
      const chats: ServerMessage[] = [];
      // The chat budget is 10 per connection per 5 s (docs/protocol.md): the 11th and 12th are refused.
      for (let i = 0; i < 12; i++) chats.push(await send('chat_message', { session_id: people.sessionId, message: `flood ${i}` }));
      expect(chats.map((c) => (c.type === 'error' ? c.code : c.type))).toEqual([...Array(10).fill('chat_message'), 'RATE_LIMITED', 'RATE_LIMITED']);
      expect(await send('submit_op', { session_id: people.sessionId, doc_id: 'docs/flood.md', version: 0, op: ['still editing'], seq: 1 })).toMatchObject({ type: 'op_ack', version: 1 });
      expect(await send('presence_update', { session_id: people.sessionId, active_file: 'docs/flood.md' })).toMatchObject({ type: 'presence_update' });
      expect(await send('ping', {})).toMatchObject({ type: 'pong' });
      socket.close();
    });
  });

  describe('handshake refusals reach connect_error with the typed error in err.data', () => {
    const identity = { typ: 'access', sub: 'handshake-user', name: 'H', kind: 'human' };
    // Well-formed access claims signed with another key, and with ours but an hour past their expiry.
    const forged = new Hs256Tokens('another-secret-that-is-long-enough-for-hs256-xyz').sign(identity, 3_600);
    const expired = new Hs256Tokens(TEST_JWT_SECRET).sign(identity, 60, Date.now() - 3_600_000);

    it.each([
      ['a wrong protocol_version', () => ({ token: people.alice.token, protocol_version: PROTOCOL_VERSION + 1 }), { code: 'VALIDATION_ERROR', field: 'protocol_version' }],
      ['no protocol_version', () => ({ token: people.alice.token }), { code: 'VALIDATION_ERROR', field: 'protocol_version' }],
      ['no token', () => ({ protocol_version: PROTOCOL_VERSION }), { code: 'UNAUTHENTICATED', message: expect.stringContaining('auth.token') }],
      ['a forged token', () => ({ token: forged, protocol_version: PROTOCOL_VERSION }), { code: 'UNAUTHENTICATED', message: expect.stringContaining('bad signature') }],
      ['an expired token', () => ({ token: expired, protocol_version: PROTOCOL_VERSION }), { code: 'UNAUTHENTICATED', message: expect.stringContaining('expired') }],
    ] as const)('refuses %s', async (_what, auth, expected) => {
      const result = await handshake(stack.url, auth());
      expect(result).toHaveProperty('error');
      const { error } = result as { error: ConnectError };
      expect(error.data).toMatchObject({ type: 'error', retryable: false, ...expected });
      expect(error.message).toBe(error.data?.message);
    });

    it(`refuses the connection over MAX_CONNECTIONS_PER_USER (${CAP}) with RATE_LIMITED, and admits one again after a close`, async () => {
      const api = await fetch(`${stack.url}/api/v1/auth/dev-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: 'capped', display_name: 'Capped' }) });
      const { access_token: token } = (await api.json()) as { access_token: string };
      const open = await Promise.all(Array.from({ length: CAP }, () => connected(stack.url, token)));
      sockets.push(...open);
      const over = await handshake(stack.url, { token, protocol_version: PROTOCOL_VERSION });
      expect(over).toHaveProperty('error');
      expect((over as { error: ConnectError }).error.data).toMatchObject({ type: 'error', code: 'RATE_LIMITED', retryable: true, retry_after_ms: expect.any(Number) });
      // Another user is not affected.
      sockets.push(await connected(stack.url, people.bob.token));
      open[0].close();
      // The slot is freed when the server has handled the disconnect (asynchronously): poll with a deadline.
      const again = await waitFor('a connection admitted after one closed', async () => {
        const r = await handshake(stack.url, { token, protocol_version: PROTOCOL_VERSION });
        return 'socket' in r ? r.socket : undefined;
      });
      sockets.push(again);
    });
  });
});
