import { randomUUID } from 'node:crypto';
import { documentKey, type ConflictApi } from '@chorus/contracts';
import { ordered, type RedisStreamsClient } from '@chorus/transport';
import { runLoad, Writers, type BaseRule, type LoadResult } from './measure';

// Chorus writers through the transport: conflict replicas run as separate processes (apps/conflict/src/main.ts,
// as deployed) and writers send `op.submit` through RedisStreamsClient (one client per simulated gateway),
// either with the document's ordering key (the contract in libs/contracts: one document's submits go to the
// replica holding its shard, handled one at a time) or without (any replica; order decided by the head-row
// lock). Same writer model as ot/chorus.ts: insert 2 characters at a random position of the base version.

export interface TransportScenario {
  writers: number;
  docs: number;
  keyed: boolean;
  warmupMs: number;
  durationMs: number;
  targetOpsPerSecond?: number;
  /** How writers pick the base version of their next op (see WriterBases). Default 'broadcast'. */
  bases?: BaseRule;
}

export async function runChorusTransport(gateways: readonly RedisStreamsClient[], s: TransportScenario): Promise<LoadResult> {
  const session = randomUUID();
  const docs = Array.from({ length: s.docs }, (_, d) => `src/file-${d}.rs`);
  const writers = new Writers(session, s.writers, docs, s.bases);
  return runLoad({
    writers: s.writers,
    warmupMs: s.warmupMs,
    durationMs: s.durationMs,
    targetOpsPerSecond: s.targetOpsPerSecond,
    submit: async (w) => {
      const { doc, base, seq } = writers.next(w);
      const pos = Math.floor(Math.random() * (2 * base + 1));
      const req: ConflictApi['op.submit']['req'] = { caller: writers.caller(w), payload: { session_id: session, doc_id: doc, version: base, op: pos === 0 ? ['ab'] : [pos, 'ab'], seq } };
      const gateway = gateways[w % gateways.length];
      const result = await gateway.request<ConflictApi['op.submit']['res']>('op.submit', s.keyed ? ordered(documentKey(session, doc), req) : req);
      writers.acked(w, doc, result.ack.version);
    },
  });
}
