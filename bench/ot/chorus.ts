import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ConflictService } from '../../apps/conflict/src/conflict.service';
import type { ConflictOptions } from '../../apps/conflict/src/documents/document.types';
import type { ConflictTestDatabase } from '../../apps/conflict/src/testing/conflict-test-db';
import { runLoad, type LoadResult } from './measure';

// Chorus writers, service-direct: every writer calls ConflictService.submitOp on one of several replicas (service
// instances, each with its own pool, like separate processes would have). Writers insert 2 characters at a
// random position of the text at their base version; the base is the version of their last ack, so every op
// is transformed against what others committed meanwhile, as with real clients. Insert-only with a fixed size
// lets a writer know the length at its base (2 × version) without applying others' ops: the load measures the
// service, not simulated editors. The document grows by 2 characters per op (tens of KB by the end of a run);
// the head text is rewritten by every commit, so this is not a best case.

export interface ChorusScenario {
  writers: number;
  docs: number;
  replicas: number;
  commit: Partial<ConflictOptions>;
  warmupMs: number;
  durationMs: number;
  targetOpsPerSecond?: number;
  /**
   * 'writer': writer w always uses replica w % replicas (every replica writes every document: the worst case).
   * 'doc': a document's submits always go to the same replica, as a transport with per-key routing would do.
   */
  route: 'writer' | 'doc';
}

export async function runChorus(db: ConflictTestDatabase, s: ChorusScenario): Promise<LoadResult & { transactions: number; submits: number }> {
  const services: ConflictService[] = [];
  const pools: DataSource[] = [];
  for (let r = 0; r < s.replicas; r++) {
    pools.push(await db.dataSource(10));
    services.push(new ConflictService(pools[r], s.commit));
  }
  const session = randomUUID();
  const docs = Array.from({ length: s.docs }, (_, d) => `src/file-${d}.rs`);
  const state = Array.from({ length: s.writers }, (_, w) => ({
    caller: { user_id: `user-${w}`, client_id: `writer-${w}-${session.slice(0, 8)}`, role: 'editor' as const },
    seq: 0,
    base: new Map<string, number>(),
  }));
  const result = await runLoad({
    writers: s.writers,
    warmupMs: s.warmupMs,
    durationMs: s.durationMs,
    targetOpsPerSecond: s.targetOpsPerSecond,
    submit: async (w) => {
      const me = state[w];
      const doc = docs[s.docs === 1 ? 0 : Math.floor(Math.random() * s.docs)];
      const base = me.base.get(doc) ?? 0;
      const pos = Math.floor(Math.random() * (2 * base + 1));
      const op = pos === 0 ? ['ab'] : [pos, 'ab'];
      const replica = s.route === 'doc' ? docs.indexOf(doc) % s.replicas : w % s.replicas;
      const ack = await services[replica].submitOp(me.caller, { session_id: session, doc_id: doc, version: base, op, seq: ++me.seq });
      me.base.set(doc, ack.ack.version);
    },
  });
  await Promise.all(pools.map((p) => p.destroy())); // Postgres has 100 connections for everyone on this machine
  const counters = services.map((x) => x.commitCounters()).reduce((a, b) => ({ transactions: a.transactions + b.transactions, submits: a.submits + b.submits }));
  return { ...result, ...counters };
}
