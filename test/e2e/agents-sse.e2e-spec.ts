import { EventSource } from 'eventsource';
import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { setUpSession, type People } from './support/scenario';
import { Api, startTestStack, type TestStack } from './support/stack';

// The session as Server-Sent Events, read by a client that is not ours (the `eventsource` npm package, the
// WHATWG EventSource for Node): the seed's event names and fields, ids on durable events only, a resume with
// Last-Event-ID with no gap and no duplicate, and authentication by header or single-use ticket.

interface Received {
  readonly event: string;
  readonly id: string;
  readonly body: { source_user_id: string | null; data: Record<string, unknown> };
}

const NAMES = ['participant_joined', 'participant_left', 'user_message', 'response', 'partial_response', 'tool_start', 'tool_result', 'queue_updated', 'session_event', 'agent_status'];

describe('the SSE stream', () => {
  let stack: TestStack;
  let api: Api;
  let people: People;
  let base: string;
  const open: Array<{ close(): void }> = [];

  beforeAll(async () => {
    stack = await startTestStack('agents_sse');
    api = new Api(stack.url);
    people = await setUpSession(stack.url, 'sse');
    base = `/api/v1/collaboration/sessions/${people.sessionId}`;
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await stack?.stop();
  });

  function listen(headers: Record<string, string>, query = ''): { source: EventSource; got: Received[]; errors: unknown[]; opened: Promise<void> } {
    const got: Received[] = [];
    const errors: unknown[] = [];
    const source = new EventSource(`${stack.url}${base}/stream${query}`, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }),
    });
    for (const name of NAMES) {
      source.addEventListener(name, (e) => got.push({ event: name, id: e.lastEventId, body: JSON.parse(e.data as string) as Received['body'] }));
    }
    source.addEventListener('error', (e) => errors.push(e));
    const opened = new Promise<void>((resolve) => source.addEventListener('open', () => resolve()));
    open.push(source);
    return { source, got, errors, opened };
  }

  let agents = 0;
  async function agentAtWork(): Promise<{ agent: ChorusClient; agentId: string }> {
    const n = ++agents;
    const created = await api.request<{ agent_id: string; access_token: string }>('POST', `${base}/agents`, { token: people.alice.token, body: { name: `Streamer ${n}` } });
    const grant = await api.request<{ join_token: string }>('POST', `${base}/join`, { token: created.body.access_token, body: {} });
    const agent = await ChorusClient.connect(stack.url, created.body.access_token);
    open.push(agent);
    await agent.ok('join', { session_id: people.sessionId, peer_id: `streamer-${n}`, join_token: grant.body.join_token });
    return { agent, agentId: created.body.agent_id };
  }

  it('delivers the seed events with their fields; durable ones with id: <seq>, ephemeral ones without', async () => {
    const { got, opened } = listen({ authorization: `Bearer ${people.bob.token}` });
    await opened;
    const { agent, agentId } = await agentAtWork();
    await waitFor('the agent joined', () => got.some((g) => g.event === 'participant_joined' && g.body.source_user_id === agentId), { timeoutMs: 10_000 });

    const queued = await api.request<{ message_id: string }>('POST', `${base}/messages`, { token: people.alice.token, body: { content: 'explain', client_msg_id: 'sse-1' } });
    const claimed = await agent.ok('prompt_claim', { session_id: people.sessionId });
    expect(claimed.prompt?.message_id).toBe(queued.body.message_id);
    const message_id = queued.body.message_id;
    await agent.ok('agent_output', { session_id: people.sessionId, message_id, kind: 'partial_response', index: 0, data: 'Hel' });
    await agent.ok('agent_output', { session_id: people.sessionId, message_id, kind: 'tool_start', index: 1, data: 'grep' });
    await agent.ok('agent_output', { session_id: people.sessionId, message_id, kind: 'response', index: 2, data: 'Hello' });
    // queue_updated is coalesced (read 20 ms after the change): it may come after the response.
    await waitFor('the response and a queue view', () => got.some((g) => g.event === 'response') && got.some((g) => g.event === 'queue_updated'), { timeoutMs: 10_000 });

    const user = got.find((g) => g.event === 'user_message');
    expect(user).toMatchObject({ id: expect.stringMatching(/^\d+$/), body: { source_user_id: 'alice-sse', data: { message_id, content: 'explain' } } });
    expect(got.find((g) => g.event === 'partial_response')).toMatchObject({ id: '', body: { source_user_id: agentId, data: { message_id, data: 'Hel', index: 0 } } });
    expect(got.find((g) => g.event === 'tool_start')).toMatchObject({ id: expect.stringMatching(/^\d+$/), body: { source_user_id: agentId, data: { kind: 'tool_start', data: 'grep' } } });
    expect(got.find((g) => g.event === 'response')?.body.data).toMatchObject({ message_id, data: 'Hello' });
    expect(got.find((g) => g.event === 'queue_updated')).toMatchObject({ id: '' });
    // Durable ids strictly increase: the stream is in seq order.
    const ids = got.filter((g) => g.id !== '').map((g) => Number(g.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    await agent.ok('prompt_done', { session_id: people.sessionId, message_id });
  });

  it('resumes with Last-Event-ID: every durable event after it once, none before, none missed', async () => {
    const { agent } = await agentAtWork();
    const first = listen({ authorization: `Bearer ${people.bob.token}` });
    await first.opened;
    const queued = await api.request<{ message_id: string }>('POST', `${base}/messages`, { token: people.alice.token, body: { content: 'resume me', client_msg_id: 'sse-2' } });
    const message_id = queued.body.message_id;
    await agent.ok('prompt_claim', { session_id: people.sessionId });
    await agent.ok('agent_output', { session_id: people.sessionId, message_id, kind: 'tool_start', index: 0, data: 'step 0' });
    await waitFor('step 0', () => first.got.some((g) => g.event === 'tool_start' && g.body.data.data === 'step 0'), { timeoutMs: 10_000 });
    // Dropped mid-response; the agent goes on meanwhile.
    first.source.close();
    const lastId = first.got.filter((g) => g.id !== '').at(-1)?.id ?? '0';
    for (let i = 1; i <= 5; i++) await agent.ok('agent_output', { session_id: people.sessionId, message_id, kind: 'tool_result', index: i, data: `step ${i}` });
    await agent.ok('agent_output', { session_id: people.sessionId, message_id, kind: 'response', index: 6, data: 'done' });

    const resumed = listen({ authorization: `Bearer ${people.bob.token}`, 'last-event-id': lastId });
    await waitFor('the response after the resume', () => resumed.got.some((g) => g.event === 'response' && g.body.data.data === 'done'), { timeoutMs: 10_000 });
    const history = await api.request<{ events: Array<{ seq: number; type: string; payload: Record<string, unknown> }> }>('GET', `${base}/history?after_seq=${lastId}&limit=1000`, { token: people.alice.token });
    const resumedIds = resumed.got.filter((g) => g.id !== '').map((g) => Number(g.id));
    const head = Math.max(...resumedIds);
    // Exactly the durable events after Last-Event-ID up to the newest one received, less the one this stream is
    // not sent: its own participant_joined.
    const own = history.body.events.filter((e) => e.type === 'peer_joined' && String(e.payload.peer_id).startsWith('sse-'));
    expect(own).toHaveLength(1);
    expect(resumedIds).toEqual(history.body.events.filter((e) => e.seq <= head && e !== own[0]).map((e) => e.seq));
    // What happened while it was away is all there: the five results and the response.
    expect(head).toBeGreaterThanOrEqual(Number(lastId) + 6);
    expect(resumed.got.filter((g) => g.event === 'tool_result').map((g) => g.body.data.data)).toEqual(['step 1', 'step 2', 'step 3', 'step 4', 'step 5']);
    await agent.ok('prompt_done', { session_id: people.sessionId, message_id });
  });

  it('authenticates by header or by a single-use ticket, never otherwise', async () => {
    const bare = await fetch(`${stack.url}${base}/stream`);
    expect(bare.status).toBe(401);
    const bad = await fetch(`${stack.url}${base}/stream`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    const ticket = await api.request<{ ticket: string }>('POST', '/api/v1/auth/ws-ticket', { token: people.bob.token });
    const byTicket = listen({}, `?ticket=${ticket.body.ticket}`);
    await waitFor('a frame through the ticketed stream', async () => {
      await api.request('POST', `${base}/messages`, { token: people.alice.token, body: { content: 'ticketed', client_msg_id: `sse-t-${Date.now()}` } });
      return byTicket.got.some((g) => g.event === 'user_message');
    }, { timeoutMs: 10_000, intervalMs: 200 });
    const reused = await fetch(`${stack.url}${base}/stream?ticket=${ticket.body.ticket}`);
    expect(reused.status).toBe(401);
    // A non-participant is refused before the stream opens.
    const stranger = await api.devToken('stranger-sse');
    expect((await fetch(`${stack.url}${base}/stream`, { headers: { authorization: `Bearer ${stranger}` } })).status).toBe(403);
  });
});
