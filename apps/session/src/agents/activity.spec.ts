import type { Identity } from '@chorus/auth';
import type { ActivityView, DocumentEditedActivityView } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import { ALICE, sessionReplicas, type SessionReplicas } from '../testing/session-replicas';

// The activity feed's document edits and status changes (docs/agents.md, "History and activity"), on three
// replicas of the session service over one real Postgres: an agent's ops on a document coalesce into one
// `document_edited` entry with the version range, whichever replica each report reaches; only status
// transitions are stored, at most one per interval; and the feed pages newest first, gap-free and
// duplicate-free across entries of every kind.

const COALESCE_MS = 1_500;
let cluster: SessionReplicas;

beforeAll(async () => {
  cluster = await sessionReplicas('agent_activity', 3, { leaseMs: 30_000, maxAttempts: 3, agentTokenTtlS: 3600, activity: { coalesceMs: COALESCE_MS, maxRunMs: 60_000 } });
});
afterAll(async () => {
  await waitFor('queue pushes settled', () => cluster.agents.every((a) => a.pushesIdle), { timeoutMs: 10_000 });
  await cluster.close();
});

async function sessionWithAgent(name = 'Bot'): Promise<{ sessionId: string; agent: Identity }> {
  const sessionId = await cluster.sessionWithBob();
  const created = await cluster.agents[0].create(ALICE, sessionId, { name });
  return { sessionId, agent: { user_id: created.agent_id, display_name: name, kind: 'agent', session_scope: sessionId } };
}

async function feed(sessionId: string, agentId?: string): Promise<ActivityView[]> {
  return (await cluster.agents[1].activity(ALICE, sessionId, { limit: 200, ...(agentId !== undefined ? { agent_id: agentId } : {}) })).items;
}

const edits = (items: ActivityView[]): DocumentEditedActivityView[] => items.filter((i): i is DocumentEditedActivityView => i.kind === 'document_edited');

it("coalesces an agent's ops on one document into one document_edited entry with the version range, ended by its next activity", async () => {
  const { sessionId, agent } = await sessionWithAgent();
  // Versions 3..6 of main.txt (another user's op at 5 lies between), reported to three replicas, one report redelivered.
  const reports: Array<[number, number]> = [
    [0, 3],
    [1, 4],
    [2, 4],
    [0, 6],
  ];
  for (const [replica, version] of reports) await cluster.agents[replica].edited(agent, sessionId, 'main.txt', version);
  expect(edits(await feed(sessionId))).toEqual([]); // the run is open: nothing recorded yet
  await cluster.agents[2].status(agent, sessionId, 'testing', 'npm test');

  const items = await feed(sessionId);
  expect(items.map((i) => i.kind)).toEqual(['status_changed', 'document_edited']);
  expect(items[1]).toMatchObject({ agent_id: agent.user_id, kind: 'document_edited', doc_id: 'main.txt', from_version: 3, to_version: 6, ops: 3, message_id: null, data: null });
  expect(items[0]).toMatchObject({ kind: 'status_changed', status: 'testing', detail: 'npm test' });
  const run = items[1] as DocumentEditedActivityView;
  expect(Date.parse(run.started_at)).toBeLessThanOrEqual(Date.parse(run.ended_at));
  // A late redelivery of a recorded op starts nothing new.
  await cluster.agents[0].edited(agent, sessionId, 'main.txt', 4);
  await Promise.all(cluster.agents.map((a) => a.recorder.sweep()));
  expect(edits(await feed(sessionId))).toHaveLength(1);
});

