import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ChorusError } from '@chorus/protocol';
import { ConflictService } from '../conflict.service';
import type { Caller, SubmitResult } from '../documents/document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';

// Group commit across documents: one transaction (or one fast-path statement) commits the queued submits of
// many documents. One commit runs at a time (another only once the oldest has stalled for commitStallMs), so
// everything submitted while the first commit runs goes together in the next one.

const callers: Caller[] = Array.from({ length: 5 }, (_, i) => ({ user_id: `user-${i}`, client_id: `client-${i}`, role: 'editor' }));

type Settled = { ok: true; value: SubmitResult } | { ok: false; error: unknown };
const settle = (p: Promise<SubmitResult>): Promise<Settled> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

describe('cross-document group commit (real Postgres)', () => {
  let db: ConflictTestDatabase;
  let ds: DataSource;
  let session: string;

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_cross_doc');
    ds = await db.dataSource();
  });
  afterAll(() => db.close());
  beforeEach(() => {
    session = randomUUID();
  });

  const text = async (service: ConflictService, doc: string): Promise<{ version: number; content: string }> =>
    service.openDocument(callers[0], { session_id: session, doc_id: doc });

  it('commits a batch mixing 20 documents in few transactions, each document in submit order', async () => {
    const service = new ConflictService(ds, { maxParallelCommits: 1 });
    const docs = Array.from({ length: 20 }, (_, d) => `src/f${d}.ts`);
    // Per document, 3 submits from 3 clients, all based on version 0: each is transformed over the earlier ones.
    const pending: Array<{ doc: string; k: number; result: Promise<SubmitResult> }> = [];
    for (let k = 0; k < 3; k++) {
      for (const doc of docs) pending.push({ doc, k, result: service.submitOp(callers[k], { session_id: session, doc_id: doc, version: 0, op: [String(k)], seq: 1 }) });
    }
    const results = await Promise.all(pending.map((p) => p.result));
    // Submit order within each document = version order.
    pending.forEach((p, i) => expect(results[i].ack.version).toBe(p.k + 1));
    for (const doc of docs) await expect(text(service, doc)).resolves.toMatchObject({ version: 3, content: '012' }); // tie rule: a later op inserting at the same place goes after
    const { transactions, submits } = service.commitCounters();
    expect(submits).toBe(60);
    // The first commit goes alone (idle replica); the rest queue behind it and go together, one round per
    // position in the per-document order at most.
    expect(transactions).toBeLessThanOrEqual(4);
  });

  it('a refused or invalid op fails only its caller; the rest of its document and the other documents commit', async () => {
    const service = new ConflictService(ds, { maxParallelCommits: 1 });
    await service.submitOp(callers[0], { session_id: session, doc_id: 'warm.ts', version: 0, op: ['x'], seq: 1 }); // the replica is busy below
    const busy = service.submitOp(callers[0], { session_id: session, doc_id: 'warm.ts', version: 1, op: ['y'], seq: 2 });
    const a = [
      settle(service.submitOp(callers[1], { session_id: session, doc_id: 'a.ts', version: 0, op: ['hello'], seq: 1 })),
      settle(service.submitOp(callers[2], { session_id: session, doc_id: 'a.ts', version: 0, op: [{ d: 10 }], seq: 1 })), // deletes past the end
      settle(service.submitOp(callers[3], { session_id: session, doc_id: 'a.ts', version: 7, op: ['!'], seq: 1 })), // base ahead of head
      settle(service.submitOp(callers[4], { session_id: session, doc_id: 'a.ts', version: 0, op: [' world'], seq: 1 })),
    ];
    const b = [settle(service.submitOp(callers[1], { session_id: session, doc_id: 'b.ts', version: 0, op: ['bee'], seq: 1 }))];
    await busy;
    const [okA, badDelete, ahead, okA2] = await Promise.all(a);
    const [okB] = await Promise.all(b);
    expect(okA.ok && okA.value.ack.version).toBe(1);
    expect(!badDelete.ok && (badDelete.error as ChorusError).code).toBe('VALIDATION_ERROR');
    expect(!ahead.ok && (ahead.error as ChorusError).code).toBe('RELOAD_REQUIRED');
    expect(okA2.ok && okA2.value.ack.version).toBe(2);
    expect(okB.ok && okB.value.ack.version).toBe(1);
    await expect(text(service, 'a.ts')).resolves.toEqual({ doc_id: 'a.ts', version: 2, content: 'hello world', lock: null });
    await expect(text(service, 'b.ts')).resolves.toMatchObject({ version: 1, content: 'bee' });
  });

  it('a resend in a fast-path batch (unique key hit) falls back to the locked path: duplicate answered, other documents committed', async () => {
    const service = new ConflictService(ds, { maxParallelCommits: 1 });
    // This replica commits every document first: their caches are at head, the next batch takes the fast path.
    const first = await Promise.all(['p.ts', 'q.ts', 'r.ts'].map((doc) => service.submitOp(callers[0], { session_id: session, doc_id: doc, version: 0, op: ['1'], seq: 1 })));
    const busy = service.submitOp(callers[1], { session_id: session, doc_id: 'warm.ts', version: 0, op: ['w'], seq: 1 });
    const batch = [
      service.submitOp(callers[0], { session_id: session, doc_id: 'p.ts', version: 1, op: ['1'], seq: 1 }), // resend claiming head
      service.submitOp(callers[1], { session_id: session, doc_id: 'q.ts', version: 1, op: [1, '2'], seq: 1 }),
      service.submitOp(callers[1], { session_id: session, doc_id: 'r.ts', version: 1, op: [1, '2'], seq: 1 }),
    ];
    await busy;
    const [resend, q, r] = await Promise.all(batch);
    expect(resend.duplicate).toBe(true);
    expect(resend.ack).toEqual(first[0].ack);
    expect([q.ack.version, r.ack.version]).toEqual([2, 2]);
    await expect(text(service, 'p.ts')).resolves.toMatchObject({ version: 1, content: '1' });
    await expect(text(service, 'q.ts')).resolves.toMatchObject({ version: 2, content: '12' });
  });

  it('one flush at a time by default: a burst over many documents goes out in a few commits', async () => {
    const service = new ConflictService(ds);
    const docs = Array.from({ length: 30 }, (_, d) => `burst/${d}.ts`);
    await Promise.all(docs.map((doc) => service.submitOp(callers[0], { session_id: session, doc_id: doc, version: 0, op: ['x'], seq: 1 })));
    const { transactions, submits } = service.commitCounters();
    expect(submits).toBe(30);
    // The first goes alone (idle replica), the other 29 queued behind it: one more commit, two if the first was slow.
    expect(transactions).toBeLessThanOrEqual(3);
  });

  it('a commit stuck on a row lock does not stall the other documents of the replica (after commitStallMs)', async () => {
    const service = new ConflictService(ds, { commitStallMs: 20 });
    await service.submitOp(callers[0], { session_id: session, doc_id: 'stuck.ts', version: 0, op: ['s'], seq: 1 });
    await service.submitOp(callers[0], { session_id: session, doc_id: 'free.ts', version: 0, op: ['f'], seq: 1 });
    // Another replica (here: a bare transaction) holds stuck.ts's head row and moved it: our cache is stale,
    // so the next commit of stuck.ts takes the locked path and waits on the row lock.
    const blocker = ds.createQueryRunner();
    await blocker.connect();
    await blocker.startTransaction();
    await blocker.query(`UPDATE documents SET meta_seq = meta_seq + 1 WHERE session_id = $1 AND doc_id = 'stuck.ts'`, [session]);
    try {
      const stuck = settle(service.submitOp(callers[1], { session_id: session, doc_id: 'stuck.ts', version: 1, op: [1, 't'], seq: 1 }));
      const free = await service.submitOp(callers[1], { session_id: session, doc_id: 'free.ts', version: 1, op: [1, 'g'], seq: 1 });
      expect(free.ack.version).toBe(2);
      let stuckDone = false;
      void stuck.then(() => (stuckDone = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect(stuckDone).toBe(false); // still waiting on the lock while free.ts committed
      await blocker.commitTransaction();
      const result = await stuck;
      expect(result.ok && result.value.ack.version).toBe(2);
    } finally {
      if (blocker.isTransactionActive) await blocker.rollbackTransaction();
      await blocker.release();
    }
    await expect(text(service, 'stuck.ts')).resolves.toMatchObject({ version: 2, content: 'st' });
    await expect(text(service, 'free.ts')).resolves.toMatchObject({ version: 2, content: 'fg' });
  });

  it('two replicas committing overlapping sets of documents in batches: no deadlock, every document gapless', async () => {
    const replicas = [new ConflictService(ds, { maxParallelCommits: 2 }), new ConflictService(await db.dataSource(), { maxParallelCommits: 2 })];
    const docs = Array.from({ length: 8 }, (_, d) => `doc-${d}.md`);
    const base = new Map<string, number>();
    // 10 rounds; in each, every client writes every document through its replica at the version it last saw.
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all(
        callers.flatMap((caller, c) =>
          docs.map((doc) =>
            replicas[c % 2].submitOp(caller, { session_id: session, doc_id: doc, version: base.get(`${c}/${doc}`) ?? 0, op: ['ab'], seq: round + 1 }).then((r) => {
              base.set(`${c}/${doc}`, r.ack.version);
              return r;
            }),
          ),
        ),
      );
      expect(results.every((r) => !r.duplicate)).toBe(true);
    }
    const rows = (await ds.query(
      `SELECT doc_id, count(*)::int AS n, max(version)::int AS top, count(DISTINCT version)::int AS distinct_versions FROM doc_ops WHERE session_id = $1 GROUP BY doc_id`,
      [session],
    )) as Array<{ doc_id: string; n: number; top: number; distinct_versions: number }>;
    expect(rows).toHaveLength(docs.length);
    for (const r of rows) expect(r).toMatchObject({ n: 50, top: 50, distinct_versions: 50 });
    for (const doc of docs) await expect(text(replicas[1], doc)).resolves.toMatchObject({ version: 50, content: 'ab'.repeat(50) });
  });
});
