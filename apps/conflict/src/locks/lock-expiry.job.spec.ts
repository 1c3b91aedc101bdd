import { randomUUID } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import { outboundCodec, type OutboundMessage } from '@chorus/contracts';
import { RedisFanout } from '@chorus/fanout';
import { testRedisUrl, uniqueRedisPrefix, waitFor } from '@chorus/testing';
import { ConflictService } from '../conflict.service';
import type { Caller } from '../documents/document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';
import { LockExpiryJob } from './lock-expiry.job';

/** Keeps what the job logs, to assert that a failure is reported (a Nest LoggerService, not our code). */
class Lines implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(message: string): void {
    this.warnings.push(message);
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
}

// The lock-expiry job (real Postgres, real Redis fan-out): the lock row is deleted first (the durable truth), then
// `file_unlocked {expired}` is published; a publish that fails is logged and counted, never swallowed, and
// every other push of the pass is still attempted.
describe('LockExpiryJob', () => {
  let db: ConflictTestDatabase;
  let service: ConflictService;
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const closers: Array<() => Promise<void>> = [];
  /** Messages the fan-out could not deliver (a publisher drifting from the protocol): none expected. */
  const dropped: string[] = [];
  const fanoutNamed = (name: string) => new RedisFanout<OutboundMessage>(testRedisUrl(), uniqueRedisPrefix(name), name, outboundCodec, (reason) => dropped.push(reason));

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_lock_expiry');
    service = new ConflictService(await db.dataSource(), { lockTtlMs: { default: 60_000, min: 1, max: 120_000 } });
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await db.close();
  });

  const lockBriefly = async (session: string, docIds: string[]) => {
    for (const doc_id of docIds) await service.lockFile(alice, { session_id: session, doc_id, ttl_ms: 1 });
    await waitFor('the locks to expire', async () => ((await service.listLocks(alice, { session_id: session })).locks.length === 0 ? true : undefined));
  };

  it('publishes file_unlocked {expired} after deleting the lock', async () => {
    const fanout = fanoutNamed('lock_expiry_ok');
    closers.push(() => fanout.close());
    const session = randomUUID();
    const received: OutboundMessage[] = [];
    await fanout.subscribe(session, (m) => received.push(m));
    const logger = new Lines();
    const job = new LockExpiryJob(service, fanout, 'node-ok', logger);
    await lockBriefly(session, ['a.rs']);

    expect(await job.runOnce()).toBe(1);
    await waitFor('the push', () => (received.length > 0 ? true : undefined));
    expect(received).toEqual([
      { kind: 'push', origin_node: 'node-ok', audience: { to: 'session' }, message: { type: 'file_unlocked', session_id: session, doc_id: 'a.rs', holder_id: 'alice', reason: 'expired' } },
    ]);
    expect(dropped).toEqual([]);
    expect(job.counts()).toEqual({ expired: 1, publishFailed: 0, passFailed: 0, auditFailed: 0 });
    expect(logger.warnings).toEqual([]);
  });

  it('records each expiry in the audit trail before its push; a failed record is logged and counted, the push still goes', async () => {
    const fanout = fanoutNamed('lock_expiry_audit');
    closers.push(() => fanout.close());
    const session = randomUUID();
    const order: string[] = [];
    await fanout.subscribe(session, (m) => order.push(`push ${m.kind === 'push' && m.message.type === 'file_unlocked' ? m.message.doc_id : '?'}`));
    const logger = new Lines();
    const job = new LockExpiryJob(service, fanout, 'node-audit', logger, 1_000, async (e) => {
      if (e.doc_id === 'bad.rs') throw new Error('session service unavailable');
      order.push(`audit ${e.doc_id} ${e.holder_id}`);
    });
    await lockBriefly(session, ['good.rs', 'bad.rs']);

    expect(await job.runOnce()).toBe(2);
    await waitFor('both pushes', () => (order.filter((o) => o.startsWith('push')).length === 2 ? true : undefined));
    expect(order[0]).toBe('audit good.rs alice');
    expect(order.slice(1).sort()).toEqual(['push bad.rs', 'push good.rs']);
    expect(job.counts()).toEqual({ expired: 2, publishFailed: 0, passFailed: 0, auditFailed: 1 });
    expect(logger.warnings).toEqual([expect.stringMatching(/^Lock of bad\.rs in session .+ expired, but its audit record failed \(session service unavailable\)/)]);
  });

  it('logs and counts every push that fails to publish; the locks are gone all the same', async () => {
    // A fan-out whose Redis connection is closed: every publish rejects, as with Redis unreachable.
    const fanout = fanoutNamed('lock_expiry_down');
    await fanout.close();
    const session = randomUUID();
    const logger = new Lines();
    const job = new LockExpiryJob(service, fanout, 'node-down', logger);
    await lockBriefly(session, ['x.rs', 'y.rs']);

    await expect(job.runOnce()).resolves.toBe(2);
    expect(job.counts()).toEqual({ expired: 2, publishFailed: 2, passFailed: 0, auditFailed: 0 });
    expect(logger.warnings.sort()).toEqual([
      expect.stringMatching(new RegExp(`^Lock of x\\.rs in session ${session} expired, but its file_unlocked push failed \\(.+\\)`)),
      expect.stringMatching(new RegExp(`^Lock of y\\.rs in session ${session} expired, but its file_unlocked push failed \\(.+\\)`)),
    ]);
    // The durable state is right: nothing to recover but the push, and rejoining clients read it from here.
    await expect(service.listLocks(alice, { session_id: session })).resolves.toEqual({ locks: [], truncated: false });
    await expect(job.runOnce()).resolves.toBe(0);
  });

  it('counts a pass whose DELETE failed and rejects it (the periodic runner logs it)', async () => {
    const ds = await db.dataSource(1);
    const broken = new ConflictService(ds);
    await ds.destroy();
    const fanout = fanoutNamed('lock_expiry_db');
    closers.push(() => fanout.close());
    const job = new LockExpiryJob(broken, fanout, 'node-db', new Lines());
    await expect(job.runOnce()).rejects.toThrow();
    expect(job.counts()).toEqual({ expired: 0, publishFailed: 0, passFailed: 1, auditFailed: 0 });
  });
});
