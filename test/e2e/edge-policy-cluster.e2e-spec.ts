import { io } from 'socket.io-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { Api } from './support/stack';

// The password guess budget and the origin check on the distributed topology: two gateway processes sharing
// the Redis limiter storage; guesses spread over both gateways count against one budget, IPv6 clients by /64.
// TRUSTED_PROXIES=1: the test is the one proxy, so X-Forwarded-For names the client.

const S = '/api/v1/collaboration/sessions';
let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await startProcessCluster('edge_cluster', { gateways: 2, replicas: 1, extraEnv: { CORS_ORIGINS: 'http://app.example', TRUSTED_PROXIES: '1' } });
}, 120_000);
afterAll(async () => cluster?.stop());

it('counts wrong session-password guesses across gateways and refuses the sixth with RATE_LIMITED', async () => {
  const [gw1, gw2] = cluster.gateways.map((url) => new Api(url)) as [Api, Api];
  const owner = await gw1.devToken('cluster-owner');
  const created = await gw1.request<{ session_id: string }>('POST', S, { token: owner, body: { name: 'locked', is_public: true, password: 'correct-horse-battery' } });
  const guesser = await gw2.devToken('cluster-guesser');
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const api = i % 2 ? gw2 : gw1;
    statuses.push((await api.request('POST', `${S}/${created.body.session_id}/join`, { token: guesser, body: { password: `wrong-${i}` } })).status);
  }
  expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
  expect(await gw1.request('POST', `${S}/${created.body.session_id}/join`, { token: guesser, body: { password: 'correct-horse-battery' } })).toMatchObject({
    status: 429,
    body: { code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) },
  });
});

it('refuses a websocket handshake from a disallowed origin on a distributed gateway', async () => {
  const token = await new Api(cluster.gateways[0] as string).devToken('cluster-origin');
  const outcome = (origin: string) =>
    new Promise<boolean>((resolve) => {
      const socket = io(cluster.gateways[1] as string, { transports: ['websocket'], auth: { token, protocol_version: 1 }, reconnection: false, forceNew: true, extraHeaders: { origin } });
      socket.once('connect', () => (socket.close(), resolve(true)));
      socket.once('connect_error', () => (socket.close(), resolve(false)));
    });
  expect(await outcome('http://evil.example')).toBe(false);
  expect(await outcome('http://app.example')).toBe(true);
});

it('counts invite guesses of one IPv6 /64 across gateways as one client (TRUSTED_PROXIES=1)', async () => {
  const gws = cluster.gateways.map((url) => new Api(url));
  const redeem = (i: number, xff: string) => (gws[i % 2] as Api).request('POST', '/api/v1/collaboration/invites/QQQQQQ/redeem', { headers: { 'x-forwarded-for': xff } });
  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) statuses.push((await redeem(i, `2001:db8:c1:7:${i.toString(16)}::1`)).status);
  expect(statuses).toEqual([...Array(10).fill(401), 429]);
  expect((await redeem(0, '2001:db8:c1:8::1')).status).toBe(401);
});

it('every gateway serves the AsyncAPI document beside the OpenAPI one', async () => {
  for (const url of cluster.gateways) {
    const res = await new Api(url).request<{ asyncapi?: string; channels?: Record<string, unknown> }>('GET', '/api/asyncapi.json');
    expect(res.status).toBe(200);
    expect(res.body.asyncapi).toBe('3.0.0');
    expect(Object.keys(res.body.channels ?? {}).sort()).toEqual(['socketio', 'ws']);
    expect((await new Api(url).request<{ openapi?: string }>('GET', '/api/docs-json')).body.openapi).toBe('3.1.0');
  }
});
