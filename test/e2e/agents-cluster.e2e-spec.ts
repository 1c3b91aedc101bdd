import type { ClientMessageType, ServerMessage, ServerMessageOf } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession } from './support/scenario';
import { Api } from './support/stack';

// Issue 14, "must show", as separate processes: 2 gateways × 2 replicas of every service, real Postgres and
// Redis. Users on both gateways queue prompts; every client's view of the queue is the same; 3 agents (on both
// gateways) take them; one agent drops mid-prompt and a session replica is killed (SIGKILL) mid-run. Every
// prompt is completed exactly once, and first attempts are taken in queue order.

const USERS = 10;
const PROMPTS_EACH = 3;
let cluster: ProcessCluster;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster('agents_cluster', { gateways: 2, replicas: 2, extraEnv: { AGENT_LEASE_MS: '3000' } });
}, 180_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

type QueueUpdated = ServerMessageOf<'queue_updated'>;
type Event = { seq: number; type: string; payload: Record<string, unknown> };

/** A request retried while the answer is retryable (a replica died: UNAVAILABLE until the survivor answers). */
async function until(client: ChorusClient, type: ClientMessageType, body: Record<string, unknown>): Promise<ServerMessage> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    let reply: ServerMessage;
    try {
      reply = await client.requestRaw(type, body, 20_000);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      continue;
    }
    if (reply.type !== 'error') return reply;
    if (!reply.retryable || Date.now() > deadline) throw new Error(`${type}: ${reply.code} ${reply.message}`);
  }
}

function latest(client: ChorusClient): QueueUpdated | undefined {
  return client
    .of('queue_updated')
    .filter((q) => q.agent_id === null)
    .sort((a, b) => b.revision - a.revision)[0];
}

it('every prompt completed exactly once, in queue order, through an agent drop and a session replica kill', async () => {
  const [g1, g2] = cluster.gateways;
  const people = await setUpSession(g1, 'agents_cluster');
  const sid = people.sessionId;
  const api = new Api(g1);
  const base = `/api/v1/collaboration/sessions/${sid}`;
  const invite = await api.request<{ code: string }>('POST', `${base}/invite`, { token: people.alice.token, body: { role: 'editor', max_uses: USERS } });

  const join = async (url: string, token: string, peer: string) => {
    const client = await ChorusClient.connect(url, token);
    clients.push(client);
    const grant = await new Api(url).request<{ join_token: string }>('POST', `${base}/join`, { token, body: {} });
    await client.ok('join', { session_id: sid, peer_id: peer, join_token: grant.body.join_token });
    return client;
  };
  const users = await Promise.all(
    Array.from({ length: USERS }, async (_, i) => {
      const token = await api.devToken(`user-${i}`, `User ${i}`);
      await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token, body: {} });
      return join(i % 2 === 0 ? g1 : g2, token, `user-${i}`);
    }),
  );

  // Phase 1: everyone queues at once; then every client, on either gateway, holds the same queue.
  const queued = await Promise.all(
    users.flatMap((u, i) =>
      Array.from({ length: PROMPTS_EACH }, async (_, k) => (await until(u, 'prompt_submit', { session_id: sid, content: `prompt ${i}.${k}`, client_msg_id: `p-${i}-${k}` })) as ServerMessageOf<'prompt_queued'>),
    ),
  );
  const total = USERS * PROMPTS_EACH;
  expect(new Set(queued.map((q) => q.message_id)).size).toBe(total);
  await waitFor('every client sees the whole queue', () => users.every((u) => latest(u)?.length === total), { timeoutMs: 30_000 });
  const views = users.map((u) => JSON.stringify(latest(u)?.items));
  expect(new Set(views).size).toBe(1);
  const order = latest(users[0])?.items.map((i) => i.message_id) ?? [];
  // The positions answered to each submitter agree with the final order's arrival ranks (no two the same).
  expect(new Set(order).size).toBe(total);

  // Phase 2: three agents work; one drops holding a prompt; a session replica dies.
  const agents = await Promise.all(
    ['a', 'b', 'c'].map(async (name, i) => {
      const created = await api.request<{ access_token: string }>('POST', `${base}/agents`, { token: people.alice.token, body: { name: `Agent ${name}` } });
      return join(i % 2 === 0 ? g1 : g2, created.body.access_token, `agent-${name}`);
    }),
  );
  const dropper = agents[0];
  const held = (await until(dropper, 'prompt_claim', { session_id: sid })) as ServerMessageOf<'prompt_claimed'>;
  expect(held.prompt?.message_id).toBe(order[0]);
  dropper.close();

  let completed = 0;
  const work = async (agent: ChorusClient) => {
    for (;;) {
      const claimed = (await until(agent, 'prompt_claim', { session_id: sid })) as ServerMessageOf<'prompt_claimed'>;
      if (claimed.prompt === null) return;
      await until(agent, 'prompt_done', { session_id: sid, message_id: claimed.prompt.message_id });
      completed++;
    }
  };
  const running = Promise.all(agents.slice(1).map(work));
  await waitFor('a few prompts done before the kill', () => completed >= 5, { timeoutMs: 30_000 });
  await cluster.processes.get('session-1')?.stop('SIGKILL');
  await running;

  const history = await api.request<{ events: Event[] }>('GET', `${base}/history?after_seq=0&limit=1000`, { token: people.alice.token });
  const events = history.body.events;
  for (const id of order) expect({ id, completions: events.filter((e) => e.type === 'prompt_completed' && e.payload.message_id === id).length }).toEqual({ id, completions: 1 });
  // The dropped prompt went back and was completed by another agent.
  expect(events.some((e) => e.type === 'prompt_released' && e.payload.message_id === order[0])).toBe(true);
  // First attempts in queue order (claims are decided one at a time under the session's queue lock).
  const firstAttempts = events.filter((e) => e.type === 'prompt_assigned' && e.payload.attempt === 1).map((e) => e.payload.message_id as string);
  expect(firstAttempts).toEqual(order.filter((id) => firstAttempts.includes(id)));
  expect(firstAttempts).toHaveLength(total);
}, 240_000);
