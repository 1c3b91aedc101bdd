import type { ServerMessageOf } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { setUpSession, type People } from './support/scenario';
import { Api, startTestStack, type TestStack } from './support/stack';

// Agents as participants and the durable prompt queue (docs/agents.md), through the whole product: REST, real
// socket.io clients, the session service's Postgres queue. Leases are short here (AGENT_LEASE_MS) so that a
// lapse is seen within the test; two attempts park a prompt.

const LEASE_MS = 2_000;

type QueueUpdated = ServerMessageOf<'queue_updated'>;
type Event = { seq: number; type: string; actor: string; payload: Record<string, unknown> };

describe('agents and the prompt queue', () => {
  let stack: TestStack;
  let api: Api;
  let people: People;
  let base: string;
  const clients: ChorusClient[] = [];
  let n = 0;

  beforeAll(async () => {
    stack = await startTestStack('agents', { env: { AGENT_LEASE_MS: String(LEASE_MS), AGENT_MAX_ATTEMPTS: '2' } });
    api = new Api(stack.url);
    people = await setUpSession(stack.url, 'agents');
    base = `/api/v1/collaboration/sessions/${people.sessionId}`;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await stack?.stop();
  });

  async function addAgent(name: string): Promise<{ agent_id: string; access_token: string }> {
    const res = await api.request<{ agent_id: string; access_token: string }>('POST', `${base}/agents`, { token: people.alice.token, body: { name, capabilities: ['summarise'] } });
    expect(res.status).toBe(201);
    return res.body;
  }

  async function joined(token: string, peer: string): Promise<ChorusClient> {
    const client = await ChorusClient.connect(stack.url, token);
    clients.push(client);
    const grant = await api.request<{ join_token: string }>('POST', `${base}/join`, { token, body: {} });
    expect(grant.status).toBe(200);
    await client.ok('join', { session_id: people.sessionId, peer_id: peer, join_token: grant.body.join_token });
    return client;
  }

  async function submit(token: string, body: Record<string, unknown>): Promise<{ message_id: string; queue_position: number; agent_busy: boolean }> {
    const res = await api.request<{ message_id: string; queue_position: number; agent_busy: boolean }>('POST', `${base}/messages`, { token, body: { client_msg_id: `m-${++n}`, ...body } });
    if (res.status !== 201) throw new Error(`submit failed: ${res.status} ${res.raw}`);
    return res.body;
  }

  async function events(): Promise<Event[]> {
    const res = await api.request<{ events: Event[] }>('GET', `${base}/history?after_seq=0&limit=1000`, { token: people.alice.token });
    return res.body.events;
  }

  /** The newest view of a queue a client holds (highest revision wins, as docs/agents.md tells clients). */
  function latestQueue(client: ChorusClient, agentId: string | null): QueueUpdated | undefined {
    return client
      .of('queue_updated')
      .filter((q) => q.agent_id === agentId)
      .sort((a, b) => b.revision - a.revision)[0];
  }

  async function drainShared(agent: ChorusClient): Promise<void> {
    for (;;) {
      const claimed = await agent.ok('prompt_claim', { session_id: people.sessionId });
      if (claimed.prompt === null) return;
      await agent.ok('prompt_done', { session_id: people.sessionId, message_id: claimed.prompt.message_id });
    }
  }

  it('documents every agent and queue route in OpenAPI', async () => {
    const doc = (await api.request<{ paths: Record<string, Record<string, unknown>> }>('GET', '/api/docs-json')).body;
    const routes: Array<[string, string]> = [
      ['/api/v1/collaboration/sessions/{id}/agents', 'post'],
      ['/api/v1/collaboration/sessions/{id}/agents', 'get'],
      ['/api/v1/collaboration/sessions/{id}/agents/{agentId}', 'delete'],
      ['/api/v1/collaboration/sessions/{id}/messages', 'post'],
      ['/api/v1/collaboration/sessions/{id}/messages/{messageId}', 'delete'],
      ['/api/v1/collaboration/sessions/{id}/messages/{messageId}', 'patch'],
      ['/api/v1/collaboration/sessions/{id}/queue', 'get'],
      ['/api/v1/collaboration/sessions/{id}/stream', 'get'],
      ['/api/v1/collaboration/sessions/{id}/messages', 'get'],
      ['/api/v1/collaboration/sessions/{id}/activity', 'get'],
    ];
    for (const [path, method] of routes) expect({ path, method, documented: doc.paths[path]?.[method] !== undefined }).toEqual({ path, method, documented: true });
  });

  describe('identities', () => {
    it('an owner adds an agent: a participant with role agent, a credential scoped to the session', async () => {
      const refused = await api.request('POST', `${base}/agents`, { token: people.bob.token, body: { name: 'Sneaky' } });
      expect(refused).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });

      const agent = await addAgent('Claude');
      const participants = await api.request<Array<{ user_id: string; role: string; kind: string }>>('GET', `${base}/participants`, { token: people.alice.token });
      expect(participants.body).toContainEqual(expect.objectContaining({ user_id: agent.agent_id, role: 'agent', kind: 'agent' }));
      expect((await api.request('GET', base, { token: agent.access_token })).status).toBe(200);

      // Scoped: no session of its own, nothing outside this one, no management inside it.
      expect((await api.request('POST', '/api/v1/collaboration/sessions', { token: agent.access_token, body: { name: 'mine' } })).status).toBe(403);
      const other = await api.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token: people.alice.token, body: { name: 'other', is_public: true } });
      expect((await api.request('GET', `/api/v1/collaboration/sessions/${other.body.session_id}`, { token: agent.access_token })).status).toBe(404);
      expect((await api.request('POST', `/api/v1/collaboration/sessions/${other.body.session_id}/join`, { token: agent.access_token, body: {} })).status).toBe(404);
      expect((await api.request('POST', `${base}/invite`, { token: agent.access_token, body: { role: 'editor' } })).status).toBe(403);
      expect((await api.request('POST', `${base}/agents`, { token: agent.access_token, body: { name: 'Clone' } })).status).toBe(403);
      expect((await api.request('POST', `${base}/messages`, { token: agent.access_token, body: { content: 'hi', client_msg_id: 'self' } })).status).toBe(403);
    });

    it('a viewer cannot prompt; an editor can', async () => {
      const invite = await api.request<{ code: string }>('POST', `${base}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
      const carol = await api.devToken('carol-agents', 'Carol');
      expect((await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: carol, body: {} })).status).toBe(200);
      expect(await api.request('POST', `${base}/messages`, { token: carol, body: { content: 'let me in', client_msg_id: 'v-1' } })).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });
      const carolSocket = await joined(carol, 'carol-1');
      expect(await carolSocket.request('prompt_submit', { session_id: people.sessionId, content: 'let me in', client_msg_id: 'v-2' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
      const queued = await submit(people.bob.token, { content: 'editor prompt' });
      expect(queued.queue_position).toBeGreaterThanOrEqual(1);
      await api.request('DELETE', `${base}/messages/${queued.message_id}`, { token: people.bob.token });
    });

    it('a revoked agent credential stops working at once, and its live socket is disconnected', async () => {
      const agent = await addAgent('Short-lived');
      const socket = await joined(agent.access_token, 'short-1');
      const held = await submit(people.alice.token, { content: 'for the short-lived one', agent_id: agent.agent_id });
      expect((await socket.ok('prompt_claim', { session_id: people.sessionId })).prompt?.message_id).toBe(held.message_id);

      expect((await api.request('DELETE', `${base}/agents/${agent.agent_id}`, { token: people.alice.token })).status).toBe(200);
      // The very next request with the credential is refused (no cache, no delay).
      expect((await api.request('GET', base, { token: agent.access_token })).status).toBe(404);
      expect((await api.request('POST', `${base}/join`, { token: agent.access_token, body: {} })).status).toBe(404);
      await socket.waitForPush('disconnect_notice');
      await waitFor('the revoked agent is disconnected', () => !socket.connected);
      // Its prompt went back to its queue, and the agent is listed as revoked.
      const queues = await api.request<Array<{ agent_id: string | null; items: Array<{ message_id: string }> }>>('GET', `${base}/queue`, { token: people.alice.token });
      expect(queues.body.find((q) => q.agent_id === agent.agent_id)?.items.map((i) => i.message_id)).toEqual([held.message_id]);
      const listed = await api.request<Array<{ agent_id: string; revoked_at: string | null }>>('GET', `${base}/agents`, { token: people.alice.token });
      expect(listed.body.find((a) => a.agent_id === agent.agent_id)?.revoked_at).toEqual(expect.any(String));
      await api.request('DELETE', `${base}/messages/${held.message_id}`, { token: people.alice.token });
    });
  });

  describe('the queue', () => {
    it('orders by priority then arrival, answers positions, is idempotent by client_msg_id, and every client sees the same queue', async () => {
      const alice = await joined(people.alice.token, 'alice-q');
      const bob = await joined(people.bob.token, 'bob-q');
      const first = await alice.ok('prompt_submit', { session_id: people.sessionId, content: 'first', client_msg_id: 'q-first' });
      const second = await submit(people.bob.token, { content: 'second' });
      const urgent = await submit(people.bob.token, { content: 'urgent', priority: 5 });
      expect([first.queue_position, second.queue_position, urgent.queue_position]).toEqual([1, 2, 1]);

      // A resend: the same prompt, no second event.
      const again = await alice.ok('prompt_submit', { session_id: people.sessionId, content: 'first', client_msg_id: 'q-first' });
      expect(again).toMatchObject({ message_id: first.message_id, queue_position: 2 });
      expect((await events()).filter((e) => e.type === 'prompt_queued' && e.payload.message_id === first.message_id)).toHaveLength(1);

      const order = [urgent.message_id, first.message_id, second.message_id];
      for (const client of [alice, bob]) {
        await waitFor('the queue as everyone sees it', () => latestQueue(client, null)?.items.map((i) => i.message_id).join() === order.join(), { timeoutMs: 10_000 });
      }
      expect(latestQueue(alice, null)).toEqual(latestQueue(bob, null));

      // Bob may not cancel Alice's prompt; Alice (the owner) may reorder anything; Bob cancels his own.
      expect(await bob.request('prompt_cancel', { session_id: people.sessionId, message_id: first.message_id })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
      expect((await api.request('PATCH', `${base}/messages/${second.message_id}`, { token: people.bob.token, body: { position: 1 } })).status).toBe(403);
      const moved = await api.request<{ items: Array<{ message_id: string }> }>('PATCH', `${base}/messages/${second.message_id}`, { token: people.alice.token, body: { position: 1 } });
      expect(moved.body.items.map((i) => i.message_id)).toEqual([second.message_id, urgent.message_id, first.message_id]);
      await bob.ok('prompt_cancel', { session_id: people.sessionId, message_id: urgent.message_id });
      const after = [second.message_id, first.message_id];
      for (const client of [alice, bob]) {
        await waitFor('the queue after reorder and cancel', () => latestQueue(client, null)?.items.map((i) => i.message_id).join() === after.join(), { timeoutMs: 10_000 });
      }
      expect(latestQueue(alice, null)?.items.map((i) => i.position)).toEqual([1, 2]);

      const agent = await joined((await addAgent('Drainer')).access_token, 'drainer-1');
      await drainShared(agent);
      agent.close();
    });

    it('an agent claims in queue order, reports status and output to everyone, and completes each prompt once', async () => {
      const watcher = await joined(people.bob.token, 'bob-watch');
      const claude = await addAgent('Worker');
      const agent = await joined(claude.access_token, 'worker-1');
      const a = await submit(people.alice.token, { content: 'A', agent_id: claude.agent_id });
      const b = await submit(people.bob.token, { content: 'B', agent_id: claude.agent_id });
      expect(b).toMatchObject({ queue_position: 2 });

      const claimed = await agent.ok('prompt_claim', { session_id: people.sessionId });
      expect(claimed.prompt).toMatchObject({ message_id: a.message_id, content: 'A', author: `alice-agents`, attempt: 1 });
      // A claim while holding a prompt answers the same prompt (after a reconnect, say).
      expect((await agent.ok('prompt_claim', { session_id: people.sessionId })).prompt?.message_id).toBe(a.message_id);
      expect((await submit(people.alice.token, { content: 'C', agent_id: claude.agent_id })).agent_busy).toBe(true);

      await agent.ok('agent_status', { session_id: people.sessionId, status: 'thinking', detail: 'reading' });
      await agent.ok('agent_output', { session_id: people.sessionId, message_id: a.message_id, kind: 'partial_response', index: 0, data: 'Hel' });
      await agent.ok('agent_output', { session_id: people.sessionId, message_id: a.message_id, kind: 'tool_start', index: 1, data: '{"tool":"grep"}' });
      const response = await agent.ok('agent_output', { session_id: people.sessionId, message_id: a.message_id, kind: 'response', index: 2, data: 'Hello' });
      expect(response.seq).toEqual(expect.any(Number));
      // A resent output (same index) is stored once.
      expect((await agent.ok('agent_output', { session_id: people.sessionId, message_id: a.message_id, kind: 'response', index: 2, data: 'Hello' })).seq).toBe(response.seq);

      await watcher.waitForPush('agent_status', (s) => s.agent_id === claude.agent_id && s.status === 'thinking');
      await watcher.waitForPush('agent_output', (o) => o.message_id === a.message_id && o.data === 'Hel');
      await watcher.waitForPush('session_event', (e) => e.event_type === 'agent_output' && (e.payload as { kind: string }).kind === 'response');

      const done = await agent.ok('prompt_done', { session_id: people.sessionId, message_id: a.message_id });
      expect((await agent.ok('prompt_done', { session_id: people.sessionId, message_id: a.message_id })).seq).toBe(done.seq);
      expect((await agent.ok('prompt_claim', { session_id: people.sessionId })).prompt?.message_id).toBe(b.message_id);
      const completed = (await events()).filter((e) => e.type === 'prompt_completed' && e.payload.message_id === a.message_id);
      expect(completed).toHaveLength(1);

      // The conversation (the seed's /join) and the activity feed, newest first.
      const messages = await api.request<{ items: Array<{ role: string; message_id: string; content: string; author: string }>; next_before_seq: number | null }>('GET', `${base}/messages?limit=3`, {
        token: people.bob.token,
      });
      expect(messages.body.items.map((m) => [m.role, m.content])).toEqual([
        ['assistant', 'Hello'],
        ['user', 'C'],
        ['user', 'B'],
      ]);
      expect(messages.body.next_before_seq).toEqual(expect.any(Number));
      const older = await api.request<{ items: Array<{ role: string; content: string }> }>('GET', `${base}/messages?limit=1&before_seq=${messages.body.next_before_seq}`, { token: people.bob.token });
      expect(older.body.items.map((m) => [m.role, m.content])).toEqual([['user', 'A']]);
      const activity = await api.request<{ items: Array<{ kind: string; message_id: string; data: string | null }> }>('GET', `${base}/activity?agent_id=${claude.agent_id}&limit=10`, { token: people.bob.token });
      expect(activity.body.items.map((i) => i.kind)).toEqual(['prompt_taken', 'prompt_finished', 'tool_start', 'prompt_taken']);
      expect(activity.body.items.every((i) => [a.message_id, b.message_id].includes(i.message_id))).toBe(true);
      await drainShared(agent);
      agent.close();
    });

    it('a lapsed lease gives the prompt back to the head of its queue; the late agent cannot complete it; a poison prompt is parked', async () => {
      const agents = await Promise.all([addAgent('Hangs-1'), addAgent('Hangs-2')]);
      const [one, two] = await Promise.all(agents.map((a, i) => joined(a.access_token, `hangs-${i}`)));
      const poison = await submit(people.alice.token, { content: 'poison' });
      const next = await submit(people.alice.token, { content: 'next' });

      expect((await one.ok('prompt_claim', { session_id: people.sessionId })).prompt?.message_id).toBe(poison.message_id);
      await waitFor('the lease lapsed and the prompt went back', async () => (await events()).some((e) => e.type === 'prompt_released' && e.payload.message_id === poison.message_id), {
        timeoutMs: 10 * LEASE_MS,
        intervalMs: 250,
      });
      const retaken = await two.ok('prompt_claim', { session_id: people.sessionId });
      // Back at the head: taken before `next`, which arrived later; the second attempt.
      expect(retaken.prompt).toMatchObject({ message_id: poison.message_id, attempt: 2 });
      expect(await one.request('prompt_done', { session_id: people.sessionId, message_id: poison.message_id })).toMatchObject({ type: 'error', code: 'CONFLICT' });

      await waitFor('parked after the second lapse', async () => (await events()).some((e) => e.type === 'prompt_released' && e.payload.message_id === poison.message_id && e.payload.parked === true), {
        timeoutMs: 10 * LEASE_MS,
        intervalMs: 250,
      });
      const queues = await api.request<Array<{ agent_id: string | null; items: Array<{ message_id: string }> }>>('GET', `${base}/queue`, { token: people.alice.token });
      expect(queues.body.find((q) => q.agent_id === null)?.items.map((i) => i.message_id)).toEqual([next.message_id]);
      await drainShared(one);
    });

    it('an agent that disconnects gives its prompt back at once, and another completes it', async () => {
      const [x, y] = await Promise.all([addAgent('Leaves'), addAgent('Stays')]);
      const leaving = await joined(x.access_token, 'leaves-1');
      const staying = await joined(y.access_token, 'stays-1');
      const prompt = await submit(people.alice.token, { content: 'survive a crash' });
      expect((await leaving.ok('prompt_claim', { session_id: people.sessionId })).prompt?.message_id).toBe(prompt.message_id);
      leaving.close();
      await waitFor('released on disconnect', async () => (await events()).some((e) => e.type === 'prompt_released' && e.payload.message_id === prompt.message_id && e.payload.reason === 'disconnected'), {
        timeoutMs: 10_000,
        intervalMs: 250,
      });
      const retaken = await staying.ok('prompt_claim', { session_id: people.sessionId });
      expect(retaken.prompt?.message_id).toBe(prompt.message_id);
      await staying.ok('prompt_done', { session_id: people.sessionId, message_id: prompt.message_id });
    });

    it('concurrent users and agents: every prompt completed exactly once', async () => {
      const agentTokens = await Promise.all([addAgent('Pool-1'), addAgent('Pool-2'), addAgent('Pool-3')]);
      const pool = await Promise.all(agentTokens.map((a, i) => joined(a.access_token, `pool-${i}`)));
      const submitted = await Promise.all(Array.from({ length: 30 }, (_, i) => submit(i % 2 === 0 ? people.alice.token : people.bob.token, { content: `job ${i}` })));
      const done: string[] = [];
      await Promise.all(
        pool.map(async (agent) => {
          for (;;) {
            const claimed = await agent.ok('prompt_claim', { session_id: people.sessionId });
            if (claimed.prompt === null) return;
            await agent.ok('prompt_done', { session_id: people.sessionId, message_id: claimed.prompt.message_id });
            done.push(claimed.prompt.message_id);
          }
        }),
      );
      expect([...done].sort()).toEqual(submitted.map((s) => s.message_id).sort());
      const completed = (await events()).filter((e) => e.type === 'prompt_completed').map((e) => e.payload.message_id as string);
      for (const s of submitted) expect(completed.filter((id) => id === s.message_id)).toHaveLength(1);
    });
  });
});

