import { EventSource } from 'eventsource';
import type { ActivityView, Page } from '@chorus/protocol';
import { waitFor, type TestDatabase } from '@chorus/testing';
import type { RunningChorus } from '../../standalone/chorus';
import { ChorusClient } from './support/chorus-client';
import { setUpSession, type People } from './support/scenario';
import { Api, startTestNodes } from './support/stack';

// Issue 14's activity feed and SSE cap across two whole nodes on the real Postgres and Redis: an agent on node B
// edits a document through the OT path (its ops committed by the conflict service) and reports its status over
// its socket; `GET …/activity` on node A shows one document_edited entry with the version range and the status
// changes, newest first. SSE_STREAMS_PER_USER holds across the nodes: the (cap+1)th stream is refused with 429
// (a real `eventsource` client and a plain fetch see it), and one closing admits the next.

const CAP = 2;
const nodes: RunningChorus[] = [];
const open: Array<{ close(): void }> = [];
let db: TestDatabase;
let a: string;
let b: string;
let people: People;
let base: string;

beforeAll(async () => {
  const started = await startTestNodes('agents_activity', { SSE_STREAMS_PER_USER: String(CAP), AGENT_ACTIVITY_COALESCE_MS: '1500' });
  nodes.push(...started.nodes);
  db = started.db;
  [a, b] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  people = await setUpSession(a, 'agents_activity');
  base = `/api/v1/collaboration/sessions/${people.sessionId}`;
}, 60_000);
afterAll(async () => {
  open.forEach((c) => c.close());
  for (const n of nodes) await n.stop();
  await db?.drop();
});

async function member(url: string, token: string, peer: string): Promise<ChorusClient> {
  const client = await ChorusClient.connect(url, token);
  open.push(client);
  const grant = await new Api(url).request<{ join_token: string }>('POST', `${base}/join`, { token, body: {} });
  await client.ok('join', { session_id: people.sessionId, peer_id: peer, join_token: grant.body.join_token });
  return client;
}

async function activity(query = ''): Promise<Page<ActivityView>> {
  const res = await new Api(a).request<Page<ActivityView>>('GET', `${base}/activity${query}`, { token: people.bob.token });
  expect(res.status).toBe(200);
  return res.body;
}

