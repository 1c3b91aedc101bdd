import type { Identity } from '@chorus/auth';
import { waitFor } from '@chorus/testing';
import { participantsRepo } from '../sessions/session.repository';
import { ALICE, BOB, sessionReplicas, type SessionReplicas } from '../testing/session-replicas';
import { promptsRepo } from './prompt.repository';

// The enqueue takes no queue lock (docs/agents.md, "The queue"): these are the guarantees it must keep anyway,
// checked with real Postgres races between three replicas (each its own pool and group-commit log).

let cluster: SessionReplicas;

const users: Identity[] = Array.from({ length: 12 }, (_, i) => ({ user_id: `u${i}`, display_name: `User ${i}`, kind: 'human' }));

async function sessionWithUsers(): Promise<string> {
  const sessionId = await cluster.sessionWithBob();
  for (const u of users) await participantsRepo.upsert(cluster.env.ds, { session_id: sessionId, ...u, role: 'editor' });
  return sessionId;
}

async function queuedEvents(sessionId: string): Promise<string[]> {
  const rows = (await cluster.env.ds.query(`SELECT payload->>'message_id' AS id FROM session_events WHERE session_id = $1 AND type = 'prompt_queued' ORDER BY seq`, [sessionId])) as Array<{ id: string }>;
  return rows.map((r) => r.id);
}

beforeAll(async () => {
  cluster = await sessionReplicas('enqueue_race');
});
afterAll(async () => {
  await waitFor('queue pushes settled', () => cluster.agents.every((a) => a.pushesIdle), { timeoutMs: 10_000 });
  await cluster.close();
});

it('answers concurrent submits on three replicas with distinct positions 1..n, in rank order', async () => {
  const sessionId = await sessionWithUsers();
  const n = 60;
  const acks = await Promise.all(
    Array.from({ length: n }, (_, i) => cluster.agents[i % 3].submit(users[i % users.length], sessionId, { content: `p${i}`, client_msg_id: `c${i}` })),
  );
  // Ranks are drawn in commit order and positions counted after the commit: no two acks share a position.
  expect(acks.map((a) => a.queue_position).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  // And each ack's position is its place in the final queue (nothing arrived later ahead of it).
  const queue = await promptsRepo.queued(cluster.env.ds, sessionId, null, 1_000);
  const place = new Map(queue.map((p, i) => [p.id, i + 1]));
  for (const a of acks) expect(a.queue_position).toBe(place.get(a.message_id));
  expect(await queuedEvents(sessionId)).toHaveLength(n);
});

it('stores a resend racing its first delivery once, with one prompt_queued, the same answer on every replica', async () => {
  const sessionId = await sessionWithUsers();
  for (let round = 0; round < 10; round++) {
    const acks = await Promise.all(cluster.agents.map((a) => a.submit(BOB, sessionId, { content: `same ${round}`, client_msg_id: `dup-${round}` })));
    expect(new Set(acks.map((a) => a.message_id)).size).toBe(1);
    expect(new Set(acks.map((a) => a.queue_position))).toEqual(new Set([round + 1]));
  }
  const events = await queuedEvents(sessionId);
  expect(events).toHaveLength(10);
  expect(new Set(events).size).toBe(10);
});

it('repairs a prompt stored without its event (the first delivery died between the two commits) on the resend', async () => {
  const sessionId = await sessionWithUsers();
  // What a replica killed after the enqueue's commit leaves behind: the row, no event.
  const row = await promptsRepo.enqueue(cluster.env.ds, { session_id: sessionId, author_id: ALICE.user_id, author_name: ALICE.display_name, agent_id: null, content: 'orphan', images: [], priority: 0, client_msg_id: 'lost-1' });
  expect(row).toBeDefined();
  expect(await queuedEvents(sessionId)).toEqual([]);
  const ack = await cluster.agents[1].submit(ALICE, sessionId, { content: 'orphan', client_msg_id: 'lost-1' });
  expect(ack).toMatchObject({ message_id: row?.id, queue_position: 1 });
  expect(await queuedEvents(sessionId)).toEqual([row?.id]);
  // A further resend stores nothing more.
  await cluster.agents[2].submit(ALICE, sessionId, { content: 'orphan', client_msg_id: 'lost-1' });
  expect(await queuedEvents(sessionId)).toEqual([row?.id]);
});

it('lists every concurrently submitted prompt once in the queue view, positions 1..n', async () => {
  const sessionId = await sessionWithUsers();
  await Promise.all(Array.from({ length: 20 }, (_, i) => cluster.agents[i % 3].submit(users[i % users.length], sessionId, { content: `v${i}`, client_msg_id: `v${i}` })));
  const queues = await cluster.agents[0].queues(ALICE, sessionId);
  const shared = queues.find((q) => q.agent_id === null);
  expect(shared?.length).toBe(20);
  expect(shared?.items.map((i) => i.position)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
});
