import { ChorusClient } from '@chorus/client';
import type { QueueUpdated } from '@chorus/protocol';
import { startTsProcess, waitFor } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { Api, startTestStack, type TestStack } from './support/stack';

// The SDK's prompt surface (session.prompts) against the whole product in one process: a user queues and
// watches positions, an agent claims, reports, streams and completes — both through @chorus/client.

let stack: TestStack;
let people: People;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  stack = await startTestStack('sdk_agents');
  people = await setUpSession(stack.url, 'sdkagents');
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

function connect(token: string, peerId: string): ChorusClient {
  const client = new ChorusClient({ url: stack.url, token, peerId, onWarning: () => undefined });
  clients.push(client);
  return client;
}

it('a user queues prompts and sees positions; an agent claims, reports, streams and completes them', async () => {
  const created = await new Api(stack.url).request<{ agent_id: string; access_token: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/agents`, {
    token: people.alice.token,
    body: { name: 'SDK agent' },
  });
  const user = connect(people.bob.token, 'bob-sdk').session(people.sessionId);
  const agent = connect(created.body.access_token, 'agent-sdk').session(people.sessionId);
  await Promise.all([user.join(), agent.join()]);

  const seen: QueueUpdated[] = [];
  user.prompts.on('queue', ({ queue }) => seen.push(queue));
  const partials: string[] = [];
  user.prompts.on('agentOutput', (o) => partials.push(o.data));
  const statuses: string[] = [];
  user.prompts.on('agentStatus', (s) => statuses.push(s.status));

  const first = await user.prompts.submit('one', { agentId: created.body.agent_id, clientMsgId: 'sdk-1' });
  const second = await user.prompts.submit('two', { agentId: created.body.agent_id });
  expect([first.queue_position, second.queue_position]).toEqual([1, 2]);
  // Resent with its key: the same prompt.
  expect((await user.prompts.submit('one', { agentId: created.body.agent_id, clientMsgId: 'sdk-1' })).message_id).toBe(first.message_id);
  await waitFor('the user holds the queue of two', () => user.prompts.queues().get(created.body.agent_id)?.length === 2);

  const claimed = await agent.prompts.claim();
  expect(claimed?.message_id).toBe(first.message_id);
  await agent.prompts.status('thinking', 'reading');
  await agent.prompts.output(first.message_id, 'partial_response', 0, 'on');
  await agent.prompts.output(first.message_id, 'partial_response', 1, 'e!');
  expect(await agent.prompts.output(first.message_id, 'response', 2, 'one!')).toEqual(expect.any(Number));
  const seq = await agent.prompts.complete(first.message_id);
  expect(await agent.prompts.complete(first.message_id)).toBe(seq);

  await waitFor('the user saw the live activity', () => partials.join('') === 'one!' && statuses.includes('thinking'));
  await waitFor('the queue moved on', () => user.prompts.queues().get(created.body.agent_id)?.items.map((i) => i.message_id).join() === second.message_id);
  // Revisions only grow in what the SDK emitted.
  const revisions = seen.filter((q) => q.agent_id === created.body.agent_id).map((q) => q.revision);
  expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
  expect((await agent.prompts.claim())?.message_id).toBe(second.message_id);
  await agent.prompts.complete(second.message_id);
  expect(await agent.prompts.claim()).toBeNull();
});

it('the example agent (npm run agent:example) answers a prompt: tool call, streamed summary, an edit, done', async () => {
  const api = new Api(stack.url);
  const created = await api.request<{ agent_id: string; access_token: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/agents`, {
    token: people.alice.token,
    body: { name: 'Example' },
  });
  const watcher = connect(people.alice.token, 'alice-example').session(people.sessionId);
  await watcher.join();
  const doc = await watcher.document('main.txt');
  doc.edit(['hello agents\nsecond line']);
  await waitFor('the document is stored', () => !doc.pending);
  const partials: string[] = [];
  watcher.prompts.on('agentOutput', (o) => partials.push(o.data));

  const agent = startTsProcess('scripts/agent-example.ts', {}, ['--session', people.sessionId, '--token', created.body.access_token, '--url', stack.url]);
  try {
    await agent.waitForLine(/example agent joined/, 60_000);
    const queued = await watcher.prompts.submit('summarise please', { agentId: created.body.agent_id });
    const expected = 'You asked: "summarise please". main.txt has 2 lines and 4 words; it starts with "hello agents".';
    await waitFor('the streamed summary', () => partials.join('') === expected, { timeoutMs: 30_000 });
    await waitFor('the edit', () => doc.text === 'hello agents\nsecond line\n// summarised for Alice', { timeoutMs: 30_000 });
    const history = await api.request<{ events: Array<{ type: string; payload: Record<string, unknown> }> }>('GET', `/api/v1/collaboration/sessions/${people.sessionId}/history?after_seq=0&limit=1000`, {
      token: people.alice.token,
    });
    await waitFor('completed', async () => {
      const h = await api.request<{ events: Array<{ type: string; payload: Record<string, unknown> }> }>('GET', `/api/v1/collaboration/sessions/${people.sessionId}/history?after_seq=0&limit=1000`, { token: people.alice.token });
      return h.body.events.some((e) => e.type === 'prompt_completed' && e.payload.message_id === queued.message_id);
    }, { timeoutMs: 30_000, intervalMs: 250 });
    const outputs = history.body.events.filter((e) => e.type === 'agent_output' && e.payload.message_id === queued.message_id).map((e) => e.payload.kind);
    expect(outputs.slice(0, 2)).toEqual(['tool_start', 'tool_result']);

    // It waits for pushed work (prompt_claim {wait: true} → prompt_assigned), no polling: a second prompt is taken too.
    const again = await watcher.prompts.submit('and again', { agentId: created.body.agent_id });
    await waitFor('the second prompt completed', async () => {
      const h = await api.request<{ events: Array<{ type: string; payload: Record<string, unknown> }> }>('GET', `/api/v1/collaboration/sessions/${people.sessionId}/history?after_seq=0&limit=1000`, { token: people.alice.token });
      return h.body.events.some((e) => e.type === 'prompt_completed' && e.payload.message_id === again.message_id);
    }, { timeoutMs: 30_000, intervalMs: 250 });

    // The SDK reads the activity feed, newest first, paged backwards. Each prompt's edit of main.txt is one
    // document_edited entry (its run ends at the agent's next activity, or after a pause).
    const whole = await waitFor(
      'both edits of main.txt in the feed',
      async () => {
        const page = await watcher.prompts.activity({ agentId: created.body.agent_id, limit: 200 });
        return page.items.filter((i) => i.kind === 'document_edited').length === 2 ? page.items : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    const paged: typeof whole = [];
    let beforeSeq: number | undefined;
    for (;;) {
      const page = await watcher.prompts.activity({ agentId: created.body.agent_id, limit: 5, ...(beforeSeq !== undefined ? { beforeSeq } : {}) });
      paged.push(...page.items);
      if (page.next_before_seq === null) break;
      expect(page.next_before_seq).toBe(page.items[4].seq);
      beforeSeq = page.next_before_seq;
    }
    expect(paged.map((i) => i.seq)).toEqual(whole.map((i) => i.seq));
    const work = whole.filter((i) => i.kind !== 'document_edited' && i.kind !== 'status_changed');
    expect(work.map((i) => `${i.kind} ${i.message_id === again.message_id ? 2 : 1}`)).toEqual([
      'prompt_finished 2',
      'tool_result 2',
      'tool_start 2',
      'prompt_taken 2',
      'prompt_finished 1',
      'tool_result 1',
      'tool_start 1',
      'prompt_taken 1',
    ]);
    for (const e of whole) if (e.kind === 'document_edited') expect(e).toMatchObject({ doc_id: 'main.txt', ops: 1 });
    expect(whole.some((i) => i.kind === 'status_changed' && i.status === 'thinking')).toBe(true);
    const conversation = await watcher.prompts.messages({ limit: 2 });
    expect(conversation.items.map((m) => [m.role, m.author, m.message_id])).toEqual([
      ['assistant', created.body.agent_id, again.message_id],
      ['user', 'alice-sdkagents', again.message_id],
    ]);
  } finally {
    await agent.stop('SIGKILL');
  }
});
