import { io } from 'socket.io-client';
import { rawUpgrade } from './support/raw-http';
import { Api, startTestStack, type TestStack } from './support/stack';

// The edge's trust decisions on the standalone product, over real HTTP and real socket.io clients: which browser
// origins may open sockets (CORS_ORIGINS), whose X-Forwarded-For is believed (TRUSTED_PROXIES), that probes are
// never rate-limited, and that session passwords cannot be guessed without limit.

const APP = 'http://app.example';
const EVIL = 'http://evil.example';
const S = '/api/v1/collaboration/sessions';
const PASSWORD = 'correct-horse-battery';

/** Opens a real socket.io connection; resolves with how the handshake ended. */
function handshake(url: string, token: string, transport: 'websocket' | 'polling', origin?: string): Promise<{ connected: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket = io(url, { transports: [transport], auth: { token, protocol_version: 1 }, reconnection: false, forceNew: true, ...(origin ? { extraHeaders: { origin } } : {}) });
    socket.once('connect', () => (socket.close(), resolve({ connected: true })));
    socket.once('connect_error', (err: Error & { description?: unknown; context?: { responseText?: string } }) => {
      socket.close();
      resolve({ connected: false, error: `${err.message} ${JSON.stringify(err.description ?? '')} ${err.context?.responseText ?? ''}` });
    });
  });
}

describe('edge policy (CORS_ORIGINS set, no trusted proxy)', () => {
  let stack: TestStack;
  let api: Api;
  let token: string;
  beforeAll(async () => {
    stack = await startTestStack('edge_policy', { env: { CORS_ORIGINS: APP, SOCKET_TRANSPORTS: 'websocket,polling' } });
    api = new Api(stack.url);
    token = await api.devToken('origin-user');
  });
  afterAll(async () => stack?.stop());

  it('refuses Socket.IO handshakes from a disallowed origin on the websocket and the polling transport', async () => {
    for (const transport of ['websocket', 'polling'] as const) {
      expect({ transport, ...(await handshake(stack.url, token, transport, EVIL)) }).toMatchObject({ transport, connected: false });
      expect({ transport, ...(await handshake(stack.url, token, transport, APP)) }).toEqual({ transport, connected: true });
      // Non-browser clients send no Origin: allowed.
      expect({ transport, ...(await handshake(stack.url, token, transport)) }).toEqual({ transport, connected: true });
    }
    // The gateway's own origin (a page it serves) is same-origin.
    expect(await handshake(stack.url, token, 'websocket', stack.url)).toEqual({ connected: true });
  });

  it('answers a raw websocket upgrade and a polling handshake from a disallowed origin with a clear refusal', async () => {
    const ws = `${stack.url}/socket.io/?EIO=4&transport=websocket`;
    const refused = await rawUpgrade(ws, { origin: EVIL });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.body).toContain(`Origin ${EVIL} may not connect to this server: add it to CORS_ORIGINS`);
    expect((await rawUpgrade(ws, { origin: APP })).status).toBe(101);
    expect((await rawUpgrade(ws, {})).status).toBe(101);
    const polling = await fetch(`${stack.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: EVIL } });
    expect(polling.status).toBe(403);
    expect(((await polling.json()) as { message: string }).message).toContain('CORS_ORIGINS');
    const metrics = await (await fetch(`${stack.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/chorus_ws_handshakes_refused_total\{reason="origin"[^}]*\} [1-9]/);
  });

  it('gives REST CORS headers to allowed origins only, from the same policy', async () => {
    const allowed = await api.request('GET', S, { token, headers: { origin: APP } });
    expect(allowed.headers['access-control-allow-origin']).toBe(APP);
    const evil = await api.request('GET', S, { token, headers: { origin: EVIL } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('never rate-limits /health/* and /metrics', async () => {
    const statuses = new Set<number>();
    // More than the REST budget (600 per address and route per minute) of liveness probes alone, then the others.
    for (let i = 0; i < 620; i++) statuses.add((await fetch(`${stack.adminUrl}/health/live`)).status);
    for (const path of ['/health/ready', '/metrics']) statuses.add((await fetch(`${stack.adminUrl}${path}`)).status);
    expect([...statuses]).toEqual([200]);
  });

  it('ignores a client-supplied X-Forwarded-For: a new header per request buys no new budget', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push((await api.request('POST', '/api/v1/collaboration/invites/QQQQQQ/redeem', { headers: { 'x-forwarded-for': `198.51.100.${i}` } })).status);
    }
    // The guess budget is 10 per address per minute, counted before authentication.
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
  });

  describe('session passwords', () => {
    it('limits wrong guesses per client with RATE_LIMITED and retry_after_ms, and a right password costs nothing', async () => {
      const owner = await api.devToken('pw-owner');
      const created = await api.request<{ session_id: string }>('POST', S, { token: owner, body: { name: 'locked', is_public: true, password: PASSWORD } });
      const join = `${S}/${created.body.session_id}/join`;
      const guesser = await api.devToken('pw-guesser');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await api.request('POST', join, { token: guesser, body: { password: `wrong-${i}` } })).status);
      // Another user at the same address joins with the right password: not a wrong guess.
      const friend = await api.request('POST', join, { token: await api.devToken('pw-friend'), body: { password: PASSWORD } });
      expect(friend).toMatchObject({ status: 200, body: { role: 'viewer' } });
      statuses.push((await api.request('POST', join, { token: guesser, body: { password: 'wrong-4' } })).status);
      const limited = await api.request('POST', join, { token: guesser, body: { password: 'wrong-5' } });
      expect(statuses).toEqual([403, 403, 403, 403, 403]);
      expect(limited).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) }, headers: { 'retry-after': expect.stringMatching(/^\d+$/) } });
      expect((limited.body as { retry_after_ms: number }).retry_after_ms).toBeGreaterThan(1_000);
      // Spent: even the right password waits for the window (else the answer would reveal a hit).
      expect(await api.request('POST', join, { token: guesser, body: { password: PASSWORD } })).toMatchObject({ status: 429 });
      // Joining without a password (participants) is not a guess and is never limited by it.
      expect(await api.request('POST', join, { token: owner })).toMatchObject({ status: 200, body: { role: 'owner' } });
    });

    it('limits wrong guesses at an invite password the same way', async () => {
      const owner = await api.devToken('inv-owner');
      const created = await api.request<{ session_id: string }>('POST', S, { token: owner, body: { name: 'inv' } });
      const invite = await api.request<{ code: string }>('POST', `${S}/${created.body.session_id}/invite`, { token: owner, body: { role: 'viewer', password: PASSWORD } });
      const guesser = await api.devToken('inv-guesser');
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: guesser, body: { password: `wrong-${i}` } })).status);
      expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
    });
  });
});

