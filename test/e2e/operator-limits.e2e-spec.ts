import { Api, startTestStack, type TestStack } from './support/stack';

// The limits an operator sets (REST_LIMIT_PER_MIN, INVITE_GUESS_LIMIT_PER_MIN) are the ones enforced: small
// values here, so the refusal comes after a handful of requests instead of the defaults' 600 and 10.

let stack: TestStack;
let api: Api;

beforeAll(async () => {
  stack = await startTestStack('operator_limits', { env: { REST_LIMIT_PER_MIN: '5', INVITE_GUESS_LIMIT_PER_MIN: '2' } });
  api = new Api(stack.url);
});
afterAll(() => stack?.stop());

it('REST_LIMIT_PER_MIN: the sixth request to a route in a minute is RATE_LIMITED; /health is not counted', async () => {
  const token = await api.devToken('limited-user');
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await api.request('GET', '/api/v1/collaboration/sessions', { token })).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  for (let i = 0; i < 8; i++) expect((await fetch(`${stack.url}/health/live`)).status).toBe(200);
});

it('INVITE_GUESS_LIMIT_PER_MIN: the third redemption in a minute is RATE_LIMITED with retry_after_ms', async () => {
  const token = await api.devToken('guesser');
  const statuses: number[] = [];
  for (const code of ['QQQQQQ', 'QQQQQR']) statuses.push((await api.request('POST', `/api/v1/collaboration/invites/${code}/redeem`, { token, body: {} })).status);
  const third = await api.request('POST', '/api/v1/collaboration/invites/QQQQQS/redeem', { token, body: {} });
  expect(statuses).toEqual([404, 404]);
  expect(third).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) } });
});
