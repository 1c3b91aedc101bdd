// OT commit benchmark: `npm run bench:ot` (node -r @swc-node/register bench/ot.bench.ts); BENCH_QUICK=1 for a
// short run (< 30 s). Writes bench/results/ot.json.
//
// Path: service-direct. The Redis Streams transport is not finished, so writers call ConflictService.submitOp
// in-process on several service instances (= replicas, each with its own Postgres pool) against one real
// Postgres. ShareDB runs in the same process against the same Postgres, through its own server-side submit.
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase } from '@chorus/testing';
import { createConflictTestDatabase } from '../apps/conflict/src/testing/conflict-test-db';
import { runChorus, type ChorusScenario } from './ot/chorus';
import { runShareDb, SHAREDB_SCHEMA } from './ot/sharedb';
import type { LoadResult } from './ot/measure';

const quick = process.env.BENCH_QUICK === '1';
const warmupMs = quick ? 300 : 2_000;
const durationMs = quick ? 2_000 : 10_000;
const WRITERS = 50;
const REPLICAS = 3;

type Row = LoadResult & { transactions?: number; submits?: number; retries?: number };
const table: Array<[string, Row]> = [];

function report(name: string, r: Row): void {
  table.push([name, r]);
  const extra = r.transactions ? ` ops/txn ${(r.submits! / r.transactions).toFixed(1)}` : r.retries !== undefined ? ` retries ${r.retries}` : '';
  console.log(`  ${name.padEnd(28)} ${String(r.ops_per_s).padStart(7)} ops/s  p50 ${r.p50_ms.toFixed(1).padStart(6)} ms  p99 ${r.p99_ms.toFixed(1).padStart(6)} ms  errors ${r.errors}${extra}`);
}

async function main(): Promise<void> {
  console.log(`OT benchmark (${quick ? 'quick' : 'full'}): ${WRITERS} writers, ${REPLICAS} replicas, ${durationMs / 1_000} s per scenario after ${warmupMs / 1_000} s warm-up; path service-direct`);
  const db = await createConflictTestDatabase('bench_ot');
  const sharedbDb = await createTestDatabase('bench_sharedb');
  try {
    const base = { writers: WRITERS, replicas: REPLICAS, warmupMs, durationMs };
    const scenario = (docs: number, route: ChorusScenario['route'], commit: ChorusScenario['commit'], targetOpsPerSecond?: number): ChorusScenario => ({
      ...base,
      docs,
      route,
      commit,
      targetOpsPerSecond,
    });

    console.log('Chorus, one hot document (every replica writes it):');
    const hot = await runChorus(db, scenario(1, 'writer', { commitMode: 'group' }));
    report('hot_doc (group commit)', hot);
    const direct = await runChorus(db, scenario(1, 'writer', { commitMode: 'direct' }));
    report('hot_doc (no batching)', direct);
    const half = await runChorus(db, scenario(1, 'writer', { commitMode: 'group' }, hot.ops_per_s / 2));
    report('hot_doc at half of peak', half);
    console.log('Chorus, one hot document routed to one replica (per-key routing):');
    const routed = await runChorus(db, scenario(1, 'doc', { commitMode: 'group' }));
    report('hot_doc routed', routed);
    const routedHalf = await runChorus(db, scenario(1, 'doc', { commitMode: 'group' }, routed.ops_per_s / 2));
    report('hot_doc routed at half', routedHalf);

    console.log('Chorus, 100 documents:');
    const spread = await runChorus(db, scenario(100, 'writer', { commitMode: 'group' }));
    report('spread_100_docs', spread);
    const spreadRouted = await runChorus(db, scenario(100, 'doc', { commitMode: 'group' }));
    report('spread_100_docs routed', spreadRouted);
    const spreadHalf = await runChorus(db, scenario(100, 'doc', { commitMode: 'group' }, spreadRouted.ops_per_s / 2));
    report('spread_100_docs routed at half', spreadHalf);

    console.log('ShareDB 5 + sharedb-postgres, one hot document:');
    const c = new Client({ connectionString: sharedbDb.url });
    await c.connect();
    await c.query(SHAREDB_SCHEMA);
    await c.end();
    const sharedb = await runShareDb(sharedbDb.url, { writers: WRITERS, warmupMs, durationMs });
    report('sharedb_hot_doc', sharedb);
    if (sharedb.error_messages.length > 0) console.log(`  sharedb errors: ${sharedb.error_messages.join(' | ')}`);

    const pick = ({ writers, ops_per_s, p50_ms, p99_ms }: Row) => ({ writers, ops_per_s, p50_ms, p99_ms });
    const perTxn = (r: Row) => ({ ...pick(r), ops_per_txn: round((r.submits ?? 0) / Math.max(1, r.transactions ?? 0)) });
    const result = {
      path: 'service-direct',
      note: 'In-process: writers call ConflictService.submitOp on 3 service instances (replicas), each with its own pg pool, against one Postgres 15; no transport, no gateway. Writers, replicas and ShareDB share one Node process on a 2-core machine.',
      mode: quick ? 'quick' : 'full',
      replicas: REPLICAS,
      duration_s: durationMs / 1_000,
      hot_doc: perTxn(hot),
      hot_doc_half_peak: perTxn(half),
      hot_doc_no_batching: perTxn(direct),
      hot_doc_routed: perTxn(routed),
      hot_doc_routed_half_peak: perTxn(routedHalf),
      spread_100_docs: perTxn(spread),
      spread_100_docs_routed: perTxn(spreadRouted),
      spread_100_docs_routed_half_peak: perTxn(spreadHalf),
      sharedb_hot_doc: { ...pick(sharedb), retries: sharedb.retries, errors: sharedb.errors, error_messages: sharedb.error_messages },
      ratio_hot_doc: round(hot.ops_per_s / Math.max(1, sharedb.ops_per_s)),
      batching_gain_hot_doc: round(hot.ops_per_s / Math.max(1, direct.ops_per_s)),
      machine: { cpus: cpus().length, node: process.version },
      measured_at: new Date().toISOString(),
    };
    const out = resolve(__dirname, 'results', 'ot.json');
    mkdirSync(resolve(__dirname, 'results'), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nratio hot_doc / sharedb_hot_doc = ${result.ratio_hot_doc}x; group commit vs none = ${result.batching_gain_hot_doc}x`);
    console.log(`wrote ${out}`);
  } finally {
    await db.close();
    await sharedbDb.drop();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
