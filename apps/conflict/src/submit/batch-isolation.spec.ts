import { randomUUID } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { poolOf } from '@chorus/database';
import { ChorusError } from '@chorus/protocol';
import { ConflictService } from '../conflict.service';
import { DocumentCache } from '../documents/document-cache';
import { DEFAULT_CONFLICT_OPTIONS, type Caller, type SubmitResult } from '../documents/document.types';
import { replayText } from '../documents/head-text';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';
import { commitDocuments, type BatchOutcome, type DocBatch, type PendingSubmit } from './commit-batch';
import { classifyStoreError, CommitMonitor, isResendCollision } from './commit-failures';

// Group commit shares one transaction across sessions and documents: one submit Postgres cannot store must fail
// alone, with an error that says resending will not help — never its batch-mates (issue 11: a victim in another
// session got UNAVAILABLE 20 times of 20).

type Settled = { ok: true; value: SubmitResult } | { ok: false; error: ChorusError };
const settle = (p: Promise<SubmitResult>): Promise<Settled> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: error as ChorusError }),
  );

/** Collects log lines (the monitor must say what it caught). */
class Lines implements LoggerService {
  readonly lines: string[] = [];
  log(m: unknown): void {
    this.lines.push(`log ${String(m)}`);
  }
  warn(m: unknown): void {
    this.lines.push(`warn ${String(m)}`);
  }
  error(m: unknown): void {
    this.lines.push(`error ${String(m)}`);
  }
}

const mallory: Caller = { user_id: 'mallory', client_id: 'm-1', role: 'editor' };
const victim: Caller = { user_id: 'victim', client_id: 'v-1', role: 'editor' };
const carol: Caller = { user_id: 'carol', client_id: 'c-1', role: 'editor' };

