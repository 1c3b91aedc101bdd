import { randomUUID } from 'node:crypto';
import { MAX_JOINED_LOCKS } from '@chorus/protocol';
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

  it('refuses an edit and a lock of a locked file with the lock\'s expiry and the time it has left', async () => {
    await edit(a, bob, 0, 1);
    const locked = await a.lockFile(alice, { session_id: session, doc_id: 'lib.rs', ttl_ms: 90_000 });
    const refusal = { code: 'FILE_LOCKED', details: { field: 'doc_id', locked_by: 'alice', locked_until: locked.expires_at, retry_after_ms: expect.any(Number) } };
    // One at a time: a refusal that settled before its handler was attached would be an unhandled rejection.
    for (const attempt of [() => edit(b, bob, 1, 2), () => b.lockFile(bob, { session_id: session, doc_id: 'lib.rs' })]) {
      const err = (await attempt().then(
        () => undefined,
        (e: unknown) => e,
      )) as { details: { retry_after_ms: number } };
      expect(err).toMatchObject(refusal);
      expect(err.details.retry_after_ms).toBeGreaterThan(30_000);
      expect(err.details.retry_after_ms).toBeLessThanOrEqual(90_000);
    }
  });

  it('lists a session\'s live locks by doc_id (not expired, released or other sessions\' ones), role-checked', async () => {
    const other = randomUUID();
    const z = await a.lockFile(alice, { session_id: session, doc_id: 'z.md' });
    const m = await b.lockFile(bob, { session_id: session, doc_id: 'm.md' });
    await a.lockFile(alice, { session_id: session, doc_id: 'gone.md', ttl_ms: 1 });
    await a.lockFile(alice, { session_id: session, doc_id: 'released.md' });
    await a.unlockFile(alice, { session_id: session, doc_id: 'released.md' });
    await a.lockFile(alice, { session_id: other, doc_id: 'elsewhere.md' });
    await expect(b.listLocks(viewer, { session_id: session })).resolves.toEqual({
      locks: [
        { doc_id: 'm.md', holder_id: 'bob', peer_id: 'bob-1', expires_at: m.expires_at },
        { doc_id: 'z.md', holder_id: 'alice', peer_id: 'alice-1', expires_at: z.expires_at },
      ],
      truncated: false,
    });
    await expect(a.listLocks({ ...viewer, role: 'nobody' as Caller['role'] }, { session_id: session })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await expect(a.listLocks(viewer, { session_id: 'not-a-uuid' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'session_id' } });
  });

  it(`lists at most MAX_JOINED_LOCKS (${MAX_JOINED_LOCKS}) locks and says when there were more`, async () => {
    const names = Array.from({ length: MAX_JOINED_LOCKS + 1 }, (_, i) => `f${String(i).padStart(4, '0')}.md`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(names.slice(i, i + 25).map((doc_id) => a.lockFile(alice, { session_id: session, doc_id })));
    }
    const listed = await b.listLocks(alice, { session_id: session });
    expect(listed.truncated).toBe(true);
    expect(listed.locks.map((l) => l.doc_id)).toEqual(names.slice(0, MAX_JOINED_LOCKS));
    await a.unlockFile(alice, { session_id: session, doc_id: names[0] });
    const all = await b.listLocks(alice, { session_id: session });
    expect(all.truncated).toBe(false);
    expect(all.locks.map((l) => l.doc_id)).toEqual(names.slice(1));
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
