import { io } from 'socket.io-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { Api } from './support/stack';

// The password guess budget and the origin check on the distributed topology: two gateway processes sharing
// the Redis limiter storage; guesses spread over both gateways count against one budget.

const S = '/api/v1/collaboration/sessions';
let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await startProcessCluster('edge_cluster', { gateways: 2, replicas: 1, extraEnv: { CORS_ORIGINS: 'http://app.example' } });
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
