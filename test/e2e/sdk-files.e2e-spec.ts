import { ChorusClient as Sdk, ChorusError, type ChorusDocument } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { setUpSession, type People } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';

// The SDK's files surface (libs/client files.ts) against the product in one process (standalone, in-process
// transport and fan-out, real Postgres): path rules set and read, a refused edit naming the rule, a conflict
// resolved with keep_theirs through session.files (both sides converge, the event fires), closeDocument.

let stack: TestStack;
let people: People;
const clients: Array<{ close(): void }> = [];

beforeAll(async () => {
  stack = await startTestStack('sdk_files');
  people = await setUpSession(stack.url, 'sdkfiles');
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

async function sdk(token: string, peerId: string) {
  const client = new Sdk({ url: stack.url, token, peerId, onWarning: () => undefined });
  clients.push(client);
  const session = client.session(people.sessionId);
  await session.join();
  return { client, session };
}

it('path rules through the SDK: set by the owner, read by an editor, an edit refused naming the rule', async () => {
  const alice = await sdk(people.alice.token, 'alice-rules');
  const bob = await sdk(people.bob.token, 'bob-rules');
  const set = await alice.session.files.setRules([{ name: 'docs-readonly-editors', pattern: 'docs/**', role: 'editor', access: 'read' }]);
  expect(set).toMatchObject({ version: 1, rules: [{ name: 'docs-readonly-editors' }] });
  expect((await bob.session.files.rules()).rules).toEqual(set.rules);
  await expect(bob.session.files.setRules([])).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  const raw = await ChorusClient.connect(stack.url, people.bob.token);
  clients.push(raw);
  await raw.ok('join', { session_id: people.sessionId, peer_id: 'bob-raw-rules', join_token: await people.bob.joinToken() });
  expect(await raw.request('submit_op', { session_id: people.sessionId, doc_id: 'docs/guide.md', version: 0, op: ['x'], seq: 1 })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', rule: 'docs-readonly-editors' });
  expect(await raw.request('open_document', { session_id: people.sessionId, doc_id: 'docs/guide.md' })).toMatchObject({ type: 'document' });
  await alice.session.files.setRules([]);
});

it('a conflict resolved with keep_theirs: both sides converge on it; conflictDetected fires, conflictResolved is for the others', async () => {
  const alice = await sdk(people.alice.token, 'alice-conflict');
  const doc: ChorusDocument = await alice.session.document('plan.txt');
  doc.edit(['hello world!']);
  await waitFor('alice acked', () => !doc.pending && doc.version === 1);
  const bob = await ChorusClient.connect(stack.url, people.bob.token);
  clients.push(bob);
  await bob.ok('join', { session_id: people.sessionId, peer_id: 'bob-conflict', join_token: await people.bob.joinToken() });
  await bob.ok('open_document', { session_id: people.sessionId, doc_id: 'plan.txt' });
  const detected: string[] = [];
  alice.session.files.on('conflictDetected', (c) => c.conflict_id !== undefined && detected.push(c.conflict_id));
  // Concurrent replacements of "world" at version 1: whichever commits second overlaps the first.
  await Promise.all([bob.ok('submit_op', { session_id: people.sessionId, doc_id: 'plan.txt', version: 1, op: [6, { d: 5 }, 'there'], seq: 1 }), Promise.resolve(doc.edit([6, { d: 5 }, 'earth']))]);
  await waitFor('settled at version 3', () => !doc.pending && doc.version === 3);
  const [conflict] = (await waitFor('one open conflict', async () => {
    const list = await alice.session.files.conflicts({ state: 'open', docId: 'plan.txt' });
    return list.conflicts.length === 1 ? list.conflicts : undefined;
  })) as Awaited<ReturnType<typeof alice.session.files.conflicts>>['conflicts'];
  await waitFor('alice was told', () => detected.includes(conflict.conflict_id));
  expect(new Set([conflict.mine_text, conflict.theirs_text])).toEqual(new Set(['earth', 'there']));

  const resolvedEvents: string[] = [];
  alice.session.files.on('conflictResolved', (r) => resolvedEvents.push(r.text));
  const resolved = await alice.session.files.resolveConflict(conflict.conflict_id, 'keep_theirs');
  expect(resolved).toMatchObject({ strategy: 'keep_theirs', text: conflict.theirs_text, resolved_by: 'alice-sdkfiles' });
  await waitFor('alice converged', () => doc.text === `hello ${conflict.theirs_text}!` && !doc.pending);
  await bob.waitForPush('conflict_resolved', (r) => r.conflict_id === conflict.conflict_id);
  expect((await bob.ok('open_document', { session_id: people.sessionId, doc_id: 'plan.txt' })).content).toBe(`hello ${conflict.theirs_text}!`);
  await expect(alice.session.files.resolveConflict(conflict.conflict_id, 'keep_mine')).rejects.toBeInstanceOf(ChorusError);
  // Its own resolution came back as the reply; the event is for everyone else's.
  expect(resolvedEvents).toEqual([]);

  await alice.session.closeDocument('plan.txt');
  await bob.ok('submit_op', { session_id: people.sessionId, doc_id: 'plan.txt', version: 4, op: ['> '], seq: 2 });
  const reopened = await alice.session.document('plan.txt');
  expect(reopened).not.toBe(doc);
  expect(reopened.text).toBe(`> hello ${conflict.theirs_text}!`);
});