it('keeps one run per document while an agent switches between files, and ends them after a pause (any replica sweeps; recorded once)', async () => {
  const { sessionId, agent } = await sessionWithAgent();
  await cluster.agents[0].edited(agent, sessionId, 'a.txt', 1);
  await cluster.agents[1].edited(agent, sessionId, 'b.txt', 1);
  await cluster.agents[2].edited(agent, sessionId, 'a.txt', 2);
  await cluster.agents[0].edited(agent, sessionId, 'b.txt', 2);
  await cluster.agents[1].edited(agent, sessionId, 'a.txt', 3);
  expect(edits(await feed(sessionId))).toEqual([]);
  // Paused: every replica sweeps at once, each run is recorded once.
  await waitFor(
    'the paused runs recorded',
    async () => {
      await Promise.all(cluster.agents.map((a) => a.recorder.sweep()));
      return edits(await feed(sessionId)).length === 2;
    },
    { timeoutMs: 10_000 },
  );
  await Promise.all(cluster.agents.map((a) => a.recorder.sweep()));
  expect(
    edits(await feed(sessionId))
      .map((e) => [e.doc_id, e.from_version, e.to_version, e.ops])
      .sort(),
  ).toEqual([
    ['a.txt', 1, 3, 3],
    ['b.txt', 1, 2, 2],
  ]);
});

it('ends every open run of the agent, oldest first, at its next activity', async () => {
  const { sessionId, agent } = await sessionWithAgent();
  await cluster.agents[0].edited(agent, sessionId, 'x.txt', 1);
  await cluster.agents[1].edited(agent, sessionId, 'y.txt', 1);
  await cluster.agents[2].status(agent, sessionId, 'reviewing', 'the diff');
  const items = await feed(sessionId);
  expect(items.map((i) => (i.kind === 'document_edited' ? i.doc_id : i.kind))).toEqual(['status_changed', 'y.txt', 'x.txt']);
});

it('counts every op once when reports of one agent race on three replicas with their sweeps', async () => {
  const { sessionId, agent } = await sessionWithAgent();
  const versions = Array.from({ length: 30 }, (_, i) => i + 1);
  await Promise.all([
    ...versions.map((v) => cluster.agents[v % 3].edited(agent, sessionId, 'race.txt', v)),
    ...cluster.agents.map((a) => a.recorder.sweep()),
  ]);
  await cluster.agents[0].status(agent, sessionId, 'reviewing', null);
  const runs = edits(await feed(sessionId));
  // However the runs were cut (in order or not), their op counts add up to the ops: none lost, none twice.
  expect(runs.reduce((n, r) => n + r.ops, 0)).toBe(30);
  expect(Math.min(...runs.map((r) => r.from_version))).toBe(1);
  expect(Math.max(...runs.map((r) => r.to_version))).toBe(30);
});

