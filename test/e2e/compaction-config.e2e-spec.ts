import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { setUpSession } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';

// The compaction settings come from libs/config (CONFLICT_COMPACTION_*), not from constants in the job: a stack
// started with a 1 s interval and a 100-version retention compacts a 200-version document on its own, down to
// the newest snapshot (every 100th version) at or below head − 100. With the defaults (5 minutes, 10,000
// versions) nothing would happen within this test.

let stack: TestStack;
const clients: ChorusClient[] = [];
beforeAll(async () => {
  stack = await startTestStack('compaction_config', { env: { CONFLICT_COMPACTION_INTERVAL_MS: '1000', CONFLICT_COMPACTION_RETAIN_VERSIONS: '100', CONFLICT_COMPACTION_BATCH: '1' } });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

it('compacts on the configured schedule and retention', async () => {
  const people = await setUpSession(stack.url, 'compaction_config');
  const session_id = people.sessionId;
  // Four connections of two users, in turn: 50 ops each, within the per-connection and per-user op budgets.
  const writers: ChorusClient[] = [];
  for (const [who, tab] of [['alice', 1], ['alice', 2], ['bob', 1], ['bob', 2]] as const) {
    const c = await ChorusClient.connect(stack.url, people[who].token);
    clients.push(c);
    await c.ok('join', { session_id, peer_id: `${who}-tab-${tab}`, join_token: await people[who].joinToken() });
    writers.push(c);
  }
  const alice = writers[0];
  const doc_id = 'notes.md';
  for (let v = 0; v < 200; v++) await writers[v % 4].ok('submit_op', { session_id, doc_id, version: v, op: v === 0 ? ['x'] : [v, 'x'], seq: v + 1 });

  const compacted = await waitFor(
    'document_history min_version moved by compaction',
    async () => {
      const page = await alice.ok('document_history', { session_id, doc_id, limit: 1 });
      return page.min_version > 0 ? page : undefined;
    },
    { timeoutMs: 20_000 },
  );
  // head 200 − retain 100 = 100 → the newest snapshot at or below it is version 100.
  expect(compacted).toMatchObject({ min_version: 100, head: 200 });
  expect(await alice.request('fetch_ops', { session_id, doc_id, from_version: 99 })).toMatchObject({ type: 'error', code: 'RELOAD_REQUIRED' });
  // The job logs after its transaction commits: the line may follow the visible min_version by a moment.
  await waitFor('the compaction log line', () => stack.logs.lines.some((l) => l.includes('Compacted 1 documents (100 ops beyond retention removed)')) || undefined, { timeoutMs: 10_000 });
});