describe('edge policy behind a trusted proxy (TRUSTED_PROXIES=127.0.0.1)', () => {
  let stack: TestStack;
  let api: Api;
  beforeAll(async () => {
    stack = await startTestStack('edge_proxy', { env: { TRUSTED_PROXIES: '127.0.0.1' } });
    api = new Api(stack.url);
  });
  afterAll(async () => stack?.stop());

  it('keys limits on the address the proxy appended, not on what the client wrote to its left', async () => {
    const redeem = (xff: string) => api.request('POST', '/api/v1/collaboration/invites/QQQQQQ/redeem', { headers: { 'x-forwarded-for': xff } });
    const spoofed: number[] = [];
    for (let i = 0; i < 11; i++) spoofed.push((await redeem(`10.0.0.${i}, 198.51.100.7`)).status);
    expect(spoofed).toEqual([...Array(10).fill(401), 429]);
    // Another client behind the same proxy has its own budget.
    expect((await redeem('198.51.100.8')).status).toBe(401);
  });

  it('counts IPv6 clients by /64 network: new addresses in one /64 share a budget, another /64 has its own', async () => {
    const redeem = (xff: string) => api.request('POST', '/api/v1/collaboration/invites/QQQQQQ/redeem', { headers: { 'x-forwarded-for': xff } });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await redeem(`2001:db8:aa:1:${i.toString(16)}::${i + 1}`)).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
    expect((await redeem('2001:db8:aa:2::1')).status).toBe(401);
  });

  it('bounds wrong guesses at one session across all clients', async () => {
    const owner = await api.devToken('many-owner');
    const created = await api.request<{ session_id: string }>('POST', S, { token: owner, body: { name: 'locked', is_public: true, password: PASSWORD } });
    const join = `${S}/${created.body.session_id}/join`;
    const statuses: number[] = [];
    // 30 wrong guesses per session per hour, from 10 users at 10 addresses (3 each, under their own limit of 5).
    for (let i = 0; i < 31; i++) {
      const token = await api.devToken(`many-${i % 11}`);
      statuses.push((await api.request('POST', join, { token, body: { password: `wrong-${i}` }, headers: { 'x-forwarded-for': `203.0.113.${i % 11}` } })).status);
    }
    expect(statuses).toEqual([...Array(30).fill(403), 429]);
    // 30 scrypt checks of 32 MiB, two at a time: seconds on a quiet machine, far more beside other suites.
  }, 120_000);
});
