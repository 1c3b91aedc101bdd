import { io, type Socket } from 'socket.io-client';
import { ChorusClient } from '@chorus/client';
import { DISCONNECT_CODES, PROTOCOL_VERSION, type ServerMessage } from '@chorus/protocol';
import { TestJwksServer, signingKey, waitFor, withDeadline, type TestSigningKey } from '@chorus/testing';
import { handshake } from './support/edge-socket';
import { Api, startTestStack, type TestStack } from './support/stack';
import { WsClient, type Frame } from './support/ws-client';

// The product signing people in through an identity provider: a local JWKS server (rotating keys), the gateway
// configured with AUTH_JWKS_URL / AUTH_ISSUER / AUTH_AUDIENCE, tokens verified on REST, the Socket.IO handshake
// and /ws — and a connection whose token expires closed with `reauthenticate` (4002) on both transports, unless
// a `reauth` with a fresh token of the same user came first. No leeway (AUTH_CLOCK_SKEW_S=0) so expiry is exact.

const REAUTH = DISCONNECT_CODES.reauthenticate.code;
let idp: TestJwksServer;
let key: TestSigningKey;
let stack: TestStack;
let api: Api;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  idp = await TestJwksServer.start('https://idp.test/');
  key = await signingKey('k1', 'ES256');
  idp.publish(key);
  stack = await startTestStack('token_expiry', {
    env: { AUTH_JWKS_URL: idp.url, AUTH_ISSUER: idp.issuer, AUTH_AUDIENCE: 'chorus-api', AUTH_CLOCK_SKEW_S: '0', AUTH_JWKS_COOLDOWN_MS: '0', DEV_TOKENS: 'false' },
  });
  api = new Api(stack.url);
});
afterAll(async () => {
  for (const c of open) c.close();
  await stack?.stop();
  await idp?.stop();
});

/** A token of the identity provider living `seconds` from now. */
const token = (sub: string, seconds: number, claims: Record<string, unknown> = {}) => idp.mint(key, { sub, name: sub.toUpperCase(), exp: Math.floor(Date.now() / 1000) + seconds, ...claims });

