import { EventSource } from 'eventsource';
import { waitFor, type TestDatabase } from '@chorus/testing';
import type { RunningChorus } from '../../standalone/chorus';
import { ChorusClient } from './support/chorus-client';
import { setUpSession } from './support/scenario';
import { Api, startTestNodes } from './support/stack';

// Issue 14 across two whole nodes on the real Postgres and Redis: an idle agent (its claim found nothing) on
// node B is pushed `prompt_assigned` when Alice queues on node A; Bob joins on node A while the agent (on B)
// streams, and gets the text so far then the rest live — merged by index, nothing twice; an SSE reader drops
// mid-response on node A and resumes on node B with Last-Event-ID: no gap, no duplicate.

const nodes: RunningChorus[] = [];
const open: Array<{ close(): void }> = [];
let db: TestDatabase;

beforeAll(async () => {
  const started = await startTestNodes('agents_live');
  nodes.push(...started.nodes);
  db = started.db;
}, 60_000);
afterAll(async () => {
  open.forEach((c) => c.close());
  for (const n of nodes) await n.stop();
  await db?.drop();
});

async function member(url: string, sessionId: string, token: string, peer: string): Promise<ChorusClient> {
  const client = await ChorusClient.connect(url, token);
  open.push(client);
  const grant = await new Api(url).request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${sessionId}/join`, { token, body: {} });
  await client.ok('join', { session_id: sessionId, peer_id: peer, join_token: grant.body.join_token });
  return client;
}

/** The SDK's merge (libs/client prompts.ts): the text so far, then live chunks above its index, each once. */
function merged(client: ChorusClient, messageId: string): string {
  const soFar = client.of('agent_output_so_far').filter((m) => m.message_id === messageId);
  const through = soFar.length > 0 ? Math.max(...soFar.map((m) => m.through_index)) : -1;
  const base = soFar.find((m) => m.through_index === through)?.text ?? '';
  const live = new Map(client.of('agent_output').filter((m) => m.message_id === messageId && m.index > through).map((m) => [m.index, m.data]));
  return base + [...live].sort(([a], [b]) => a - b).map(([, d]) => d).join('');
}

it('pushes prompt_assigned to an idle agent on the other node, and gives a mid-stream joiner the text so far', async () => {
  const [a, b] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const people = await setUpSession(a, 'agents_live');
  const sid = people.sessionId;
  const base = `/api/v1/collaboration/sessions/${sid}`;
  const created = await new Api(a).request<{ agent_id: string; access_token: string }>('POST', `${base}/agents`, { token: people.alice.token, body: { name: 'Pusher' } });
  const agent = await member(b, sid, created.body.access_token, 'agent-pusher');
  // A plain claim that finds nothing does not wait (nothing is pushed to agents that poll); with wait: true it does.
  expect((await agent.ok('prompt_claim', { session_id: sid, wait: true })).prompt).toBeNull();

  const alice = await member(a, sid, people.alice.token, 'alice-tab');
  const queued = await alice.ok('prompt_submit', { session_id: sid, content: 'Summarise main.txt', client_msg_id: 'live-1' });
  const assigned = await agent.waitForPush('prompt_assigned', (m) => m.prompt.message_id === queued.message_id, 15_000);
  expect(assigned.prompt).toMatchObject({ message_id: queued.message_id, author: 'alice-agents_live', attempt: 1 });
  // A claim now answers the same prompt (no second attempt).
  expect((await agent.ok('prompt_claim', { session_id: sid })).prompt).toMatchObject({ message_id: queued.message_id, attempt: 1 });

  const words = Array.from({ length: 12 }, (_, i) => `w${i} `);
  const send = (i: number) => agent.ok('agent_output', { session_id: sid, message_id: queued.message_id, kind: 'partial_response', index: i, data: words[i] });
  for (let i = 0; i < 6; i++) await send(i);
  // Alice (on A) has the first six live: they passed through Redis, so they are kept for joiners too.
  await waitFor('alice sees six chunks', () => merged(alice, queued.message_id) === words.slice(0, 6).join(''));

  // An SSE reader opening on node B now gets the text so far as one partial_response (so_far, index 5).
  const sseFrames: Array<{ data: { data: Record<string, unknown> } }> = [];
  const sse = new EventSource(`${b}${base}/stream`, { fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${people.bob.token}` } }) });
  open.push(sse);
  sse.addEventListener('partial_response', (e) => sseFrames.push({ data: JSON.parse(e.data as string) as { data: Record<string, unknown> } }));
  await waitFor('the SSE reader gets the text so far', () => sseFrames.find((f) => f.data.data.so_far === true));
  expect(sseFrames[0].data.data).toMatchObject({ message_id: queued.message_id, kind: 'partial_response', index: 5, data: words.slice(0, 6).join(''), so_far: true });
  sse.close();

  const bob = await member(a, sid, people.bob.token, 'bob-late');
  const soFar = await bob.waitForPush('agent_output_so_far', (m) => m.message_id === queued.message_id, 15_000);
  expect(soFar).toMatchObject({ agent_id: created.body.agent_id, through_index: 5, text: words.slice(0, 6).join('') });
  // A resent chunk changes nothing; the rest arrive live.
  await send(5);
  for (let i = 6; i < 12; i++) await send(i);
  await waitFor('bob has the whole text once', () => merged(bob, queued.message_id) === words.join(''));
  await waitFor('alice too', () => merged(alice, queued.message_id) === words.join(''));

  // Done: a later joiner gets no text so far for it.
  await agent.ok('prompt_done', { session_id: sid, message_id: queued.message_id });
  const late = await member(b, sid, people.alice.token, 'alice-second-tab');
  await late.ok('who', { session_id: sid });
  expect(late.of('agent_output_so_far')).toEqual([]);

  // A plain claim that finds nothing does not wait: the next prompt is not pushed...
  expect((await agent.ok('prompt_claim', { session_id: sid })).prompt).toBeNull();
  const unpushed = await alice.ok('prompt_submit', { session_id: sid, content: 'Polled', client_msg_id: 'live-poll' });
  expect((await agent.ok('prompt_claim', { session_id: sid })).prompt?.message_id).toBe(unpushed.message_id);
  expect(agent.of('prompt_assigned').filter((m) => m.prompt.message_id === unpushed.message_id)).toEqual([]);
  await agent.ok('prompt_done', { session_id: sid, message_id: unpushed.message_id });
  // ...one with wait: true does.
  expect((await agent.ok('prompt_claim', { session_id: sid, wait: true })).prompt).toBeNull();
  const next = await alice.ok('prompt_submit', { session_id: sid, content: 'Again', client_msg_id: 'live-2' });
  await agent.waitForPush('prompt_assigned', (m) => m.prompt.message_id === next.message_id, 15_000);
}, 60_000);

