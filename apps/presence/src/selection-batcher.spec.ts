import type { LoggerService } from '@nestjs/common';
import Redis from 'ioredis';
import type { TextOp } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import { testRedisUrl, uniqueRedisPrefix, waitFor } from '@chorus/testing';
import { MemoryPresenceStore, PresenceService, RedisPresenceStore, type PresenceStore } from './presence';
import { SelectionBatcher, type CommittedOpsSource, type OpCommitted, type OpOutcome } from './selection-batcher';

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const DOC = 'a.txt';

// The committed log of DOC: version v applies to v - 1. p1's insert at its own caret, p2's far away, a delete.
const LOG: ReadonlyArray<{ version: number; op: TextOp; peer_id: string }> = [
  { version: 1, op: [5, 'xx'], peer_id: 'p1' },
  { version: 2, op: [10, 'y'], peer_id: 'p2' },
  { version: 3, op: [{ d: 3 }], peer_id: 'p2' },
  { version: 4, op: [2, 'zzzz'], peer_id: 'p3' },
];
const event = (v: number): OpCommitted => {
  const o = LOG[v - 1];
  return { session_id: SESSION, doc_id: DOC, version: o.version, op: o.op, author_peer_id: o.peer_id };
};

/** Records what the batcher logs and counts (errors are never swallowed: both are asserted). */
class Recorder implements LoggerService {
  readonly warnings: string[] = [];
  readonly counts: Partial<Record<OpOutcome, number>> = {};
  readonly count = (outcome: OpOutcome, n: number): void => void (this.counts[outcome] = (this.counts[outcome] ?? 0) + n);
  log(): void {}
  error(m: unknown): void {
    this.warnings.push(String(m));
  }
  warn(m: unknown): void {
    this.warnings.push(String(m));
  }
}

/** The conflict service's op log as presence reads it: pages of 2 after `from`, RELOAD_REQUIRED below `retainedFrom`. */
function opLog(reads: number[], retainedFrom = 0): CommittedOpsSource {
  return async (_s, _d, from) => {
    reads.push(from);
    if (from < retainedFrom) throw new ChorusError('RELOAD_REQUIRED', `Ops after version ${from} are no longer retained`);
    return { ops: LOG.filter((o) => o.version > from).slice(0, 2), head: LOG.length };
  };
}

const selections = async (service: PresenceService) => Object.fromEntries((await service.who(SESSION)).map((v) => [v.peer_id, v.selection]));

async function seed(service: PresenceService): Promise<void> {
  for (const [peer, at] of [['p1', 5], ['p2', 10], ['p3', 0]] as const) {
    await service.join({ session_id: SESSION, peer_id: peer, user_id: peer, display_name: peer, kind: 'human', node_id: 'n', doc_id: DOC, selection: { anchor: at, head: at } });
  }
}

/** The truth: the first `upTo` ops applied once each, in order, op by op (no batcher, no versions). */
async function expected(upTo: number): Promise<Record<string, unknown>> {
  const service = new PresenceService(new MemoryPresenceStore());
  await seed(service);
  for (const o of LOG.slice(0, upTo)) await service.transformSelections(SESSION, DOC, o.op, o.peer_id);
  return selections(service);
}

const stores: Array<[string, () => { store: () => PresenceStore; close: () => Promise<void> }]> = [
  ['memory', () => {
    const store = new MemoryPresenceStore();
    return { store: () => store, close: async () => undefined };
  }],
  ['Redis', () => {
    const prefix = uniqueRedisPrefix('selection-batcher');
    const connections: Redis[] = [];
    return {
      // Each call is another replica: its own connection on the shared keys.
      store: () => {
        const redis = new Redis(testRedisUrl());
        connections.push(redis);
        return new RedisPresenceStore(redis, { prefix });
      },
      close: async () => {
        const [first] = connections;
        const keys = await first.keys(`${prefix}:*`);
        if (keys.length > 0) await first.del(...keys);
        await Promise.all(connections.map((c) => c.quit()));
      },
    };
  }],
];

