import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ConflictService } from '../conflict.service';
import type { Caller } from '../documents/document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';

// A resent (client_id, seq) returns the original acknowledgement and is never applied twice — whatever version
// it claims, on whichever replica, however many times, also when resent while the original is still committing.

describe('submit idempotency (real Postgres, several replicas)', () => {
  let db: ConflictTestDatabase;
  let replicas: ConflictService[];
  let ds: DataSource;
  let session: string;
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const bob: Caller = { user_id: 'bob', client_id: 'bob-1', role: 'editor' };

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_idempotency');
    ds = await db.dataSource();
    replicas = [new ConflictService(ds), new ConflictService(await db.dataSource()), new ConflictService(await db.dataSource(), { commitMode: 'direct' })];
  });
  afterAll(() => db.close());
  beforeEach(() => {
    session = randomUUID();
  });

  const count = async (clientId: string, seq: number): Promise<number> =>
    ((await ds.query(`SELECT count(*)::int AS n FROM doc_ops WHERE session_id = $1 AND client_id = $2 AND seq = $3`, [session, clientId, seq])) as Array<{ n: number }>)[0].n;

  it('returns the original ack for a resend claiming its old base, head, or a version ahead of head', async () => {
    const first = await replicas[0].submitOp(alice, { session_id: session, doc_id: 'f.ts', version: 0, op: ['abc'], seq: 7 });
    await replicas[1].submitOp(bob, { session_id: session, doc_id: 'f.ts', version: 1, op: [3, 'd'], seq: 1 });
    for (const [i, version] of [0, 1, 2, 99].entries()) {
      const again = await replicas[i % 3].submitOp(alice, { session_id: session, doc_id: 'f.ts', version, op: ['abc'], seq: 7 });
      expect(again.duplicate).toBe(true);
      expect(again.ack).toEqual(first.ack);
      expect(again.broadcast).toEqual(first.broadcast);
    }
    expect(await count('alice-1', 7)).toBe(1);
    await expect(replicas[2].openDocument(alice, { session_id: session, doc_id: 'f.ts' })).resolves.toMatchObject({ version: 2, content: 'abcd' });
  });

  it('applies once when the ack was lost in a crash and the client resends to every replica at once', async () => {
    await replicas[0].submitOp(bob, { session_id: session, doc_id: 'g.ts', version: 0, op: ['0123456789'], seq: 1 });
    // The "crash": the first submit commits, but its answer is dropped on the floor.
    void (await replicas[0].submitOp(alice, { session_id: session, doc_id: 'g.ts', version: 1, op: [5, 'X'], seq: 1 }));
    const resends = await Promise.all(
      Array.from({ length: 12 }, (_, i) => replicas[i % 3].submitOp(alice, { session_id: session, doc_id: 'g.ts', version: 1 + (i % 2), op: [5, 'X'], seq: 1 })),
    );
    expect(new Set(resends.map((r) => r.ack.version))).toEqual(new Set([2]));
    expect(resends.every((r) => r.duplicate)).toBe(true);
    expect(await count('alice-1', 1)).toBe(1);
    await expect(replicas[1].openDocument(alice, { session_id: session, doc_id: 'g.ts' })).resolves.toMatchObject({ version: 2, content: '01234X56789' });
  });

  it('commits exactly once when the same (client_id, seq) races on several replicas before any commit', async () => {
    const racing = await Promise.all(
      Array.from({ length: 30 }, (_, i) => replicas[i % 3].submitOp(alice, { session_id: session, doc_id: 'race.ts', version: 0, op: ['once'], seq: 42 })),
    );
    expect(racing.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(racing.map((r) => r.ack.version))).toEqual(new Set([1]));
    expect(await count('alice-1', 42)).toBe(1);
    await expect(replicas[0].openDocument(alice, { session_id: session, doc_id: 'race.ts' })).resolves.toMatchObject({ version: 1, content: 'once' });
  });

  it('counts: 200 submits of 50 distinct seqs, each resent 4 times in random order, commit 50 ops', async () => {
    const sends: Array<{ seq: number; version: number }> = [];
    for (let seq = 1; seq <= 50; seq++) for (let k = 0; k < 4; k++) sends.push({ seq, version: 0 });
    sends.sort(() => Math.random() - 0.5);
    const results = await Promise.all(sends.map((s, i) => replicas[i % 3].submitOp(alice, { session_id: session, doc_id: 'many.ts', version: s.version, op: [`${s.seq};`], seq: s.seq })));
    const bySeq = new Map<number, Set<number>>();
    results.forEach((r) => bySeq.set(r.ack.seq, (bySeq.get(r.ack.seq) ?? new Set()).add(r.ack.version)));
    expect([...bySeq.values()].every((versions) => versions.size === 1)).toBe(true);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(50);
    const rows = (await ds.query(`SELECT count(*)::int AS n, count(DISTINCT seq)::int AS seqs, max(version)::int AS head FROM doc_ops WHERE session_id = $1`, [session])) as Array<{
      n: number;
      seqs: number;
      head: number;
    }>;
    expect(rows[0]).toEqual({ n: 50, seqs: 50, head: 50 });
  });
});