describe('one submit fails alone (real Postgres)', () => {
  let db: ConflictTestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_batch_isolation');
    ds = await db.dataSource();
  });
  afterAll(() => db.close());

  /** Every document of the sessions: its stored head text equals the replay of its op log from "". */
  async function expectStateEqualsLog(service: ConflictService, sessions: string[]): Promise<void> {
    const docs = (await ds.query(`SELECT session_id, doc_id FROM documents WHERE session_id = ANY($1::uuid[])`, [sessions])) as Array<{ session_id: string; doc_id: string }>;
    for (const d of docs) {
      const ops = (await ds.query(`SELECT version::int AS version, op FROM doc_ops WHERE session_id = $1 AND doc_id = $2 ORDER BY version`, [d.session_id, d.doc_id])) as Array<{
        version: number;
        op: never;
      }>;
      const head = await service.openDocument(victim, { session_id: d.session_id, doc_id: d.doc_id });
      expect(head.version).toBe(ops.length);
      expect(replayText(d.doc_id, '', 0, ops.length, ops)).toBe(head.content);
    }
  }

  describe('the service refuses what Postgres text cannot hold, before planning', () => {
    it('a poison submit and a victim in another session, in one commit batch: the victim commits, the poison gets VALIDATION_ERROR', async () => {
      const service = new ConflictService(ds, { maxParallelCommits: 1 });
      const [s1, s2] = [randomUUID(), randomUUID()];
      await service.submitOp(victim, { session_id: s2, doc_id: 'warm.ts', version: 0, op: ['w'], seq: 1 });
      for (let round = 0; round < 20; round++) {
        // The replica is busy with this one; everything below queues and goes in the next flush together.
        const busy = service.submitOp(victim, { session_id: s2, doc_id: 'warm.ts', version: round + 1, op: ['w'], seq: round + 2 });
        const poisons = [
          settle(service.submitOp(mallory, { session_id: s1, doc_id: 'p.ts', version: 0, op: ['a\u0000b'], seq: round + 1 })),
          settle(service.submitOp(mallory, { session_id: s1, doc_id: 'p.ts', version: 0, op: [{ d: 'x\u0000' }], seq: 1000 + round })),
          settle(service.submitOp(mallory, { session_id: s1, doc_id: `lone-\uD800-${round}.ts`, version: 0, op: ['x'], seq: round + 1 })),
          settle(service.submitOp({ ...mallory, client_id: 'm\u0000' }, { session_id: s1, doc_id: 'p.ts', version: 0, op: ['x'], seq: round + 1 })),
        ];
        const ok = settle(service.submitOp(victim, { session_id: s2, doc_id: 'v.ts', version: round, op: ['v'], seq: round + 1 }));
        await busy;
        const refused = await Promise.all(poisons);
        expect(refused.map((r) => (r.ok ? 'committed' : [r.error.code, r.error.details.field, r.error.retryable]))).toEqual([
          ['VALIDATION_ERROR', 'op.0', false],
          ['VALIDATION_ERROR', 'op.0.d', false],
          ['VALIDATION_ERROR', 'doc_id', false],
          ['VALIDATION_ERROR', 'client_id', false],
        ]);
        const committed = await ok;
        expect(committed.ok && committed.value.ack.version).toBe(round + 1);
      }
      const poisonRows = (await ds.query(`SELECT count(*)::int AS n FROM doc_ops WHERE session_id = $1`, [s1])) as Array<{ n: number }>;
      expect(poisonRows[0].n).toBe(0);
      await expect(service.openDocument(victim, { session_id: s2, doc_id: 'v.ts' })).resolves.toMatchObject({ version: 20, content: 'v'.repeat(20) });
      await expectStateEqualsLog(service, [s1, s2]);
    });

    it('create_document refuses NUL and lone surrogates with VALIDATION_ERROR (not a store error)', async () => {
      const service = new ConflictService(ds);
      const s = randomUUID();
      await expect(service.createDocument(victim, { session_id: s, doc_id: 'c.ts', content: 'a\u0000b' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'content' } });
      await expect(service.createDocument(victim, { session_id: s, doc_id: 'c\uDC00.ts', content: 'x' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'doc_id' } });
    });
  });

  describe('commit isolation, when something Postgres refuses reaches the committer anyway', () => {
    // commitDocuments is driven directly: the service's own checks above would refuse these submits first.
    let pool: Pool;
    beforeAll(() => {
      pool = poolOf(ds);
    });
    const options = { ...DEFAULT_CONFLICT_OPTIONS, preparedStatements: true };
    const submit = (caller: Caller, sessionId: string, docId: string, op: PendingSubmit['op'], seq: number, version = 0): PendingSubmit => ({ caller, sessionId, docId, version, seq, op });
    const batchOf = (submits: PendingSubmit[]): DocBatch[] => {
      const byKey = new Map<string, PendingSubmit[]>();
      for (const s of submits) byKey.set(DocumentCache.key(s.sessionId, s.docId), [...(byKey.get(DocumentCache.key(s.sessionId, s.docId)) ?? []), s]);
      return [...byKey.entries()].map(([key, list]) => ({ key, sessionId: list[0].sessionId, docId: list[0].docId, submits: list }));
    };
    const outcomeOf = (outcomes: Map<string, BatchOutcome[]>, s: PendingSubmit, i = 0): string => {
      const o = (outcomes.get(DocumentCache.key(s.sessionId, s.docId)) as BatchOutcome[])[i];
      return o.ok ? `v${o.result.ack.version}` : `${o.error.code}${o.error.retryable ? ' (retryable)' : ''}`;
    };

    it('a NUL in a batch of 3 sessions and 5 documents: only the poison fails (VALIDATION_ERROR), the others commit, in order', async () => {
      const [s1, s2, s3] = [randomUUID(), randomUUID(), randomUUID()];
      const lines = new Lines();
      const monitor = new CommitMonitor(lines);
      const cache = new DocumentCache(100, 100);
      const before = submit(carol, s1, 'shared.ts', ['one '], 1);
      const poison = submit(mallory, s1, 'shared.ts', ['a\u0000b'], 1);
      const after = submit(carol, s1, 'shared.ts', ['two '], 2);
      const others = [submit(victim, s2, 'v.ts', ['victim'], 1), submit(victim, s2, 'w.ts', ['w'], 2), submit(carol, s3, 'x.ts', ['x'], 1), submit(carol, s3, 'y.ts', ['y'], 2)];
      const outcomes = await commitDocuments(pool, cache, options, batchOf([before, poison, after, ...others]), monitor);
      expect(outcomeOf(outcomes, poison, 1)).toBe('VALIDATION_ERROR');
      expect([outcomeOf(outcomes, before, 0), outcomeOf(outcomes, after, 2)]).toEqual(['v1', 'v2']);
      expect(others.map((s) => outcomeOf(outcomes, s))).toEqual(['v1', 'v1', 'v1', 'v1']);
      const failures = monitor.snapshot();
      expect(failures.isolatedSubmits).toEqual({ transient: 0, data: 1, limit: 0, unknown: 0 });
      expect(failures.failedCommits.data).toBeGreaterThanOrEqual(2);
      expect(lines.lines.some((l) => l.startsWith('warn') && /m-1#1 .* failed alone \(data, SQLSTATE 22P05/.test(l))).toBe(true);
      const service = new ConflictService(ds);
      await expect(service.openDocument(carol, { session_id: s1, doc_id: 'shared.ts' })).resolves.toMatchObject({ version: 2, content: 'one two ' });
      await expectStateEqualsLog(service, [s1, s2, s3]);
    });

    it('a poison in the fast path (cached documents) is logged and counted, then isolated the same way', async () => {
      const [s1, s2] = [randomUUID(), randomUUID()];
      const lines = new Lines();
      const monitor = new CommitMonitor(lines);
      const cache = new DocumentCache(100, 100);
      // Warm: this replica made the last two commits of both documents (the second under the head lock with its
      // cache at head), so the next batch takes the fast path.
      await commitDocuments(pool, cache, options, batchOf([submit(mallory, s1, 'p.ts', ['p'], 1), submit(victim, s2, 'v.ts', ['v'], 1)]), monitor);
      await commitDocuments(pool, cache, options, batchOf([submit(mallory, s1, 'p.ts', ['p'], 2, 1), submit(victim, s2, 'v.ts', ['v'], 2, 1)]), monitor);
      expect(cache.get(DocumentCache.key(s1, 'p.ts'))?.meta).not.toBeNull();
      const poison = submit(mallory, s1, 'p.ts', [2, 'a\u0000b'], 3, 2);
      const ok = submit(victim, s2, 'v.ts', [2, 'w'], 3, 2);
      const outcomes = await commitDocuments(pool, cache, options, batchOf([poison, ok]), monitor);
      expect([outcomeOf(outcomes, poison), outcomeOf(outcomes, ok)]).toEqual(['VALIDATION_ERROR', 'v3']);
      expect(monitor.snapshot().fastPathErrors).toEqual({ transient: 0, data: 1, limit: 0, unknown: 0 });
      expect(lines.lines.some((l) => /Fast-path commit of 2 document\(s\) failed \(data, SQLSTATE 22P05/.test(l))).toBe(true);
      await expectStateEqualsLog(new ConflictService(ds), [s1, s2]);
    });

    it('a lone surrogate in a doc_id (the store changes it, the document "vanishes"): that submit alone fails, non-transient', async () => {
      const [s1, s2] = [randomUUID(), randomUUID()];
      const monitor = new CommitMonitor(new Lines());
      const poison = submit(mallory, s1, 'lone-\uD800.ts', ['x'], 1);
      const ok = submit(victim, s2, 'v.ts', ['v'], 1);
      const outcomes = await commitDocuments(pool, new DocumentCache(100, 100), options, batchOf([poison, ok]), monitor);
      expect(outcomeOf(outcomes, ok)).toBe('v1');
      expect(outcomeOf(outcomes, poison)).not.toMatch(/^UNAVAILABLE/);
      expect(monitor.snapshot().isolatedSubmits.unknown).toBe(1);
    });

    it('a resend in the fast path is the expected unique-key hit: answered as a duplicate, not counted as an error', async () => {
      const s = randomUUID();
      const monitor = new CommitMonitor(new Lines());
      const cache = new DocumentCache(100, 100);
      const first = submit(victim, s, 'r.ts', ['r'], 1);
      await commitDocuments(pool, cache, options, batchOf([first]), monitor);
      const outcomes = await commitDocuments(pool, cache, options, batchOf([{ ...first, version: 1 }]), monitor);
      const [again] = outcomes.get(DocumentCache.key(s, 'r.ts')) as BatchOutcome[];
      expect(again.ok && again.result.duplicate).toBe(true);
      expect(monitor.snapshot().fastPathErrors).toEqual({ transient: 0, data: 0, limit: 0, unknown: 0 });
    });
  });

  it('classifies store errors: transient ones are UNAVAILABLE, data exceptions and limits are deterministic', () => {
    const pgError = (code: string, constraint?: string): Error => Object.assign(new Error(`pg ${code}`), { code, constraint });
    expect(['40001', '40P01', '57014', '57P01', '08006', '53300', '55P03'].map((c) => classifyStoreError(pgError(c)))).toEqual(Array(7).fill('transient'));
    expect([classifyStoreError(pgError('22P05')), classifyStoreError(pgError('22021')), classifyStoreError(pgError('54000'))]).toEqual(['data', 'data', 'limit']);
    expect(classifyStoreError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe('transient');
    expect(classifyStoreError(new Error('Connection terminated unexpectedly'))).toBe('transient');
    expect(classifyStoreError(new Error('timeout exceeded when trying to connect'))).toBe('transient');
    expect(classifyStoreError(pgError('23514'))).toBe('unknown');
    expect(isResendCollision(pgError('23505', 'doc_ops_author_client_seq_key'))).toBe(true);
    expect(isResendCollision(pgError('23505', 'doc_snapshots_pkey'))).toBe(false);
  });
});
