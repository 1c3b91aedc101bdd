import type { TestDatabase } from '@chorus/testing';
import type { HistoryPage } from '@chorus/protocol';
import type { RunningChorus } from '../../standalone/chorus';
import { ChorusClient } from './support/chorus-client';
import { setUpSession } from './support/scenario';
import { Api, startTestNodes } from './support/stack';

// Issue 16: chat messages that can be edited and deleted. Two whole nodes share the real Postgres and Redis;
// Alice (the owner) is on node A, Bob (an editor) on node B. Only the author edits; the author, the owner or an
// admin deletes; the changes are durable events every member gets pushed, a client that reconnects with an
// older last_seq gets them replayed, and REST history shows each message as it is now, with who changed it.

const nodes: RunningChorus[] = [];
const clients: ChorusClient[] = [];
let db: TestDatabase;
/** The user ids setUpSession gives its people. */
const ALICE = 'alice-chat_edits';
const BOB = 'bob-chat_edits';

beforeAll(async () => {
  const started = await startTestNodes('chat_edits');
  nodes.push(...started.nodes);
  db = started.db;
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  for (const n of nodes) await n.stop();
  await db?.drop();
});

async function connect(url: string, token: string): Promise<ChorusClient> {
  const client = await ChorusClient.connect(url, token);
  clients.push(client);
  return client;
}

it('lets only the author edit and the author or owner delete; pushes, replays and shows the changes in history', async () => {
  const [a, b] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const people = await setUpSession(a, 'chat_edits');
  const sid = people.sessionId;
  const alice = await connect(a, people.alice.token);
  let bob = await connect(b, people.bob.token);
  await alice.ok('join', { session_id: sid, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
  const bobJoined = await bob.ok('join', { session_id: sid, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });

  const bobs = await bob.ok('chat_message', { session_id: sid, message: 'teh parser is fixed' });
  const hers = await alice.ok('chat_message', { session_id: sid, message: 'thanks!' });

  // Not the author: no edit; an editor may not delete someone else's message.
  expect(await alice.request('chat_edit', { session_id: sid, seq: bobs.seq, message: 'rewritten by alice' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', field: 'seq' });
  expect(await bob.request('chat_edit', { session_id: sid, seq: hers.seq, message: 'rewritten by bob' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  expect(await bob.request('chat_delete', { session_id: sid, seq: hers.seq })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  // A seq that is not a chat message (Bob's own peer_joined), and one beyond the stream.
  expect(await bob.request('chat_edit', { session_id: sid, seq: bobJoined.seq, message: 'x' })).toMatchObject({ type: 'error', code: 'NOT_FOUND', field: 'seq' });
  expect(await bob.request('chat_delete', { session_id: sid, seq: 10_000 })).toMatchObject({ type: 'error', code: 'NOT_FOUND', field: 'seq' });

  // The author edits: acked on node B, pushed to Alice on node A with the message's seq and its own.
  const edit = await bob.ok('chat_edit', { session_id: sid, seq: bobs.seq, message: 'the parser is fixed' });
  expect(edit).toMatchObject({ type: 'message_update', message_seq: bobs.seq, user_id: BOB, peer_id: 'bob-tab', message: 'the parser is fixed' });
  expect(edit.seq).toBeGreaterThan(hers.seq);
  await alice.waitForPush('message_update', (m) => m.seq === edit.seq && m.message_seq === bobs.seq && m.message === 'the parser is fixed');
  // A resend of the same edit gets the same event back and stores nothing.
  expect(await bob.ok('chat_edit', { session_id: sid, seq: bobs.seq, message: 'the parser is fixed' })).toMatchObject({ seq: edit.seq });

  // Bob goes away; meanwhile Alice edits hers and, as the owner, deletes his.
  const lastSeq = bob.lastSeq(sid);
  expect(lastSeq).toBe(edit.seq);
  bob.close();
  await alice.waitForPush('peer_left', (m) => m.peer_id === 'bob-tab');
  const herEdit = await alice.ok('chat_edit', { session_id: sid, seq: hers.seq, message: 'thanks, Bob!' });
  const deletion = await alice.ok('chat_delete', { session_id: sid, seq: bobs.seq });
  expect(deletion).toMatchObject({ type: 'message_delete', message_seq: bobs.seq, user_id: BOB, deleted_by: ALICE });
  // Deleting again answers the first deletion.
  expect(await alice.ok('chat_delete', { session_id: sid, seq: bobs.seq })).toMatchObject({ seq: deletion.seq });

  // Bob reconnects (to the other node) with his last_seq: the edit and the deletion he missed come first.
  bob = await connect(a, people.bob.token);
  const rejoined = await bob.ok('join', { session_id: sid, peer_id: 'bob-tab', join_token: await people.bob.joinToken(), last_seq: lastSeq });
  expect(rejoined.recovered).toBe(true);
  expect(bob.of('message_update')).toEqual([expect.objectContaining({ seq: herEdit.seq, message_seq: hers.seq, message: 'thanks, Bob!' })]);
  expect(bob.of('message_delete')).toEqual([expect.objectContaining({ seq: deletion.seq, message_seq: bobs.seq, deleted_by: ALICE })]);
  // A deleted message cannot be edited, not even by its author.
  expect(await bob.request('chat_edit', { session_id: sid, seq: bobs.seq, message: 'back again' })).toMatchObject({ type: 'error', code: 'NOT_FOUND', field: 'seq' });

  // History: the messages as they are now (latest text, a tombstone without text), and who changed what.
  const api = new Api(b);
  const page = await api.request<HistoryPage>('GET', `/api/v1/collaboration/sessions/${sid}/history?after_seq=0`, { token: people.bob.token });
  expect(page.status).toBe(200);
  const at = (seq: number) => page.body.events.find((e) => e.seq === seq);
  expect(at(bobs.seq)).toMatchObject({ type: 'chat_message', payload: { message: '', user_id: BOB, deleted_by: ALICE, deleted_at: expect.any(String) } });
  expect(at(hers.seq)).toMatchObject({ type: 'chat_message', actor: ALICE, payload: { message: 'thanks, Bob!', edited_at: expect.any(String) } });
  expect(at(edit.seq)).toMatchObject({ type: 'message_update', actor: BOB, payload: { message_seq: bobs.seq, message: '' } });
  expect(at(herEdit.seq)).toMatchObject({ type: 'message_update', actor: ALICE, payload: { message_seq: hers.seq, message: 'thanks, Bob!' } });
  expect(at(deletion.seq)).toMatchObject({ type: 'message_delete', actor: ALICE, payload: { message_seq: bobs.seq, user_id: BOB, deleted_by: ALICE } });
  expect(JSON.stringify(page.body)).not.toContain('teh parser');
  expect(JSON.stringify(page.body)).not.toContain('the parser is fixed');
  expect(page.body.events.filter((e) => e.type === 'message_delete')).toHaveLength(1);
  expect(page.body.events.filter((e) => e.type === 'message_update')).toHaveLength(2);

  await bob.ok('leave', { session_id: sid });
  await alice.waitForPush('peer_left', (m) => m.peer_id === 'bob-tab' && m.seq > rejoined.seq);
}, 60_000);
