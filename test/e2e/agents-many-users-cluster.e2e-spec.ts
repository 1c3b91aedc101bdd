import type { ClientMessageType, ServerMessage, ServerMessageOf } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession } from './support/scenario';
import { Api } from './support/stack';

// Issue 14's "kill -9 a session replica mid-run" at the enqueue, which takes no queue lock (docs/agents.md):
// 50 users on 2 gateways × 2 replicas of every service queue prompts while one session replica is killed
// (SIGKILL) in the middle of it. Resends with the same client_msg_id (after UNAVAILABLE, or a redelivery by the
// transport) must neither lose nor double a prompt; every client, on either gateway, ends with the same queue;
// then agents complete every prompt exactly once.

const USERS = 50;
const PROMPTS_EACH = 4;
let cluster: ProcessCluster;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster('agents_many', { gateways: 2, replicas: 2, extraEnv: { AGENT_LEASE_MS: '3000' } });
}, 180_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

type QueueUpdated = ServerMessageOf<'queue_updated'>;
type Event = { seq: number; type: string; payload: Record<string, unknown> };

/** A request resent with the same body while the answer is retryable or missing (the replica died). */
async function until(client: ChorusClient, type: ClientMessageType, body: Record<string, unknown>): Promise<ServerMessage> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    let reply: ServerMessage;
    try {
      reply = await client.requestRaw(type, body, 15_000);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      continue;
    }
    if (reply.type !== 'error') return reply;
    if (!reply.retryable || Date.now() > deadline) throw new Error(`${type}: ${reply.code} ${reply.message}`);
  }
}

/**
 * A REST POST that must succeed: resent while the answer is retryable (429 or 503 with retry_after_ms, e.g. a
 * replica restarting under load), and failing with the status and body otherwise.
 */
async function postOk<T = Record<string, unknown>>(api: Api, path: string, token: string, expected: number): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await api.request<T & { retryable?: boolean; retry_after_ms?: number }>('POST', path, { token, body: {} });
    if (res.status === expected || (expected === 200 && res.status === 201)) return res.body;
    const retryable = res.status === 429 || res.status === 503 || res.body.retryable === true;
    if (!retryable || Date.now() > deadline) throw new Error(`POST ${path}: ${res.status} ${res.raw}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, res.body.retry_after_ms ?? 200)));
  }
}

function latest(client: ChorusClient): QueueUpdated | undefined {
  return client
    .of('queue_updated')
    .filter((q) => q.agent_id === null)
    .sort((a, b) => b.revision - a.revision)[0];
}

it('50 users queue through a session replica kill: none lost, none doubled, one view everywhere, each completed once', async () => {
  const [g1, g2] = cluster.gateways;
  const people = await setUpSession(g1, 'agents_many');
  const sid = people.sessionId;
  const api = new Api(g1);
  const base = `/api/v1/collaboration/sessions/${sid}`;
  const invite = await api.request<{ code: string }>('POST', `${base}/invite`, { token: people.alice.token, body: { role: 'editor', max_uses: USERS } });

  const join = async (url: string, token: string, peer: string) => {
    const client = await ChorusClient.connect(url, token);
    clients.push(client);
    const grant = await postOk<{ join_token: string }>(new Api(url), `${base}/join`, token, 200);
    await client.ok('join', { session_id: sid, peer_id: peer, join_token: grant.join_token });
    return client;
  };
  const users: ChorusClient[] = [];
  // In groups of 10: 50 joins at once on a loaded 2-core machine would only measure the machine.
  for (let g = 0; g < USERS; g += 10) {
    users.push(
      ...(await Promise.all(
        Array.from({ length: 10 }, async (_, k) => {
          const i = g + k;
          const token = await api.devToken(`many-${i}`, `User ${i}`);
          await postOk(api, `/api/v1/collaboration/invites/${invite.body.code}/redeem`, token, 200);
          return join(i % 2 === 0 ? g1 : g2, token, `many-${i}`);
        }),
      )),
    );
  }

  // Every user queues PROMPTS_EACH prompts one after another; the kill lands after the first ~60 answers.
  let answered = 0;
  const queued: Array<ServerMessageOf<'prompt_queued'>> = [];
  const submitting = Promise.all(
    users.map(async (u, i) => {
      for (let k = 0; k < PROMPTS_EACH; k++) {
        queued.push((await until(u, 'prompt_submit', { session_id: sid, content: `prompt ${i}.${k}`, client_msg_id: `m-${i}-${k}` })) as ServerMessageOf<'prompt_queued'>);
        answered++;
      }
    }),
  );
  await waitFor('some prompts queued before the kill', () => answered >= 60, { timeoutMs: 60_000 });
  await cluster.processes.get('session-1')?.stop('SIGKILL');
  await submitting;

  const total = USERS * PROMPTS_EACH;
  expect(new Set(queued.map((q) => q.message_id)).size).toBe(total);
  // Durable: one prompt_queued per prompt, whatever was resent or redelivered.
  const history = async () => {
    const all: Event[] = [];
    for (let after: number | null = 0; after !== null; ) {
      const page: { events: Event[]; next_after_seq: number | null } = (await api.request<{ events: Event[]; next_after_seq: number | null }>('GET', `${base}/history?after_seq=${after}&limit=1000`, { token: people.alice.token })).body;
      all.push(...page.events);
      after = page.next_after_seq;
    }
    return all;
  };
  const queuedEvents = (await history()).filter((e) => e.type === 'prompt_queued');
  expect(queuedEvents).toHaveLength(total);
  expect(new Set(queuedEvents.map((e) => e.payload.message_id)).size).toBe(total);

  // Every client, on either gateway, converges on the same queue: the one GET …/queue answers.
  const rest = await api.request<Array<{ agent_id: string | null; length: number; items: Array<{ message_id: string; position: number }> }>>('GET', `${base}/queue`, { token: people.alice.token });
  const shared = rest.body.find((q) => q.agent_id === null);
  expect(shared?.length).toBe(total);
  const first100 = JSON.stringify(shared?.items);
  await waitFor('every client holds the final queue', () => users.every((u) => latest(u)?.length === total && JSON.stringify(latest(u)?.items) === first100), { timeoutMs: 30_000 });
  expect(shared?.items.map((i) => i.position)).toEqual(Array.from({ length: Math.min(total, 100) }, (_, i) => i + 1));

  // Then agents drain it: every prompt completed exactly once.
  const agents = await Promise.all(
    ['a', 'b'].map(async (name, i) => {
      const created = await api.request<{ access_token: string }>('POST', `${base}/agents`, { token: people.alice.token, body: { name: `Agent ${name}` } });
      return join(i === 0 ? g1 : g2, created.body.access_token, `agent-${name}`);
    }),
  );
  const work = async (agent: ChorusClient) => {
    for (;;) {
      const claimed = (await until(agent, 'prompt_claim', { session_id: sid })) as ServerMessageOf<'prompt_claimed'>;
      if (claimed.prompt === null) return;
      await until(agent, 'prompt_done', { session_id: sid, message_id: claimed.prompt.message_id });
    }
  };
  await Promise.all(agents.map(work));
  const events = await history();
  const completions = new Map<string, number>();
  for (const e of events) if (e.type === 'prompt_completed') completions.set(e.payload.message_id as string, (completions.get(e.payload.message_id as string) ?? 0) + 1);
  expect(completions.size).toBe(total);
  expect([...completions.values()].every((n) => n === 1)).toBe(true);
}, 240_000);
