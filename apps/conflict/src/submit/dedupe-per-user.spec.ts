import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ConflictService } from '../conflict.service';
import type { Caller } from '../documents/document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';

// The dedupe identity of a submit is (user, client_id, seq): another user's op under the same client id and
// seq is a different op, never "a resend" answered with someone else's ack (issue 11: Alice's text vanished).
// The session service refuses such a client id at join; this must hold even if a caller got past it.

describe('op dedupe is per author (real Postgres, several replicas)', () => {
  let db: ConflictTestDatabase;
  let ds: DataSource;
  let replicas: ConflictService[];
  let session: string;
  const alice: Caller = { user_id: 'alice', client_id: 'tab-1', role: 'editor' };
  const bob: Caller = { user_id: 'bob', client_id: 'tab-1', role: 'editor' };

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_dedupe_per_user');
    ds = await db.dataSource();
    replicas = [new ConflictService(ds, { maxParallelCommits: 1 }), new ConflictService(await db.dataSource())];
  });
  afterAll(() => db.close());
  beforeEach(() => {
    session = randomUUID();
  });

  const opsOf = async (doc: string): Promise<Array<{ user_id: string; client_id: string; seq: number; op: unknown }>> =>
    (await ds.query(`SELECT user_id, client_id, seq::int AS seq, op FROM doc_ops WHERE session_id = $1 AND doc_id = $2 ORDER BY version`, [session, doc])) as Array<{
      user_id: string;
      client_id: string;
      seq: number;
      op: unknown;
    }>;

  it('two users, one client id, seq 1 each, one after the other (fast path, then locked path): both commit their own text', async () => {
    const a = await replicas[0].submitOp(alice, { session_id: session, doc_id: 'f.ts', version: 0, op: ['alice '], seq: 1 });
    // Same replica: its cache is at head, so this goes the fast path (a unique-key hit there used to mean "resend").
    const b = await replicas[0].submitOp(bob, { session_id: session, doc_id: 'f.ts', version: 1, op: [6, 'bob'], seq: 1 });
    expect([a.duplicate, a.ack.version, b.duplicate, b.ack.version]).toEqual([false, 1, false, 2]);
    // Resends on the other replica (locked path, dedupe read) answer each author with its own ack.
    const againA = await replicas[1].submitOp(alice, { session_id: session, doc_id: 'f.ts', version: 0, op: ['alice '], seq: 1 });
    const againB = await replicas[1].submitOp(bob, { session_id: session, doc_id: 'f.ts', version: 1, op: [6, 'bob'], seq: 1 });
    expect([againA.duplicate, againA.ack, againB.duplicate, againB.ack]).toEqual([true, a.ack, true, b.ack]);
    expect(await opsOf('f.ts')).toEqual([
      { user_id: 'alice', client_id: 'tab-1', seq: 1, op: ['alice '] },
      { user_id: 'bob', client_id: 'tab-1', seq: 1, op: [6, 'bob'] },
    ]);
    await expect(replicas[1].openDocument(alice, { session_id: session, doc_id: 'f.ts' })).resolves.toMatchObject({ version: 2, content: 'alice bob' });
  });

  it('two users, one client id, seq 1 each, in the same commit batch: both commit, each once', async () => {
    const service = replicas[0];
    await service.submitOp(alice, { session_id: session, doc_id: 'warm.ts', version: 0, op: ['x'], seq: 1 });
    const busy = service.submitOp(alice, { session_id: session, doc_id: 'warm.ts', version: 1, op: ['y'], seq: 2 });
    // Queued behind the flush in flight: they go together in the next one.
    const both = [
      service.submitOp(alice, { session_id: session, doc_id: 'g.ts', version: 0, op: ['A'], seq: 1 }),
      service.submitOp(bob, { session_id: session, doc_id: 'g.ts', version: 0, op: ['B'], seq: 1 }),
    ];
    await busy;
    const [a, b] = await Promise.all(both);
    expect([a.duplicate, b.duplicate]).toEqual([false, false]);
    expect(new Set([a.ack.version, b.ack.version])).toEqual(new Set([1, 2]));
    expect((await opsOf('g.ts')).map((o) => o.user_id)).toEqual(['alice', 'bob']);
    await expect(replicas[1].openDocument(alice, { session_id: session, doc_id: 'g.ts' })).resolves.toMatchObject({ version: 2, content: 'AB' });
  });

  it('a real resend (same author, client id and seq) is still applied once', async () => {
    const first = await replicas[0].submitOp(alice, { session_id: session, doc_id: 'h.ts', version: 0, op: ['once'], seq: 3 });
    const again = await Promise.all(replicas.map((r) => r.submitOp(alice, { session_id: session, doc_id: 'h.ts', version: 0, op: ['once'], seq: 3 })));
    expect(again.map((r) => [r.duplicate, r.ack])).toEqual([
      [true, first.ack],
      [true, first.ack],
    ]);
    expect(await opsOf('h.ts')).toHaveLength(1);
  });
});