it('stores status transitions only, at most one per interval (the last of an interval recorded after it), newest first', async () => {
  const { sessionId, agent } = await sessionWithAgent();
  const [r0, r1, r2] = cluster.agents;
  expect((await r0.status(agent, sessionId, 'thinking', 'reading main.txt')).recorded).toBe(true);
  // A repeat, then two changes inside the interval: nothing recorded now, the newest is pending.
  expect((await r1.status(agent, sessionId, 'thinking', 'still reading')).recorded).toBe(false);
  expect((await r2.status(agent, sessionId, 'editing', 'main.txt')).recorded).toBe(false);
  expect((await r0.status(agent, sessionId, 'waiting', 'for review')).recorded).toBe(false);
  await waitFor(
    'the pending change recorded after the interval',
    async () => {
      await Promise.all(cluster.agents.map((a) => a.recorder.sweep()));
      return (await feed(sessionId)).length === 2;
    },
    { timeoutMs: 10_000 },
  );
  // Back and forth inside an interval is no transition at all.
  expect((await r1.status(agent, sessionId, 'idle', null)).recorded).toBe(false);
  expect((await r2.status(agent, sessionId, 'waiting', null)).recorded).toBe(false);
  await waitFor('the interval since the last recorded change passed', async () => {
    const [row] = (await cluster.env.ds.query(`SELECT recorded_at <= now() - $3 * interval '1 millisecond' AS passed FROM agent_statuses WHERE session_id = $1 AND agent_id = $2`, [sessionId, agent.user_id, COALESCE_MS])) as Array<{ passed: boolean }>;
    return row?.passed === true;
  });
  await Promise.all(cluster.agents.map((a) => a.recorder.sweep()));
  // The next change after the interval is recorded at once.
  expect((await r0.status(agent, sessionId, 'idle', null)).recorded).toBe(true);

  const items = await feed(sessionId, agent.user_id);
  expect(items.map((i) => (i.kind === 'status_changed' ? [i.status, i.detail] : i.kind))).toEqual([
    ['idle', null],
    ['waiting', 'for review'],
    ['thinking', 'reading main.txt'],
  ]);
  const seqs = items.map((i) => i.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
});

it('pages the feed newest first across every kind: gap-free and duplicate-free, by agent too', async () => {
  const { sessionId, agent } = await sessionWithAgent('Pager');
  const other = await cluster.agents[0].create(ALICE, sessionId, { name: 'Other' });
  const otherAgent: Identity = { user_id: other.agent_id, display_name: 'Other', kind: 'agent', session_scope: sessionId };
  let version = 0;
  for (let round = 0; round < 4; round++) {
    const [r0, r1, r2] = [cluster.agents[round % 3], cluster.agents[(round + 1) % 3], cluster.agents[(round + 2) % 3]];
    const queued = await r0.submit(ALICE, sessionId, { content: `task ${round}`, client_msg_id: `page-${round}` });
    await r1.status(agent, sessionId, round % 2 === 0 ? 'thinking' : 'editing', null);
    expect((await r2.claim(agent, sessionId))?.message_id).toBe(queued.message_id);
    await r0.output(agent, sessionId, { message_id: queued.message_id, kind: 'tool_start', index: 0, data: `grep ${round}` });
    for (let i = 0; i < 3; i++) await cluster.agents[i].edited(agent, sessionId, `doc-${round}.txt`, ++version);
    await r1.edited(otherAgent, sessionId, 'other.txt', round + 1);
    await r2.output(agent, sessionId, { message_id: queued.message_id, kind: 'tool_result', index: 1, data: `found ${round}` });
    await r0.done(agent, sessionId, queued.message_id);
  }
  await waitFor(
    "the other agent's last run recorded",
    async () => {
      await Promise.all(cluster.agents.map((a) => a.recorder.sweep()));
      return (await feed(sessionId, otherAgent.user_id)).some((i) => i.kind === 'document_edited');
    },
    { timeoutMs: 10_000 },
  );

  for (const agentId of [undefined, agent.user_id]) {
    const all = await feed(sessionId, agentId);
    const paged: ActivityView[] = [];
    let before: number | undefined;
    for (let page = 0; page < 100; page++) {
      const p = await cluster.agents[page % 3].activity(ALICE, sessionId, { limit: 3, ...(before !== undefined ? { before_seq: before } : {}), ...(agentId !== undefined ? { agent_id: agentId } : {}) });
      paged.push(...p.items);
      if (p.next_before_seq === null) break;
      before = p.next_before_seq;
    }
    expect(paged.map((i) => i.seq)).toEqual(all.map((i) => i.seq));
    expect(new Set(paged.map((i) => i.seq)).size).toBe(paged.length);
    expect(new Set(all.map((i) => i.kind))).toEqual(
      new Set(['prompt_taken', 'prompt_finished', 'tool_start', 'tool_result', 'document_edited', 'status_changed']),
    );
    if (agentId !== undefined) expect(all.every((i) => i.agent_id === agentId)).toBe(true);
  }
  // The agent's runs: one per round, three ops each, ended by its tool result (before it in the feed).
  const mine = edits(await feed(sessionId, agent.user_id));
  expect(mine.map((e) => [e.doc_id, e.from_version, e.to_version, e.ops]).reverse()).toEqual(
    Array.from({ length: 4 }, (_, round) => [`doc-${round}.txt`, round * 3 + 1, round * 3 + 3, 3]),
  );
});