it('shows an agent’s OT edits as one document_edited entry with the version range, and its status changes, newest first', async () => {
  const sid = people.sessionId;
  const created = await new Api(a).request<{ agent_id: string; access_token: string }>('POST', `${base}/agents`, { token: people.alice.token, body: { name: 'Editor' } });
  const agentId = created.body.agent_id;
  const agent = await member(b, created.body.access_token, 'agent-editor');
  const alice = await member(a, people.alice.token, 'alice-tab');

  await agent.ok('agent_status', { session_id: sid, status: 'thinking', detail: 'reading main.txt' });
  // The agent types three ops; Alice commits one in between (it lies inside the range, it is not the agent's).
  const doc = await agent.ok('open_document', { session_id: sid, doc_id: 'main.txt' });
  const first = await agent.ok('submit_op', { session_id: sid, doc_id: 'main.txt', version: doc.version, op: ['Hello'], seq: 1 });
  const second = await agent.ok('submit_op', { session_id: sid, doc_id: 'main.txt', version: first.version, op: [5, ','], seq: 2 });
  const theirs = await alice.ok('submit_op', { session_id: sid, doc_id: 'main.txt', version: second.version, op: [6, '!'], seq: 1 });
  const third = await agent.ok('submit_op', { session_id: sid, doc_id: 'main.txt', version: theirs.version, op: [7, ' world'], seq: 3 });
  expect([first.version, second.version, theirs.version, third.version]).toEqual([1, 2, 3, 4]);
  // Its next activity ends the run: recorded before it.
  await agent.ok('agent_status', { session_id: sid, status: 'testing', detail: 'npm test' });
  // Repeats are not transitions.
  await agent.ok('agent_status', { session_id: sid, status: 'testing', detail: 'npm test' });

  const feed = await waitFor(
    'the status change after the interval',
    async () => {
      const page = await activity(`?agent_id=${agentId}`);
      return page.items.length >= 3 ? page : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  expect(feed.items.map((i) => i.kind)).toEqual(['status_changed', 'document_edited', 'status_changed']);
  expect(feed.items[1]).toMatchObject({ agent_id: agentId, kind: 'document_edited', doc_id: 'main.txt', from_version: first.version, to_version: third.version, ops: 3 });
  expect(feed.items[0]).toMatchObject({ kind: 'status_changed', status: 'testing', detail: 'npm test' });
  expect(feed.items[2]).toMatchObject({ kind: 'status_changed', status: 'thinking', detail: 'reading main.txt' });
  // Durable session events: in REST history too (what SSE and the app refresh on).
  const history = await new Api(a).request<{ events: Array<{ type: string }> }>('GET', `${base}/history?limit=1000`, { token: people.alice.token });
  expect(history.body.events.filter((e) => e.type === 'document_edited')).toHaveLength(1);
  expect(history.body.events.filter((e) => e.type === 'agent_status_changed')).toHaveLength(2);
});

/** A stream opened with a real EventSource client: resolves `opened` on open, or `refused` with the HTTP status. */
function stream(url: string, token: string): { source: EventSource; outcome: Promise<{ opened: true } | { opened: false; status: number | undefined }> } {
  const source = new EventSource(`${url}${base}/stream`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${token}` } }),
  });
  open.push(source);
  const outcome = new Promise<{ opened: true } | { opened: false; status: number | undefined }>((resolve) => {
    source.addEventListener('open', () => resolve({ opened: true }));
    source.addEventListener('error', (e) => {
      // A non-200 answer is fatal for EventSource (no reconnect): it reports the status.
      resolve({ opened: false, status: (e as { code?: number }).code });
    });
  });
  return { source, outcome };
}

it('refuses the (cap+1)th SSE stream of a user across both nodes with 429, before it opens; admits again after one closes', async () => {
  const first = stream(a, people.bob.token);
  const second = stream(b, people.bob.token);
  expect(await first.outcome).toEqual({ opened: true });
  expect(await second.outcome).toEqual({ opened: true });

  // The third, on either node: refused by the real EventSource client (429 is fatal for it: no retry loop)…
  const third = stream(a, people.bob.token);
  expect(await third.outcome).toEqual({ opened: false, status: 429 });
  third.source.close();
  // …and by a plain request, with the typed error body and the retry advice.
  const refused = await fetch(`${b}${base}/stream`, { headers: { authorization: `Bearer ${people.bob.token}` } });
  expect(refused.status).toBe(429);
  expect(refused.headers.get('retry-after')).toBe('5');
  expect(await refused.json()).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringContaining('SSE_STREAMS_PER_USER'), retry_after_ms: 5_000 });
  // Another user is not affected.
  const alices = stream(b, people.alice.token);
  expect(await alices.outcome).toEqual({ opened: true });
  // The refusals are counted.
  const metrics = await (await fetch(`http://127.0.0.1:${nodes[0].runtime.admin.port ?? nodes[0].port}/metrics`)).text();
  expect(metrics).toMatch(/^chorus_sse_streams_refused_total(\{[^}]*\})? [1-9]/m);

  // One of Bob's closes: its lease goes, and a stream opens again (on the other node).
  first.source.close();
  await waitFor(
    'a stream admitted after one closed',
    async () => {
      const ctrl = new AbortController();
      const res = await fetch(`${b}${base}/stream`, { headers: { authorization: `Bearer ${people.bob.token}` }, signal: ctrl.signal });
      ctrl.abort();
      await res.body?.cancel().catch(() => undefined);
      return res.status === 200;
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  second.source.close();
  alices.source.close();
});
