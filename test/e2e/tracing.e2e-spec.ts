import { createTestDatabase, startTsProcess, testRedisUrl, uniqueRedisPrefix, waitFor, type RunningProcess, type TestDatabase } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { setUpSession } from './support/scenario';
import { TEST_JWT_SECRET } from './support/stack';

// docs/observability.md, Tracing: one trace from a socket `submit_op` through the Redis Streams transport to the
// conflict service's Postgres write, captured by an in-memory exporter. The product runs in a child process
// (traced-stack.fixture.ts): the instrumentations patch Node's module loader, which Jest's loader bypasses.

interface DumpedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  scope: string;
  attributes: Record<string, unknown>;
  status: number;
}

// @opentelemetry/api SpanKind
const SERVER = 1;
const CLIENT = 2;
const CONSUMER = 4;

let db: TestDatabase;
let traced: RunningProcess;
let url: string;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase('tracing');
  traced = startTsProcess('test/e2e/support/traced-stack.fixture.ts', { DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), REDIS_PREFIX: uniqueRedisPrefix('tracing'), JWT_SECRET: TEST_JWT_SECRET });
  url = `http://127.0.0.1:${(await traced.waitForLine(/traced stack listening on http:\/\/127\.0\.0\.1:(\d+)/, 60_000))[1]}`;
}, 90_000);

afterAll(async () => {
  clients.forEach((c) => c.close());
  await traced?.stop('SIGTERM');
  await db?.drop();
});

/** Asks the fixture for its finished spans (the newest dump wins). */
async function spans(): Promise<DumpedSpan[]> {
  const before = traced.lines.length;
  traced.write('dump\n');
  const found = await waitFor('a span dump', async () => traced.lines.slice(before).find((l) => l.startsWith('SPANS ')), { timeoutMs: 10_000 });
  return JSON.parse(found.slice('SPANS '.length)) as DumpedSpan[];
}

it('follows a socket submit_op through the transport envelope to the conflict service\'s Postgres write', async () => {
  const people = await setUpSession(url, 'tracing');
  const alice = await ChorusClient.connect(url, people.alice.token);
  clients.push(alice);
  await alice.ok('join', { session_id: people.sessionId, peer_id: 'alice-traced', join_token: await people.alice.joinToken() });
  await alice.ok('submit_op', { session_id: people.sessionId, doc_id: 'traced.txt', version: 0, op: ['hello, trace'], seq: 1 });

  const trace = await waitFor('the submit_op trace down to its INSERT', async () => {
    const all = await spans();
    const root = all.find((s) => s.name === 'ws submit_op');
    if (!root) return undefined;
    const inTrace = all.filter((s) => s.traceId === root.traceId);
    const insert = inTrace.find((s) => s.scope.includes('instrumentation-pg') && /insert into/i.test(String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? '')));
    return insert ? { root, inTrace, insert } : undefined;
  }, { timeoutMs: 20_000, intervalMs: 250 });

  const { root, inTrace, insert } = trace;
  const byId = new Map(inTrace.map((s) => [s.spanId, s]));
  const ancestry = (s: DumpedSpan): string[] => {
    const names: string[] = [];
    for (let cur: DumpedSpan | undefined = s; cur; cur = cur.parentSpanId === undefined ? undefined : byId.get(cur.parentSpanId)) names.push(cur.name);
    return names;
  };
  expect(root).toMatchObject({ kind: SERVER, attributes: expect.objectContaining({ 'rpc.method': 'submit_op' }) });
  expect(root.parentSpanId).toBeUndefined(); // a socket request starts its own trace
  const send = inTrace.find((s) => s.name === 'op.submit send');
  const consume = inTrace.find((s) => s.name === 'op.submit process');
  expect(send).toMatchObject({ kind: CLIENT, parentSpanId: root.spanId, attributes: expect.objectContaining({ 'messaging.destination.name': 'conflict' }) });
  // The consumer runs in the transport's read loop, which has no context of its own: only the envelope's `c`
  // can have made it a child of the send span.
  expect(consume).toMatchObject({ kind: CONSUMER, parentSpanId: send?.spanId, attributes: expect.objectContaining({ 'messaging.destination.name': 'conflict', 'chorus.pattern': 'op.submit' }) });
  // The write sits under the consumer: ws submit_op → op.submit send → op.submit process → … → the INSERT.
  expect(ancestry(insert).slice(-3)).toEqual(['op.submit process', 'op.submit send', 'ws submit_op']);
  expect(insert.attributes['db.system'] ?? insert.attributes['db.system.name']).toBe('postgresql');
  // The Redis command that carried the request (the client's batched-XADD script) is in the trace too (ioredis).
  const redisSpans = inTrace.filter((s) => s.scope.includes('instrumentation-ioredis')).map((s) => s.name);
  expect(redisSpans.length).toBeGreaterThan(0);
  // Neither Postgres parameters nor Redis arguments (envelopes, fan-out messages) are recorded: no user content, no token.
  const exported = JSON.stringify(inTrace);
  expect(exported).not.toContain('hello, trace');
  expect(exported).not.toContain(people.alice.token);
  expect(inTrace.filter((s) => s.scope.includes('instrumentation-ioredis')).every((s) => !String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? '').includes(' '))).toBe(true);
}, 60_000);

it('traces REST requests by route (http + express instrumentations), and leaves /metrics and /health alone', async () => {
  expect((await fetch(`${url}/health/live`)).status).toBe(200);
  expect((await fetch(`${url}/metrics`)).status).toBe(200);
  const res = await fetch(`${url}/api/v1/voice/ice-servers?ticket=SECRET-TICKET-VALUE`, { headers: { 'x-request-id': 'traced-rest-1' } });
  expect(res.headers.get('x-request-id')).toBe('traced-rest-1');
  const all = await waitFor('the REST request span', async () => {
    const dumped = await spans();
    return dumped.some((s) => s.kind === SERVER && s.attributes['http.route'] === '/api/v1/voice/ice-servers') ? dumped : undefined;
  });
  const server = all.find((s) => s.kind === SERVER && s.attributes['http.route'] === '/api/v1/voice/ice-servers') as DumpedSpan;
  expect(all.some((s) => s.traceId === server.traceId && s.scope.includes('instrumentation-express'))).toBe(true);
  expect(JSON.stringify(all)).not.toContain('SECRET-TICKET-VALUE'); // url.query: ticket=REDACTED
  expect(all.some((s) => s.kind === SERVER && /\/(metrics|health)/.test(String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? '')))).toBe(false);
}, 30_000);
