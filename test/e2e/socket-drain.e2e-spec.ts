import { Client } from 'pg';
import type { Socket } from 'socket.io-client';
import { PROTOCOL_VERSION, type ServerMessage } from '@chorus/protocol';
import { waitFor, withDeadline } from '@chorus/testing';
import { connected, handshake, type ConnectError } from './support/edge-socket';
import { setUpSession } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';

// Graceful shutdown at the socket edge (SocketGateway.drain), made deterministic without sleeps: a submit_op is
// held in flight by a row lock this test takes on the document's head row (every commit locks it), the stack
// begins its shutdown, and while drain waits for that request, new requests and handshakes are refused
// UNAVAILABLE (retryable: reconnect elsewhere). Releasing the lock lets the held request finish with its ack
// before the connection is closed.

let stack: TestStack;
let pg: Client | undefined;
let socket: Socket | undefined;

afterAll(async () => {
  socket?.close();
  await pg?.end().catch(() => undefined);
  await stack?.chorus.stop().catch(() => undefined);
  await stack?.db.drop();
});

it('finishes a request in flight, answers a new one UNAVAILABLE, and refuses new handshakes while draining', async () => {
  stack = await startTestStack('socket_drain');
  const people = await setUpSession(stack.url, 'drain');
  const s = await connected(stack.url, people.alice.token);
  socket = s;
  const send = (type: string, body: Record<string, unknown>) => s.timeout(20_000).emitWithAck(type, body) as Promise<ServerMessage>;
  const doc = { session_id: people.sessionId, doc_id: 'drain.md' };
  expect(await send('join', { session_id: people.sessionId, peer_id: 'drainer', join_token: await people.alice.joinToken() })).toMatchObject({ type: 'joined' });
  expect(await send('submit_op', { ...doc, version: 0, op: ['a'], seq: 1 })).toMatchObject({ type: 'op_ack', version: 1 });

  // Hold the document's head row: the next commit waits on it, in flight at the gateway.
  pg = new Client({ connectionString: stack.db.url });
  await pg.connect();
  await pg.query('BEGIN');
  await pg.query('SELECT 1 FROM documents WHERE session_id = $1 AND doc_id = $2 FOR UPDATE', [doc.session_id, doc.doc_id]);
  const inFlight = send('submit_op', { ...doc, version: 1, op: [1, 'b'], seq: 2, id: 'held' });
  const lockHolder = pg;
  await waitFor('the commit to wait on the held row lock', async () => {
    const { rows } = await lockHolder.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
    );
    return Number(rows[0].n) > 0;
  });

  const stopping = stack.chorus.stop();
  await waitFor('readiness to report draining', async () => (await fetch(`${stack.url}/health/ready`)).status === 503);

  expect(await send('ping', { id: 'late' })).toMatchObject({ type: 'error', code: 'UNAVAILABLE', retryable: true, id: 'late' });
  expect(await send('chat_message', { session_id: people.sessionId, message: 'too late', id: 7 })).toMatchObject({ type: 'error', code: 'UNAVAILABLE', id: 7 });
  const refused = await handshake(stack.url, { token: people.bob.token, protocol_version: PROTOCOL_VERSION });
  expect(refused).toHaveProperty('error');
  expect((refused as { error: ConnectError }).error.data).toMatchObject({ type: 'error', code: 'UNAVAILABLE', retryable: true });
  expect(s.connected).toBe(true);

  const disconnected = new Promise<string>((resolve) => s.once('disconnect', (reason) => resolve(reason)));
  await pg.query('COMMIT');
  expect(await inFlight).toMatchObject({ type: 'op_ack', id: 'held', version: 2, seq: 2 });
  // Then the gateway closes the transport (not a server-side disconnect), so clients reconnect on their own.
  expect(await withDeadline('the drained socket to close', disconnected)).toBe('transport close');
  await withDeadline('the stack to stop', stopping, 20_000);
});
