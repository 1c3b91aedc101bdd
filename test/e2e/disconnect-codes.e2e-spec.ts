import { io } from 'socket.io-client';
import { waitFor } from '@chorus/testing';
import type { DisconnectNotice } from '@chorus/protocol';
import { ChorusClient } from './support/chorus-client';
import { setUpSession } from './support/scenario';
import { Api, startTestStack, type TestStack } from './support/stack';

// Every way the server closes a socket tells the client why first, with a reconnect policy — through real
// socket.io clients on the standalone product: removal from the last session, drain, the per-user connection cap,
// a protocol mismatch, a bad token. And the error codes whose next step differs reach clients by name.

/** Records the order of what a client saw (the SDK's message tap and its `disconnected`): the notice must come before the close. */
function timeline(client: ChorusClient): string[] {
  const seen: string[] = [];
  client.onPush((m) => {
    if (m.type === 'disconnect_notice') seen.push(`notice:${m.name}`);
  });
  client.sdk.on('disconnected', () => seen.push('closed'));
  return seen;
}

/** A handshake that must be refused: its connect_error data. */
function refusal(url: string, auth: Record<string, unknown>): Promise<{ code?: string; disconnect?: DisconnectNotice }> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], auth, reconnection: false, forceNew: true });
    socket.once('connect', () => (socket.close(), reject(new Error('the handshake was accepted'))));
    socket.once('connect_error', (err: Error & { data?: { code?: string; disconnect?: DisconnectNotice } }) => (socket.close(), resolve(err.data ?? {})));
  });
}

describe('disconnect codes and the error vocabulary (standalone, real sockets)', () => {
  let stack: TestStack;
  let api: Api;
  beforeAll(async () => {
    stack = await startTestStack('disconnect_codes', { env: { MAX_CONNECTIONS_PER_USER: '2' } });
    api = new Api(stack.url);
  });
  afterAll(async () => stack?.stop());

  it('refuses handshakes with the disconnect code in connect_error: protocol mismatch, bad token, connection cap', async () => {
    const token = await api.devToken('cap-user');
    expect(await refusal(stack.url, { token, protocol_version: 2 })).toMatchObject({ code: 'VALIDATION_ERROR', disconnect: { type: 'disconnect_notice', code: 4501, name: 'protocol_mismatch', reconnect: false } });
    expect(await refusal(stack.url, { token: 'forged', protocol_version: 1 })).toMatchObject({ code: 'UNAUTHENTICATED', disconnect: { code: 4500, name: 'unauthenticated', reconnect: false } });
    const open = [await ChorusClient.connect(stack.url, token), await ChorusClient.connect(stack.url, token)];
    try {
      expect(await refusal(stack.url, { token, protocol_version: 1 })).toMatchObject({ code: 'RATE_LIMITED', disconnect: { code: 4502, name: 'connection_limit', reconnect: false, retry_after_ms: 5000 } });
    } finally {
      for (const c of open) c.close();
    }
  });

  it('tells a removed participant why before closing its socket, and names ALREADY_JOINED and FILE_LOCKED', async () => {
    const people = await setUpSession(stack.url, 'dc');
    const alice = await ChorusClient.connect(stack.url, people.alice.token);
    const bob = await ChorusClient.connect(stack.url, people.bob.token);
    try {
      const bobSeen = timeline(bob);
      const session_id = people.sessionId;
      await alice.ok('join', { session_id, peer_id: 'alice-1', join_token: await people.alice.joinToken() });
      await bob.ok('join', { session_id, peer_id: 'bob-1', join_token: await people.bob.joinToken() });
      expect(await bob.request('join', { session_id, peer_id: 'bob-2', join_token: await people.bob.joinToken() })).toMatchObject({ type: 'error', code: 'ALREADY_JOINED', retryable: false });
      await alice.ok('lock_file', { session_id, doc_id: 'a.txt' });
      expect(await bob.request('submit_op', { session_id, doc_id: 'a.txt', version: 0, op: ['x'], seq: 1 })).toMatchObject({ type: 'error', code: 'FILE_LOCKED', retryable: true, locked_by: 'alice-dc' });
      expect(await bob.request('lock_file', { session_id, doc_id: 'a.txt' })).toMatchObject({ type: 'error', code: 'FILE_LOCKED', locked_by: 'alice-dc', locked_until: expect.any(String) });
      expect(await alice.request('submit_op', { session_id, doc_id: 'a.txt', version: 5, op: ['x'], seq: 1 })).toMatchObject({ type: 'error', code: 'RELOAD_REQUIRED', field: 'version' });
      const removed = await api.request('DELETE', `/api/v1/collaboration/sessions/${session_id}/participants/bob-dc`, { token: people.alice.token });
      expect(removed.status).toBeLessThan(300);
      await waitFor('bob closed', () => bobSeen.includes('closed') || undefined, { timeoutMs: 10_000 });
      expect(bobSeen).toEqual(['notice:removed', 'closed']);
      expect(bob.of('disconnect_notice')).toEqual([expect.objectContaining({ code: 4503, reconnect: false, session_id })]);
    } finally {
      alice.close();
      bob.close();
    }
  });

  it('keeps a socket removed from one of its sessions open, and closes it with session_deleted when its last goes', async () => {
    const first = await setUpSession(stack.url, 'dc2');
    const second = await setUpSession(stack.url, 'dc2');
    const bob = await ChorusClient.connect(stack.url, first.bob.token);
    try {
      const seen = timeline(bob);
      await bob.ok('join', { session_id: first.sessionId, peer_id: 'bob-a', join_token: await first.bob.joinToken() });
      await bob.ok('join', { session_id: second.sessionId, peer_id: 'bob-b', join_token: await second.bob.joinToken() });
      expect((await api.request('DELETE', `/api/v1/collaboration/sessions/${first.sessionId}/participants/bob-dc2`, { token: first.alice.token })).status).toBeLessThan(300);
      await bob.waitForPush('error', (e) => e.code === 'PERMISSION_DENIED' && e.message.includes(first.sessionId));
      // Still connected and still in the other session.
      await bob.ok('chat_message', { session_id: second.sessionId, message: 'still here' });
      expect(seen).toEqual([]);
      expect((await api.request('DELETE', `/api/v1/collaboration/sessions/${second.sessionId}`, { token: second.alice.token })).status).toBeLessThan(300);
      await waitFor('bob closed', () => seen.includes('closed') || undefined, { timeoutMs: 10_000 });
      expect(seen).toEqual(['notice:session_deleted', 'closed']);
      expect(bob.of('disconnect_notice')).toEqual([expect.objectContaining({ code: 4504, reconnect: false, session_id: second.sessionId })]);
    } finally {
      bob.close();
    }
  });

  it('sends draining before closing every socket on shutdown', async () => {
    const own = await startTestStack('disconnect_drain');
    try {
      const client = await ChorusClient.connect(own.url, await new Api(own.url).devToken('drain-user'));
      const seen = timeline(client);
      await own.stop();
      await waitFor('closed', () => seen.includes('closed') || undefined, { timeoutMs: 10_000 });
      expect(seen).toEqual(['notice:draining', 'closed']);
      expect(client.of('disconnect_notice')).toEqual([expect.objectContaining({ code: 4000, reconnect: true })]);
      client.close();
    } catch (err) {
      await own.stop().catch(() => undefined);
      throw err;
    }
  });
});
