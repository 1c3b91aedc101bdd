import { ChorusClient } from './support/chorus-client';
import { setUpSession } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';

// Issue 20: lock pushes are ephemeral (never replayed), so a client that missed `file_locked` or
// `file_unlocked {expired}` learns the lock state on (re)join — `joined.locks`, every live lock of the session —
// or by reopening the document — `document.lock`. Real sockets, standalone: in-process, and with Redis (the
// service transport and the fan-out that carries the expiry push).

describe.each([
  ['in-process', false],
  ['Redis', true],
] as const)('lock recovery (%s)', (_label, redis) => {
  let stack: TestStack;
  const clients: ChorusClient[] = [];
  beforeAll(async () => {
    stack = await startTestStack(redis ? 'lock_recovery_redis' : 'lock_recovery', { redis });
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

  it('joined.locks lists every live lock of the session to a client that joins after they were taken', async () => {
    const people = await setUpSession(stack.url, 'lock_joined');
    const session_id = people.sessionId;
    const alice = await ChorusClient.connect(stack.url, people.alice.token);
    clients.push(alice);
    const first = await alice.ok('join', { session_id, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
    expect(first.locks).toEqual([]);
    expect(first.locks_truncated).toBe(false);
    const b = await alice.ok('lock_file', { session_id, doc_id: 'src/b.rs', ttl_ms: 60_000 });
    const a = await alice.ok('lock_file', { session_id, doc_id: 'src/a.rs', ttl_ms: 120_000 });
    // Released again: not listed.
    await alice.ok('lock_file', { session_id, doc_id: 'src/c.rs', ttl_ms: 60_000 });
    await alice.ok('unlock_file', { session_id, doc_id: 'src/c.rs' });

    const bob = await ChorusClient.connect(stack.url, people.bob.token);
    clients.push(bob);
    const joined = await bob.ok('join', { session_id, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });
    expect(bob.of('file_locked')).toEqual([]);
    // By doc_id; the fields (and the expiry, to the millisecond) are file_locked's.
    expect(joined.locks).toEqual([
      { doc_id: 'src/a.rs', holder_id: 'alice-lock_joined', peer_id: 'alice-tab', expires_at: a.expires_at },
      { doc_id: 'src/b.rs', holder_id: 'alice-lock_joined', peer_id: 'alice-tab', expires_at: b.expires_at },
    ]);
    expect(joined.locks_truncated).toBe(false);
  });

  it('a lock that expires while a client is disconnected is gone from joined.locks when it rejoins', async () => {
    const people = await setUpSession(stack.url, 'lock_rejoin');
    const session_id = people.sessionId;
    const alice = await ChorusClient.connect(stack.url, people.alice.token);
    clients.push(alice);
    await alice.ok('join', { session_id, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
    const short = await alice.ok('lock_file', { session_id, doc_id: 'short.md', ttl_ms: 1_000 });
    const long = await alice.ok('lock_file', { session_id, doc_id: 'long.md', ttl_ms: 600_000 });

    const bob = await ChorusClient.connect(stack.url, people.bob.token);
    clients.push(bob);
    const before = await bob.ok('join', { session_id, peer_id: 'bob-tab', join_token: await people.bob.joinToken() });
    expect(before.locks?.map((l) => [l.doc_id, l.expires_at])).toEqual([
      ['long.md', long.expires_at],
      ['short.md', short.expires_at],
    ]);
    const lastSeq = bob.lastSeq(session_id);
    bob.close();

    // The expiry job deleted the lock and pushed file_unlocked {expired} while Bob was away: he never received it.
    await alice.waitForPush('file_unlocked', (m) => m.doc_id === 'short.md' && m.reason === 'expired', 15_000);
    expect(bob.of('file_unlocked')).toEqual([]);

    const back = await ChorusClient.connect(stack.url, people.bob.token);
    clients.push(back);
    const rejoined = await back.ok('join', { session_id, peer_id: 'bob-tab', join_token: await people.bob.joinToken(), last_seq: lastSeq });
    expect(rejoined.recovered).toBe(true);
    expect(rejoined.locks).toEqual([{ doc_id: 'long.md', holder_id: 'alice-lock_rejoin', peer_id: 'alice-tab', expires_at: long.expires_at }]);
    expect(back.of('file_unlocked')).toEqual([]);
  });
});