describe.each(stores)('SelectionBatcher on the %s store', (_name, open) => {
  let fx: ReturnType<typeof open>;
  let batchers: SelectionBatcher[];
  beforeEach(() => {
    fx = open();
    batchers = [];
  });
  afterEach(async () => {
    batchers.forEach((b) => b.close());
    await fx.close();
  });

  const replica = (log: CommittedOpsSource, rec: Recorder, gapMs = 30) => {
    const service = new PresenceService(fx.store());
    const batcher = new SelectionBatcher(service, log, rec, rec.count, { intervalMs: 5, gapMs });
    batchers.push(batcher);
    return { service, batcher };
  };

  it('applies a redelivered op once: a duplicate is dropped', async () => {
    const rec = new Recorder();
    const reads: number[] = [];
    const { service, batcher } = replica(opLog(reads), rec);
    await seed(service);
    for (const v of [1, 2, 1, 2, 3, 3]) await batcher.add(event(v));
    expect(await selections(service)).toEqual(await expected(3));
    expect(await service.appliedVersion(SESSION, DOC)).toBe(3);
    expect(rec.counts).toEqual({ applied: 3, duplicate: 3 });
    expect(reads).toEqual([]);
  });

  it('holds an op that arrived early until the missing one arrives, then applies both in version order', async () => {
    const rec = new Recorder();
    const reads: number[] = [];
    const { service, batcher } = replica(opLog(reads), rec, 5_000);
    await seed(service);
    await batcher.add(event(1));
    await batcher.add(event(3));
    await batcher.add(event(4));
    // 3 and 4 wait for 2: nothing moved past version 1 yet.
    expect(await service.appliedVersion(SESSION, DOC)).toBe(1);
    expect(await selections(service)).toEqual(await expected(1));
    await batcher.add(event(2));
    await waitFor('version 4 to be applied', async () => (await service.appliedVersion(SESSION, DOC)) === 4);
    expect(await selections(service)).toEqual(await expected(4));
    expect(rec.counts).toEqual({ applied: 4 });
    expect(reads).toEqual([]);
  });

  it('fills a gap that does not close by itself from the op log, within gapMs', async () => {
    const rec = new Recorder();
    const reads: number[] = [];
    const { service, batcher } = replica(opLog(reads), rec);
    await seed(service);
    await batcher.add(event(1));
    // 2 and 3 were lost (the gateway that committed them died before it emitted).
    await batcher.add(event(4));
    await waitFor('the gap to be filled', async () => (await service.appliedVersion(SESSION, DOC)) === 4);
    expect(await selections(service)).toEqual(await expected(4));
    expect(reads).toEqual([1]); // one page (2 ops) read after version 1: exactly the gap
    expect(rec.counts).toEqual({ applied: 4, filled: 2 });
  });

  it('two replicas given the same ops (a consumer failover) apply each version once', async () => {
    const rec = new Recorder();
    const a = replica(opLog([]), rec);
    const b = replica(opLog([]), rec);
    await seed(a.service);
    await Promise.all([1, 2, 3, 4].flatMap((v) => [a.batcher.add(event(v)), b.batcher.add(event(v))]));
    await waitFor('version 4 to be applied', async () => (await a.service.appliedVersion(SESSION, DOC)) === 4);
    expect(await selections(b.service)).toEqual(await expected(4));
    expect(rec.counts.applied).toBe(4);
    expect((rec.counts.applied ?? 0) + (rec.counts.duplicate ?? 0)).toBe(8);
  });

  it('skips ops the log no longer retains (logged, counted) and carries on in order', async () => {
    const rec = new Recorder();
    const reads: number[] = [];
    const { service, batcher } = replica(opLog(reads, 3), rec);
    await seed(service);
    await batcher.add(event(1));
    await batcher.add(event(4));
    await waitFor('version 4 to be applied', async () => (await service.appliedVersion(SESSION, DOC)) === 4);
    expect(rec.counts).toEqual({ applied: 2, skipped: 2 });
    expect(rec.warnings.join('\n')).toMatch(/no longer retained/);
    // Only ops 1 and 4 moved the cursors: p2 at 10 → 12 (p1's insert before it) → 16 (p3's insert at 2).
    expect((await selections(service)).p2).toEqual({ anchor: 16, head: 16 });
  });

  it('drops held versions the op log does not have (never committed) instead of waiting for them forever', async () => {
    const rec = new Recorder();
    const reads: number[] = [];
    const { service, batcher } = replica(opLog(reads), rec);
    await seed(service);
    await batcher.add(event(1));
    await batcher.add({ ...event(4), version: 9 });
    await waitFor('the log to be read to its end', async () => rec.counts.invalid === 1);
    await waitFor('the ops of the log to be applied', async () => (await service.appliedVersion(SESSION, DOC)) === 4);
    expect(reads).toEqual([1, 3, 4]);
    expect(rec.counts).toEqual({ applied: 4, filled: 3, invalid: 1 });
    expect(rec.warnings.join('\n')).toMatch(/versions 9 .*ends at 4/);
    // The real op 4 is applied exactly once, whatever comes later.
    await batcher.add(event(4));
    expect(await selections(service)).toEqual(await expected(4));
  });

  it('drops an event without a valid version (an old gateway) and repairs it from the log', async () => {
    const rec = new Recorder();
    const reads: number[] = [];
    const { service, batcher } = replica(opLog(reads), rec);
    await seed(service);
    await batcher.add(event(1));
    const { version: _v, ...unversioned } = event(2);
    await batcher.add(unversioned as OpCommitted);
    expect(rec.counts.invalid).toBe(1);
    expect(rec.warnings.join('\n')).toMatch(/without a valid version/);
    await batcher.add(event(3));
    await waitFor('the gap to be filled', async () => (await service.appliedVersion(SESSION, DOC)) === 3);
    expect(await selections(service)).toEqual(await expected(3));
  });
});
