import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ConflictService } from '../conflict.service';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';
import type { Caller } from './document.types';

// The purge of a deleted session on two replicas at once and redelivered: each row goes once, nothing of
// another session is touched, and a repeat finds nothing.

describe('session purge on two replicas (real Postgres)', () => {
  let db: ConflictTestDatabase;
  let services: ConflictService[];
  let observer: DataSource;
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_purge');
    services = [new ConflictService(await db.dataSource(4)), new ConflictService(await db.dataSource(4))];
    observer = await db.dataSource(2);
  });
  afterAll(() => db.close());

  const count = async (table: string, session: string): Promise<number> =>
    Number(((await observer.query(`SELECT count(*) AS n FROM ${table} WHERE session_id = $1`, [session])) as Array<{ n: string }>)[0].n);

  it('removes documents, ops, snapshots and locks exactly once, and only of that session', async () => {
    const doomed = randomUUID();
    const kept = randomUUID();
    for (const session of [doomed, kept]) {
      for (const doc of ['a.txt', 'src/b.rs', 'c.md']) {
        await services[0].submitOp(alice, { session_id: session, doc_id: doc, version: 0, op: ['hello'], seq: 1 });
        await services[1].submitOp(alice, { session_id: session, doc_id: doc, version: 1, op: [5, ' world'], seq: 2 });
      }
      await services[0].lockFile(alice, { session_id: session, doc_id: 'a.txt' });
    }
    const results = await Promise.all(services.map((s) => s.purgeSession({ session_id: doomed })));
    expect(results.map((r) => r.removed).reduce((a, b) => a + b, 0)).toBe(3);
    for (const table of ['documents', 'doc_ops', 'doc_snapshots', 'doc_locks']) expect({ table, n: await count(table, doomed) }).toEqual({ table, n: 0 });
    expect(await count('documents', kept)).toBe(3);
    expect(await count('doc_ops', kept)).toBe(6);
    expect(await count('doc_locks', kept)).toBe(1);
    // A redelivery is harmless.
    await expect(services[1].purgeSession({ session_id: doomed })).resolves.toEqual({ removed: 0 });
    await expect(services[0].purgeSession({ session_id: 'not-a-uuid' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    // The purged session's document reads as never written.
    await expect(services[1].openDocument(alice, { session_id: doomed, doc_id: 'a.txt' })).resolves.toEqual({ doc_id: 'a.txt', version: 0, content: '', lock: null });
    // A late submit on a replica that still caches the purged head: retryable, then answered like a new document.
    const late = { session_id: doomed, doc_id: 'a.txt', version: 2, op: ['x'], seq: 3 };
    await expect(services[1].submitOp(alice, late)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(services[1].submitOp(alice, late)).rejects.toMatchObject({ code: 'RELOAD_REQUIRED', details: { field: 'version' } });
  });
});