it('resumes an SSE stream dropped mid-response on the other node with Last-Event-ID: no gap, no duplicate', async () => {
  const [a, b] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const people = await setUpSession(a, 'agents_live_sse');
  const sid = people.sessionId;
  const base = `/api/v1/collaboration/sessions/${sid}`;
  const created = await new Api(a).request<{ agent_id: string; access_token: string }>('POST', `${base}/agents`, { token: people.alice.token, body: { name: 'Streamer' } });
  const agent = await member(a, sid, created.body.access_token, 'agent-streamer');
  const alice = await member(b, sid, people.alice.token, 'alice-tab');
  const queued = await alice.ok('prompt_submit', { session_id: sid, content: 'Explain', client_msg_id: 'sse-1' });
  await agent.ok('prompt_claim', { session_id: sid });

  type Frame = { event: string; id: string; data: { source_user_id: string | null; data: Record<string, unknown> } };
  const listen = (url: string, lastEventId?: string) => {
    const frames: Frame[] = [];
    const source = new EventSource(`${url}${base}/stream`, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${people.bob.token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } }),
    });
    for (const name of ['tool_start', 'tool_result', 'response', 'partial_response', 'user_message', 'session_event']) {
      source.addEventListener(name, (e) => frames.push({ event: name, id: e.lastEventId, data: JSON.parse(e.data as string) as Frame['data'] }));
    }
    open.push(source);
    return { source, frames, opened: new Promise<void>((resolve) => source.addEventListener('open', () => resolve())) };
  };

  const first = listen(a);
  await first.opened;
  const output = (index: number, kind: 'tool_start' | 'tool_result' | 'partial_response' | 'response', data: string) =>
    agent.ok('agent_output', { session_id: sid, message_id: queued.message_id, kind, index, data });
  await output(0, 'tool_start', 'wc main.txt');
  await output(1, 'tool_result', '12 words');
  await output(2, 'partial_response', 'It ');
  await waitFor('the first reader has the tool calls and a partial', () => first.frames.some((f) => f.event === 'partial_response') && first.frames.filter((f) => f.event === 'tool_result').length === 1);
  const lastId = [...first.frames].reverse().find((f) => f.id !== '')?.id;
  expect(lastId).toBeDefined();
  first.source.close();

  // While no stream is open: more durable output, which the resumed stream must replay once.
  await output(3, 'tool_start', 'grep parser');
  await output(4, 'tool_result', '3 hits');
  const second = listen(b, lastId);
  await second.opened;
  await output(5, 'response', 'It parses.');
  await waitFor('the resumed reader has the response', () => second.frames.some((f) => f.event === 'response'));

  const durable = (frames: Frame[]) => frames.filter((f) => f.id !== '' && ['tool_start', 'tool_result', 'response'].includes(f.event)).map((f) => `${f.event}:${String(f.data.data.index)}`);
  expect([...durable(first.frames), ...durable(second.frames)]).toEqual(['tool_start:0', 'tool_result:1', 'tool_start:3', 'tool_result:4', 'response:5']);
  const ids = [...first.frames, ...second.frames].filter((f) => f.id !== '').map((f) => Number(f.id));
  expect(new Set(ids).size).toBe(ids.length);
  expect(Math.min(...second.frames.filter((f) => f.id !== '').map((f) => Number(f.id)))).toBeGreaterThan(Number(lastId));
}, 60_000);
