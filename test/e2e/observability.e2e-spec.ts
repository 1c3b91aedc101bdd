import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { testRedisUrl, waitFor } from '@chorus/testing';
import { Api, startTestStack, type TestStack } from './support/stack';

// docs/observability.md: the admin port, the HTTP metrics by route template, request ids and access logs.

let stack: TestStack;
let api: Api;

beforeAll(async () => {
  stack = await startTestStack('observability', { env: { ADMIN_PORT: '0' } });
  api = new Api(stack.url);
});

afterAll(async () => {
  await stack?.stop();
});

/** One sample's value in a Prometheus text exposition (labels matched as a subset, in any order). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const metrics = async () => (await fetch(`${stack.adminUrl}/metrics`)).text();

describe('ADMIN_PORT', () => {
  it('serves /metrics and /health/* on the admin port only; the public port answers them 404', async () => {
    expect(stack.adminUrl).not.toBe(stack.url);
    for (const path of ['/metrics', '/health/live', '/health/ready']) {
      expect({ path, status: (await fetch(`${stack.adminUrl}${path}`)).status }).toEqual({ path, status: 200 });
      const publicAnswer = await api.request('GET', path);
      expect({ path, status: publicAnswer.status, code: publicAnswer.body.code }).toEqual({ path, status: 404, code: 'NOT_FOUND' });
    }
    // A query string or a trailing segment does not slip past the guard.
    expect((await fetch(`${stack.url}/metrics?x=1`)).status).toBe(404);
    expect((await fetch(`${stack.url}/health/ready/`)).status).toBe(404);
    expect((await fetch(`${stack.adminUrl}/metrics`)).headers.get('content-type')).toContain('text/plain');
  });

  it('serves nothing else on the admin port', async () => {
    const res = await fetch(`${stack.adminUrl}/api/v1/collaboration/sessions`);
    expect(res.status).toBe(404);
    expect((await fetch(`${stack.adminUrl}/api/docs-json`)).status).toBe(404);
  });
});

describe('HTTP metrics, request ids and access logs', () => {
  it('counts requests by route template, never by raw path, with their status and duration', async () => {
    const token = await api.devToken('obs-alice');
    const created = await api.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token, body: { name: 'obs' } });
    expect(created.status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await api.request('GET', `/api/v1/collaboration/sessions/${created.body.session_id}`, { token })).status).toBe(200);
    expect((await api.request('GET', '/api/v1/collaboration/sessions/00000000-0000-4000-8000-000000000000', { token })).status).toBe(404);
    expect((await api.request('GET', '/no/such/route')).status).toBe(404);
    const text = await metrics();
    const route = '/api/v1/collaboration/sessions/:id';
    expect(sample(text, 'chorus_http_requests_total', { method: 'GET', route, status: '200' })).toBe(3);
    expect(sample(text, 'chorus_http_requests_total', { method: 'GET', route, status: '404' })).toBe(1);
    expect(sample(text, 'chorus_http_requests_total', { method: 'POST', route: '/api/v1/collaboration/sessions', status: '201' })).toBe(1);
    expect(sample(text, 'chorus_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'chorus_http_request_duration_seconds_count', { method: 'GET', route, status: '200' })).toBe(3);
    expect(text).not.toContain(created.body.session_id);
    expect(text).toMatch(/^chorus_http_requests_in_flight\{[^}]*\} \d+$/m);
  });

  it('keeps a sane X-Request-Id, replaces a hostile one, and puts it in the error body and the access log', async () => {
    const mine = 'req-0123abcd.ingress:7';
    const refused = await api.request('GET', '/api/v1/collaboration/sessions', { headers: { 'x-request-id': mine } });
    expect(refused.status).toBe(401);
    expect(refused.headers['x-request-id']).toBe(mine);
    expect(refused.body).toMatchObject({ code: 'UNAUTHENTICATED', request_id: mine });

    for (const hostile of ['x'.repeat(200), 'two words', 'a"b', '-leading-dash']) {
      const res = await api.request('GET', '/api/v1/collaboration/sessions', { headers: { 'x-request-id': hostile } });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body.request_id).toBe(res.headers['x-request-id']);
    }
    const generated = await api.request('GET', '/api/v1/voice/ice-servers');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    await waitFor('the access log line of the refused request', async () => stack.logs.lines.some((l) => l.includes(`"request_id":"${mine}"`)));
    const line = JSON.parse(stack.logs.lines.find((l) => l.includes(`"request_id":"${mine}"`)) as string) as { level: string; message: Record<string, unknown>; rest: unknown[] };
    expect(line.level).toBe('log');
    expect(line.rest).toEqual(['HttpAccess']);
    expect(line.message).toMatchObject({ msg: 'http_request', request_id: mine, method: 'GET', route: '/api/v1/collaboration/sessions', status: 401 });
    expect(typeof line.message.duration_ms).toBe('number');
  });

  it('never logs tokens, query strings or path parameters', async () => {
    const token = await api.devToken('obs-bob');
    const secretQuery = 'ticket=super-secret-ticket-value';
    await api.request('GET', `/api/v1/collaboration/sessions?${secretQuery}`, { token, headers: { 'x-request-id': 'no-secrets-1' } });
    await api.request('POST', '/api/v1/collaboration/invites/SECRETCODE/redeem', { token, body: {}, headers: { 'x-request-id': 'no-secrets-2' } });
    await waitFor('both access log lines', async () => ['no-secrets-1', 'no-secrets-2'].every((id) => stack.logs.lines.some((l) => l.includes(`"request_id":"${id}"`))));
    const access = stack.logs.lines.filter((l) => l.includes('"HttpAccess"'));
    expect(access.length).toBeGreaterThan(0);
    for (const l of access) {
      expect(l).not.toContain(token);
      expect(l).not.toContain('super-secret-ticket-value');
      expect(l).not.toContain('SECRETCODE');
    }
    expect(access.find((l) => l.includes('no-secrets-2'))).toContain('/api/v1/collaboration/invites/:code/redeem');
  });
});

describe('the services\' metrics in the one standalone /metrics', () => {
  it('shows the prompt queue and the conflict service beside the gateway', async () => {
    const text = await metrics();
    for (const status of ['queued', 'assigned', 'parked']) expect({ status, n: sample(text, 'chorus_agent_prompts', { status }) }).toEqual({ status, n: 0 });
    expect(text).toMatch(/^chorus_agent_oldest_queued_prompt_seconds\{[^}]*\} 0$/m);
    expect(text).toMatch(/^chorus_agents\{[^}]*\} \d+$/m);
    expect(text).toContain('# TYPE chorus_conflict_commits_total counter');
    expect(text).toContain('# TYPE chorus_session_unreadable_events_total counter');
    // A failed read is counted when it settles: the next scrape would show it.
    expect(await metrics()).toMatch(/^chorus_agent_queue_read_failures_total\{[^}]*\} 0$/m);
  });
});

describe('transport metrics (Redis Streams)', () => {
  let redisStack: TestStack;
  let redis: Redis;

  beforeAll(async () => {
    redisStack = await startTestStack('observability_redis', { redis: true, env: { ADMIN_PORT: '0' } });
    redis = new Redis(testRedisUrl());
  });

  afterAll(async () => {
    redis?.disconnect();
    await redisStack?.stop();
  });

  const scrape = async () => (await fetch(`${redisStack.adminUrl}/metrics`)).text();

  it('reports handled messages, queue wait, pending, lag and dead letters per service', async () => {
    const rest = new Api(redisStack.url);
    const token = await rest.devToken('obs-carol');
    expect((await rest.request('POST', '/api/v1/collaboration/sessions', { token, body: { name: 'transport' } })).status).toBe(201);
    const text = await scrape();
    const handled = text.split('\n').filter((l) => l.startsWith('chorus_transport_handled_total{') && l.includes('service="session"') && l.includes('outcome="ok"'));
    expect(handled.length).toBeGreaterThan(0);
    expect(sample(text, 'chorus_transport_received_total', { service: 'session', delivery: 'first' })).toBeGreaterThan(0);
    expect(sample(text, 'chorus_transport_queue_wait_seconds_count', { service: 'session' })).toBeGreaterThan(0);
    expect(sample(text, 'chorus_transport_handler_seconds_count', { service: 'session' })).toBeGreaterThan(0);
    for (const service of ['session', 'conflict', 'presence']) {
      expect({ service, pending: sample(text, 'chorus_transport_pending_messages', { service, stream: 'requests' }) }).toEqual({ service, pending: 0 });
      expect({ service, lag: sample(text, 'chorus_transport_lag_messages', { service, stream: 'requests' }) }).toEqual({ service, lag: 0 });
      expect({ service, dead: sample(text, 'chorus_transport_dead_letters', { service }) }).toEqual({ service, dead: 0 });
      expect(sample(text, 'chorus_transport_pending_messages', { service, stream: 'ordered' })).toBe(0);
    }
  });

  it('is documented: docs/observability.md names every chorus_ metric /metrics serves', async () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'observability.md'), 'utf8');
    const names = [...(await scrape()).matchAll(/^# TYPE (chorus_\w+) /gm)].map((m) => m[1]).filter((n) => !/^chorus_(process|nodejs)_/.test(n));
    expect(names.length).toBeGreaterThan(40);
    expect(names.filter((n) => !doc.includes(`\`${n}\``))).toEqual([]);
  });

  it('counts a dead-lettered message and shows the dead-letter stream growing', async () => {
    const prefix = redisStack.chorus.runtime.redisPrefix;
    await redis.xadd(`${prefix}:svc:session:req`, '*', 'm', 'this is not an envelope');
    await waitFor('the dead letter in /metrics', async () => sample(await scrape(), 'chorus_transport_dead_letters', { service: 'session' }) === 1);
    const text = await scrape();
    expect(sample(text, 'chorus_transport_dead_lettered_total', { service: 'session', reason: 'unparseable' })).toBe(1);
    expect(sample(text, 'chorus_transport_pending_messages', { service: 'session', stream: 'requests' })).toBe(0);
  });
});
