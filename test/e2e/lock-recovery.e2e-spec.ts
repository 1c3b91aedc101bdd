import { ChorusClient } from './support/chorus-client';
import { setUpSession } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';

// Issue 20: lock pushes are ephemeral (never replayed), so a client that missed `file_locked` or
// `file_unlocked {expired}` must learn the lock state by reopening: `document.lock`. Real sockets, standalone.

let stack: TestStack;
const clients: ChorusClient[] = [];
beforeAll(async () => {
  stack = await startTestStack('lock_recovery');
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

it('open_document tells the current lock: none after it expired, the holder to a client that never saw file_locked', async () => {
  const people = await setUpSession(stack.url, 'lock_recovery');
  const session_id = people.sessionId;
  const alice = await ChorusClient.connect(stack.url, people.alice.token);
  const bob = await ChorusClient.connect(stack.url, people.bob.token);
  clients.push(alice, bob);
  await alice.ok('join', { session_id, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });
  const doc_id = 'src/locked.rs';
  await bob.ok('open_document', { session_id, doc_id });

  const locked = await alice.ok('lock_file', { session_id, doc_id, ttl_ms: 1_000 });
  expect(await alice.ok('open_document', { session_id, doc_id })).toMatchObject({ lock: { holder_id: 'alice-lock_recovery', peer_id: 'alice-tab', expires_at: locked.expires_at } });

  // The expiry job deleted the lock (and only then pushed file_unlocked): a reopen shows no lock.
  await bob.waitForPush('file_unlocked', (m) => m.doc_id === doc_id && m.reason === 'expired', 15_000);
  expect(await alice.ok('open_document', { session_id, doc_id })).toMatchObject({ type: 'document', doc_id, lock: null });

  // Locked again; a client connecting now (it never received file_locked) sees the lock on open.
  const again = await alice.ok('lock_file', { session_id, doc_id, ttl_ms: 60_000 });
  const late = await ChorusClient.connect(stack.url, people.bob.token);
  clients.push(late);
  await late.ok('join', { session_id, peer_id: 'bob-laptop', join_token: await people.bob.joinToken() });
  expect(late.of('file_locked')).toEqual([]);
  expect(await late.ok('open_document', { session_id, doc_id })).toMatchObject({ lock: { holder_id: 'alice-lock_recovery', peer_id: 'alice-tab', expires_at: again.expires_at } });
});