/** A Socket.IO connection with every push recorded from the start (hello included). */
async function sio(t: string): Promise<{ socket: Socket; pushes: ServerMessage[]; disconnected: Promise<string> }> {
  const socket = io(stack.url, { transports: ['websocket'], auth: { token: t, protocol_version: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
  open.push(socket);
  const pushes: ServerMessage[] = [];
  socket.onAny((_event: string, message: ServerMessage) => pushes.push(message));
  const disconnected = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
  await withDeadline(
    'the Socket.IO handshake',
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    }),
  );
  await waitFor('hello', () => pushes.some((p) => p.type === 'hello'));
  return { socket, pushes, disconnected };
}

const notices = (pushes: ServerMessage[]) => pushes.filter((p) => p.type === 'disconnect_notice');

async function ws(t: string): Promise<WsClient> {
  const c = await WsClient.connect(stack.url, t);
  open.push(c);
  return c;
}

describe('access tokens from an identity provider (JWKS)', () => {
  it('REST: accepts the provider’s token, refuses wrong issuer, audience, expired, and the dev-token endpoint is off', async () => {
    expect(await api.request('POST', '/api/v1/auth/ws-ticket', { token: await token('rest-user', 600) })).toMatchObject({ status: 201 });
    for (const [bad, reason] of [
      [await token('rest-user', 600, { iss: 'https://evil.test/' }), 'wrong issuer'],
      [await token('rest-user', 600, { aud: 'another-app' }), 'wrong audience'],
      [await token('rest-user', -5), 'expired'],
    ] as const) {
      const res = await api.request('POST', '/api/v1/auth/ws-ticket', { token: bad });
      expect(res).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
      expect(res.body.message).toContain(reason);
    }
    expect(await api.request('POST', '/api/v1/auth/dev-token', { body: { user_id: 'x', display_name: 'X' } })).toMatchObject({ status: 403 });
  });

  it('a rotated key is accepted at once on a socket handshake', async () => {
    const next = await signingKey('k2', 'RS256');
    idp.publish(key, next);
    const t = await idp.mint(next, { sub: 'rotated', exp: Math.floor(Date.now() / 1000) + 600 });
    const result = await handshake(stack.url, { token: t, protocol_version: 1 });
    expect(result).toHaveProperty('socket');
    if ('socket' in result) result.socket.close();
    idp.publish(key);
  });
});

describe('a connection whose access token expires is closed with reauthenticate (4002)', () => {
  it('Socket.IO: hello says when; at expiry the disconnect_notice (4002, reconnect) comes, then the close', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const c = await sio(await idp.mint(key, { sub: 'sio-expiring', exp }));
    expect(c.pushes[0]).toMatchObject({ type: 'hello', token_expires_at: exp * 1000 });
    const reason = await withDeadline('the disconnect at expiry', c.disconnected, 10_000);
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(notices(c.pushes)).toEqual([expect.objectContaining({ type: 'disconnect_notice', code: REAUTH, name: 'reauthenticate', reconnect: true })]);
    expect(reason).toBe('transport close');
  });

  it('/ws: the disconnect_notice frame, then close code 4002', async () => {
    const c = await ws(await token('ws-expiring', 2));
    const { code } = await withDeadline('the close at expiry', c.closed, 10_000);
    expect(code).toBe(REAUTH);
    expect(c.of('disconnect_notice')).toEqual([expect.objectContaining({ code: REAUTH, name: 'reauthenticate' })]);
  });

  it('/ws through a ticket: the ticket carries the token’s expiry, so that connection closes at it too', async () => {
    const ticket = await api.request<{ ticket: string }>('POST', '/api/v1/auth/ws-ticket', { token: await token('ticket-expiring', 2) });
    const c = await WsClient.open(stack.url, { ticket: ticket.body.ticket });
    open.push(c);
    await c.next((f) => f.type === 'hello');
    expect((await withDeadline('the close at expiry', c.closed, 10_000)).code).toBe(REAUTH);
  });

  it.each(['socket.io', 'ws'] as const)('%s: a reauth with a fresh token keeps the connection past the old expiry; one without is closed', async (transport) => {
    const user = `reauth-${transport}`;
    const old = await token(user, 2);
    const fresh = await token(user, 600);
    // `control` keeps the old token: its close marks the old expiry having passed (same exp, armed later).
    if (transport === 'socket.io') {
      const kept = await sio(old);
      const control = await sio(old);
      const reply = (await kept.socket.timeout(5_000).emitWithAck('reauth', { token: fresh })) as ServerMessage;
      expect(reply).toMatchObject({ type: 'reauthed', token_expires_at: expect.any(Number) });
      expect((reply as { token_expires_at: number }).token_expires_at).toBeGreaterThan(Date.now() + 500_000);
      await withDeadline('the control closed at the old expiry', control.disconnected, 10_000);
      expect(await kept.socket.timeout(5_000).emitWithAck('ping', {})).toMatchObject({ type: 'pong' });
      expect(kept.socket.connected).toBe(true);
      expect(notices(kept.pushes)).toEqual([]);
    } else {
      const kept = await ws(old);
      const control = await ws(old);
      const reply = (await kept.request({ type: 'reauth', token: fresh })) as Frame;
      expect(reply).toMatchObject({ type: 'reauthed', token_expires_at: expect.any(Number) });
      await withDeadline('the control closed at the old expiry', control.closed, 10_000);
      expect(await kept.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(kept.of('disconnect_notice')).toEqual([]);
    }
  });

  it('reauth refuses another user’s token (PERMISSION_DENIED) and a refused token (UNAUTHENTICATED), keeping the old expiry', async () => {
    const c = await ws(await token('reauth-refused', 3));
    expect(await c.request({ type: 'reauth', token: await token('someone-else', 600) })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
    const wrongAudience = await c.request({ type: 'reauth', token: await token('reauth-refused', 600, { aud: 'another-app' }) });
    expect(wrongAudience).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED' });
    expect((wrongAudience as { message: string }).message).toContain('wrong audience');
    expect((await withDeadline('the close at the old expiry', c.closed, 10_000)).code).toBe(REAUTH);
    await waitFor('the notice frame recorded', () => c.of('disconnect_notice').length === 1);
  });
});

describe('the SDK (@chorus/client) with a token provider', () => {
  const warnings: string[] = [];
  const seeded = () => {
    let x = 7;
    return () => ((x = (x * 16807) % 2147483647) / 2147483647);
  };

  it('sends reauth with a fresh token before expiry: one connection, never closed', async () => {
    let calls = 0;
    const client = new ChorusClient({ url: stack.url, token: () => (calls++, token('sdk-refresh', 3)), tokenRefreshMarginMs: 2_000, random: seeded(), onWarning: (m) => warnings.push(m), heartbeat: false });
    open.push({ close: () => void client.close() });
    const disconnects: Array<number | undefined> = [];
    client.on('disconnected', (d) => disconnects.push(d.notice?.code));
    const hello = await client.connect();
    expect(hello.token_expires_at).toBeGreaterThan(Date.now());
    // Each token lives 3 s and is refreshed 2 s before: by the 5th, the first one's expiry has long passed.
    await waitFor('five tokens from the provider', () => calls >= 5, { timeoutMs: 15_000 });
    expect(await client.request('ping', {})).toMatchObject({ type: 'pong' });
    expect(disconnects).toEqual([]);
    expect(client.state).toBe('connected');
    expect(warnings).toEqual([]);
  });

  it('when reauth is refused, the reauthenticate close (4002) reconnects at once with the provider’s next token', async () => {
    let calls = 0;
    // 1st: a short-lived token; 2nd (the reauth): one for another audience, refused; 3rd (the reconnect): good.
    const provider = () => {
      calls++;
      return calls === 2 ? token('sdk-reconnect', 600, { aud: 'another-app' }) : token('sdk-reconnect', calls === 1 ? 2 : 600);
    };
    const seen: string[] = [];
    const client = new ChorusClient({ url: stack.url, token: provider, tokenRefreshMarginMs: 1_500, random: seeded(), onWarning: (m) => seen.push(m), heartbeat: false });
    open.push({ close: () => void client.close() });
    const disconnects: Array<{ code: number | undefined; willReconnect: boolean }> = [];
    client.on('disconnected', (d) => disconnects.push({ code: d.notice?.code, willReconnect: d.willReconnect }));
    let hellos = 0;
    client.on('hello', () => hellos++);
    await client.connect();
    await waitFor('the second hello (after the reconnect)', () => hellos >= 2, { timeoutMs: 15_000 });
    expect(disconnects).toEqual([{ code: REAUTH, willReconnect: true }]);
    expect(calls).toBe(3);
    expect(seen.some((m) => m.includes('reauth'))).toBe(true);
    expect(await client.request('ping', {})).toMatchObject({ type: 'pong' });
  });
});
