import { randomUUID } from 'node:crypto';
import { waitFor } from '@chorus/testing';
import { ConflictService } from '../conflict.service';
import type { Caller } from '../documents/document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';

describe('file locks (real Postgres, two replicas)', () => {
  let db: ConflictTestDatabase;
  let a: ConflictService;
  let b: ConflictService;
  let session: string;
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const aliceTab2: Caller = { user_id: 'alice', client_id: 'alice-2', role: 'editor' };
  const bob: Caller = { user_id: 'bob', client_id: 'bob-1', role: 'editor' };
  const admin: Caller = { user_id: 'ada', client_id: 'ada-1', role: 'admin' };
  const viewer: Caller = { user_id: 'vic', client_id: 'vic-1', role: 'viewer' };

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_locks');
    const lockTtlMs = { default: 60_000, min: 1, max: 120_000 };
    a = new ConflictService(await db.dataSource(), { lockTtlMs });
    b = new ConflictService(await db.dataSource(), { lockTtlMs });
  });
  afterAll(() => db.close());
  beforeEach(() => {
    session = randomUUID();
  });

  const edit = (service: ConflictService, caller: Caller, version: number, seq: number) =>
    service.submitOp(caller, { session_id: session, doc_id: 'lib.rs', version, op: version === 0 ? ['x'] : [1, 'y'], seq });

  it('lets only the holder edit while locked, on every replica', async () => {
    await edit(a, bob, 0, 1);
    const locked = await a.lockFile(alice, { session_id: session, doc_id: 'lib.rs' });
    expect(locked).toMatchObject({ session_id: session, doc_id: 'lib.rs', holder_id: 'alice', peer_id: 'alice-1' });
    await expect(edit(b, bob, 1, 2)).rejects.toMatchObject({ code: 'FILE_LOCKED', retryable: true, details: { field: 'doc_id', locked_by: 'alice' } });
    await expect(edit(b, alice, 1, 1)).resolves.toMatchObject({ ack: { version: 2 } });
    await expect(edit(a, aliceTab2, 2, 1)).resolves.toMatchObject({ ack: { version: 3 } }); // the holder is the user
    await expect(b.lockFile(bob, { session_id: session, doc_id: 'lib.rs' })).rejects.toMatchObject({ code: 'FILE_LOCKED', details: { locked_by: 'alice', locked_until: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) } });
    await expect(b.unlockFile(bob, { session_id: session, doc_id: 'lib.rs' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(b.unlockFile(alice, { session_id: session, doc_id: 'lib.rs' })).resolves.toEqual({ session_id: session, doc_id: 'lib.rs', holder_id: 'alice', reason: 'released' });
    await expect(b.unlockFile(alice, { session_id: session, doc_id: 'lib.rs' })).resolves.toBeNull();
    await expect(edit(a, bob, 3, 2)).resolves.toMatchObject({ ack: { version: 4 } });
  });

  it('stops the fast path of the replica that wrote last: a lock taken after its commit is enforced there too', async () => {
    await edit(a, bob, 0, 1); // replica a now holds the head in cache and would commit bob's next op in one statement
    await edit(a, bob, 1, 2);
    await b.lockFile(alice, { session_id: session, doc_id: 'lib.rs' });
    await expect(edit(a, bob, 2, 3)).rejects.toMatchObject({ code: 'FILE_LOCKED', details: { field: 'doc_id' } });
    await b.unlockFile(alice, { session_id: session, doc_id: 'lib.rs' });
    await expect(edit(a, bob, 2, 3)).resolves.toMatchObject({ ack: { version: 3 } });
  });

  it('still acknowledges a resend of an op committed before the lock', async () => {
    const first = await edit(a, bob, 0, 1);
    await a.lockFile(alice, { session_id: session, doc_id: 'lib.rs' });
    await expect(edit(b, bob, 0, 1)).resolves.toMatchObject({ ack: first.ack, duplicate: true });
  });

  it('lets an admin break a lock (force), and nobody else', async () => {
    await a.lockFile(alice, { session_id: session, doc_id: 'lib.rs' });
    await expect(a.unlockFile(bob, { session_id: session, doc_id: 'lib.rs', force: true })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(a.lockFile(viewer, { session_id: session, doc_id: 'lib.rs' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(b.unlockFile(admin, { session_id: session, doc_id: 'lib.rs', force: true })).resolves.toEqual({
      session_id: session,
      doc_id: 'lib.rs',
      holder_id: 'alice',
      reason: 'broken',
      by: 'ada',
    });
    await expect(edit(a, bob, 0, 1)).resolves.toMatchObject({ ack: { version: 1 } });
  });

  it('expires a lock: edits resume without a sweeper, and the sweeper reports file_unlocked once', async () => {
    await a.lockFile(alice, { session_id: session, doc_id: 'lib.rs', ttl_ms: 150 });
    await expect(edit(b, bob, 0, 1)).rejects.toMatchObject({ code: 'FILE_LOCKED' });
    await waitFor('the lock to expire', () => edit(b, bob, 0, 1).then((r) => r.ack.version === 1), { timeoutMs: 5_000, intervalMs: 25 });
    const expired = await Promise.all([a.expireLocks(), b.expireLocks()]);
    expect(expired.flat().filter((e) => e.session_id === session)).toEqual([{ session_id: session, doc_id: 'lib.rs', holder_id: 'alice', reason: 'expired' }]);
  });

  it('serializes racing lock requests: exactly one user wins', async () => {
    const users: Caller[] = Array.from({ length: 8 }, (_, i) => ({ user_id: `u${i}`, client_id: `c${i}`, role: 'editor' }));
    const results = await Promise.allSettled(users.map((u, i) => (i % 2 ? a : b).lockFile(u, { session_id: session, doc_id: 'lib.rs' })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});
