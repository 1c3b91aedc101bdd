import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ConflictService } from '../../apps/conflict/src/conflict.service';
import type { ConflictOptions } from '../../apps/conflict/src/documents/document.types';
import type { ConflictTestDatabase } from '../../apps/conflict/src/testing/conflict-test-db';
import { runLoad, Writers, type BaseRule, type LoadResult } from './measure';

// Chorus writers, service-direct: every writer calls ConflictService.submitOp on one of several replicas (service
// instances, each with its own pool, like separate processes would have). Writers insert 2 characters at a
// random position of the text at their base version; the base is the version of their last ack, so every op
// is transformed against what others committed meanwhile, as with real clients. Insert-only with a fixed size
// lets a writer know the length at its base (seed + insert × version) without applying others' ops: the load
// measures the service, not simulated editors. The document grows by `insertChars` (2) per op; with `seedChars`
// it starts large (the growing-document scenario: the commit cost must not grow with the text).

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
  /** Initial text of every document (created at version 0 before the run): a large, growing document. */
  seedChars?: number;
  /** Characters each op inserts (default 2). */
  insertChars?: number;
  /** How writers pick the base version of their next op (see WriterBases). Default 'broadcast'. */
  bases?: BaseRule;
}

const WORDS = 'fn let mut self impl pub struct match return if else for while loop use mod crate Vec String Option Some None Ok Err Result u32 usize i64 &str'.split(' ');

/**
 * `chars` of source-like text (random words, indentation, newlines), seeded: about as compressible as real code
 * for Postgres's TOAST compression (pglz) — a repeated line would compress to almost nothing and hide the cost.
 */
function sourceLikeText(chars: number): string {
  let x = 12_345;
  const next = (n: number): number => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x % n;
  };
  let out = '';
  while (out.length < chars) {
    out += ' '.repeat(4 * next(3));
    const words = 2 + next(8);
    for (let w = 0; w < words; w++) out += `${WORDS[next(WORDS.length)]}${next(4) === 0 ? `_${next(1_000)}` : ''}${w + 1 < words ? ' ' : ''}`;
    out += next(3) === 0 ? ' {\n' : ';\n';
  }
  return out.slice(0, chars);
}

export async function runChorus(
  db: ConflictTestDatabase,
  s: ChorusScenario,
): Promise<LoadResult & { transactions: number; submits: number; wal_bytes_per_op: number; final_doc_chars: number }> {
  const services: ConflictService[] = [];
  const pools: DataSource[] = [];
  for (let r = 0; r < s.replicas; r++) {
    pools.push(await db.dataSource(10));
    services.push(new ConflictService(pools[r], s.commit));
  }
  const session = randomUUID();
  const docs = Array.from({ length: s.docs }, (_, d) => `src/file-${d}.rs`);
  const seed = s.seedChars ?? 0;
  const insert = 'abcdefghijklmnopqrstuvwxyz'.repeat(4).slice(0, s.insertChars ?? 2);
  const owner = { user_id: 'seed', client_id: 'seed', role: 'editor' as const };
  for (const doc of docs) {
    if (seed > 0) await services[0].createDocument(owner, { session_id: session, doc_id: doc, content: sourceLikeText(seed) });
  }
  const lsn = async (): Promise<bigint> => BigInt(((await pools[0].query(`SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS b`)) as Array<{ b: string }>)[0].b);
  const walBefore = await lsn();
  const writers = new Writers(session, s.writers, docs, s.bases);
  const result = await runLoad({
    writers: s.writers,
    warmupMs: s.warmupMs,
    durationMs: s.durationMs,
    targetOpsPerSecond: s.targetOpsPerSecond,
    submit: async (w) => {
      const { doc, base, seq } = writers.next(w);
      const pos = Math.floor(Math.random() * (seed + insert.length * base + 1));
      const op = pos === 0 ? [insert] : [pos, insert];
      const replica = s.route === 'doc' ? docs.indexOf(doc) % s.replicas : w % s.replicas;
      const ack = await services[replica].submitOp(writers.caller(w), { session_id: session, doc_id: doc, version: base, op, seq });
      writers.acked(w, doc, ack.ack.version);
    },
  });
  const walBytes = Number((await lsn()) - walBefore);
  const head = (await pools[0].query(`SELECT max(version)::int AS v FROM documents WHERE session_id = $1`, [session])) as Array<{ v: number }>;
  await Promise.all(pools.map((p) => p.destroy())); // Postgres has 100 connections for everyone on this machine
  const counters = services.map((x) => x.commitCounters()).reduce((a, b) => ({ transactions: a.transactions + b.transactions, submits: a.submits + b.submits }));
  const committed = counters.submits;
  return {
    ...result,
    ...counters,
    // WAL of the whole cluster during the run (others' tests on this machine add to it) per committed submit.
    wal_bytes_per_op: Math.round(walBytes / Math.max(1, committed)),
    final_doc_chars: seed + insert.length * (head[0]?.v ?? 0),
  };
}
