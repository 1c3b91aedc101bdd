// OT commit benchmark: `npm run bench:ot` (node -r @swc-node/register bench/ot.bench.ts); BENCH_QUICK=1 for a
// short run (< 30 s). Writes bench/results/ot.json.
//
// Two paths, one run (so they share the machine's state):
// - transport (the top-level figures): conflict replicas as separate processes (apps/conflict/src/main.ts, as
//   deployed) — 1, then (full mode) 2 and 3 — and writers in this process sending `op.submit` through
//   RedisStreamsClient (3 clients = 3 gateways) with the document's ordering key, as libs/contracts prescribes.
//   Also measured: 3 replicas without the key, and writers that ignore broadcasts (bench/ot/measure.ts).
// - service-direct: writers call ConflictService.submitOp in-process on 3 service instances (each with its own
//   pool): the commit path alone (the 'per-document' and 'every-commit' modes it once compared against were
//   removed from the service; their recorded figures stay in docs/benchmarks.md).
// ShareDB runs in this process against the same Postgres, through its own server-side submit.
import { cpus } from 'node:os';
import { Client } from 'pg';
import { createTestDatabase } from '@chorus/testing';
import { createConflictTestDatabase } from '../apps/conflict/src/testing/conflict-test-db';
import { startConflictCluster } from '../apps/conflict/src/testing/replica-processes';
import { cpuCalibrationMs, progress, writeResult } from './lib/report';
import { runChorus, type ChorusScenario } from './ot/chorus';
import type { LoadResult } from './ot/measure';
import { runShareDb, SHAREDB_SCHEMA } from './ot/sharedb';
import { runChorusTransport, type TransportScenario } from './ot/transport';


const quick = process.env.BENCH_QUICK === '1';
const warmupMs = quick ? 300 : 2_000;
const durationMs = quick ? 1_000 : 10_000;
const WRITERS = 50;
const REPLICAS = 3;
/** Replica processes behind the top-level transport figures (see the transport section). */
const HEADLINE_REPLICAS = 1;

type Row = LoadResult & { transactions?: number; submits?: number; retries?: number; wal_bytes_per_op?: number; final_doc_chars?: number };
const rows: Array<[string, Row]> = [];

function report<T extends Row>(name: string, r: T): T {
  rows.push([name, r]);
  let extra = r.transactions ? ` ops/commit ${(r.submits! / r.transactions).toFixed(1)}` : r.retries !== undefined ? ` retries ${r.retries}` : '';
  if (r.final_doc_chars) extra += ` WAL/op ${r.wal_bytes_per_op} B, doc ${Math.round(r.final_doc_chars / 1_000)} KB at the end`;
  console.log(`  ${name.padEnd(40)} ${String(r.ops_per_s).padStart(7)} ops/s  p50 ${r.p50_ms.toFixed(1).padStart(6)} ms  p99 ${r.p99_ms.toFixed(1).padStart(7)} ms  errors ${r.errors}${extra}`);
  return r;
}

const round = (n: number): number => Math.round(n * 100) / 100;
const pick = ({ writers, ops_per_s, p50_ms, p99_ms, errors }: Row) => ({ writers, ops_per_s, p50_ms, p99_ms, errors });
const perCommit = (r: Row) => ({ ...pick(r), ops_per_commit: round((r.submits ?? 0) / Math.max(1, r.transactions ?? 0)) });

async function main(): Promise<void> {
  progress(`OT benchmark (${quick ? 'quick' : 'full'}): ${WRITERS} writers, ${REPLICAS} replicas, ${durationMs / 1_000} s per scenario after ${warmupMs / 1_000} s warm-up`);
  const base = { writers: WRITERS, warmupMs, durationMs };
  const out: Record<string, unknown> = {};
  const calibrationStart = cpuCalibrationMs();
  progress(`CPU calibration: ${calibrationStart} ms (lower is faster; recorded to compare runs)`);

  // --- transport path: replicas in their own processes, 1 then 3 (2 as well in full mode) ---
  // The top-level figures are those of HEADLINE_REPLICAS: one replica process per core is what this 2-core
  // machine can host beside Postgres, Redis and the writers; 3 replica processes sharing 2 cores measure
  // oversubscription (every stage's batches shrink, every process's per-op cost doubles), reported beside it.
  const scaling: Array<Record<string, unknown>> = [];
  for (const replicas of quick ? [HEADLINE_REPLICAS] : [1, 2, 3]) {
    const headline = replicas === HEADLINE_REPLICAS;
    const cluster = await startConflictCluster(`bench_ot_mp${replicas}`, replicas, 10);
    try {
      await cluster.balanced(); // replicas hand ordering shards over for a few seconds after start
      const gateways = [0, 1, 2].map((g) => cluster.client(`bench-gateway-${g}`, 10_000));
      const t = (name: string, sc: Partial<TransportScenario> & { docs: number; keyed: boolean }) =>
        runChorusTransport(gateways, { ...base, ...sc }).then((r) => report(`${name} [${replicas} replica${replicas > 1 ? 's' : ''}]`, r));
      progress(`Chorus through the transport, ${replicas} replica process${replicas > 1 ? 'es' : ''}:`);
      await t('warm-up (not recorded)', { docs: 100, keyed: true, durationMs: quick ? 500 : 1_000, warmupMs: 0 });
      rows.pop();
      const spread = await t('spread_100_docs (keyed)', { docs: 100, keyed: true });
      scaling.push({ replicas, spread_100_docs: pick(spread) });
      if (!headline && replicas > 1) {
        if (replicas === 3) {
          const hotAny = await t('hot_doc (no ordering key)', { docs: 1, keyed: false });
          out.transport_hot_doc_no_ordering_key = { replicas, ...pick(hotAny) };
        }
        continue;
      }
      const hot = await t('hot_doc (keyed)', { docs: 1, keyed: true });
      const stale = await t('spread_100_docs, writers ignoring broadcasts', { docs: 100, keyed: true, bases: 'own-acks' });
      const hotHalf = quick ? undefined : await t('hot_doc (keyed) at half of peak', { docs: 1, keyed: true, targetOpsPerSecond: hot.ops_per_s / 2 });
      const spreadHalf = quick ? undefined : await t('spread_100_docs (keyed) at half of peak', { docs: 100, keyed: true, targetOpsPerSecond: spread.ops_per_s / 2 });
      Object.assign(out, {
        replicas,
        hot_doc: { replicas, ...pick(hot) },
        spread_100_docs: { replicas, ...pick(spread) },
        hot_doc_half_peak: hotHalf && { replicas, ...pick(hotHalf) },
        spread_100_docs_half_peak: spreadHalf && { replicas, ...pick(spreadHalf) },
        spread_100_docs_writers_ignoring_broadcasts: { replicas, ...pick(stale) },
      });
    } finally {
      await cluster.close();
    }
  }
  out.replica_scaling = scaling;

  // --- service-direct: the commit path alone, before/after cross-document batching ---
  const db = await createConflictTestDatabase('bench_ot');
  try {
    const d = (name: string, docs: number, route: ChorusScenario['route'], commit: ChorusScenario['commit'], targetOpsPerSecond?: number) =>
      runChorus(db, { ...base, replicas: REPLICAS, docs, route, commit, targetOpsPerSecond }).then((r) => report(name, r));
    progress('Chorus service-direct (3 ConflictService instances in this process):');
    const direct = {
      hot_doc: await d('direct hot_doc (every replica writes it)', 1, 'writer', {}),
      hot_doc_routed: await d('direct hot_doc routed to one replica', 1, 'doc', {}),
      spread_100_docs: await d('direct spread_100_docs (any replica)', 100, 'writer', {}),
      spread_100_docs_parallel_commits: await d('  same, 4 commits in flight (before)', 100, 'writer', { maxParallelCommits: 4, commitStallMs: 0 }),
      spread_100_docs_routed: await d('direct spread_100_docs routed', 100, 'doc', {}),
      hot_doc_no_batching: quick ? undefined : await d('direct hot_doc, one transaction per submit', 1, 'writer', { commitMode: 'direct' }),
    };
    // A large, growing hot document: 60 KB at the start, growing to ~90 KB. The head text is written only every
    // snapshotEvery versions (checkpoint), so a commit's cost should not grow with the document: compare with
    // the small hot_doc above.
    const g = (name: string, route: ChorusScenario['route']) =>
      runChorus(db, { ...base, replicas: REPLICAS, docs: 1, route, commit: {}, seedChars: 60_000, insertChars: quick ? 20 : 3 }).then((r) => report(name, r));
    const growing = {
      routed_checkpoint: await g('direct hot_doc 60 KB+ routed', 'doc'),
      any_replica_checkpoint: await g('direct hot_doc 60 KB+ any replica', 'writer'),
    };
    const grow = (r: Row) => ({ ...perCommit(r), wal_bytes_per_op: r.wal_bytes_per_op, final_doc_chars: r.final_doc_chars });
    out.growing_hot_doc = Object.fromEntries(Object.entries(growing).map(([k, v]) => [k, grow(v)]));
    out.service_direct = Object.fromEntries(Object.entries(direct).map(([k, v]) => [k, v && perCommit(v)]));
    // One commit in flight per replica (another only after commitStallMs) against four at once, same run.
    out.commit_scheduling_gain = {
      spread_100_docs_ops_per_s: round(direct.spread_100_docs.ops_per_s / Math.max(1, direct.spread_100_docs_parallel_commits.ops_per_s)),
      spread_100_docs_p99: round(direct.spread_100_docs_parallel_commits.p99_ms / Math.max(0.01, direct.spread_100_docs.p99_ms)),
    };
  } finally {
    await db.close();
  }

  // --- ShareDB ---
  const sharedbDb = await createTestDatabase('bench_sharedb');
  try {
    progress('ShareDB 5 + sharedb-postgres, one hot document:');
    const c = new Client({ connectionString: sharedbDb.url });
    await c.connect();
    await c.query(SHAREDB_SCHEMA);
    await c.end();
    const sharedb = report('sharedb_hot_doc', await runShareDb(sharedbDb.url, { writers: WRITERS, warmupMs, durationMs }));
    if (sharedb.error_messages.length > 0) console.log(`  sharedb errors: ${sharedb.error_messages.join(' | ')}`);
    out.sharedb_hot_doc = { ...pick(sharedb), retries: sharedb.retries, error_messages: sharedb.error_messages };
    out.ratio_hot_doc = round((out.hot_doc as Row).ops_per_s / Math.max(1, sharedb.ops_per_s));
  } finally {
    await sharedbDb.drop();
  }

  const result = {
    path: 'transport',
    note:
      `Top-level hot_doc / spread_100_docs: ${HEADLINE_REPLICAS} conflict replica process (apps/conflict/src/main.ts, pool 10), writers in the bench process sending op.submit through RedisStreamsClient (3 clients) with the ordering key documentKey(session, doc); replica_scaling (full mode): the same spread load on 1, 2 and 3 replica processes sharing the 2 cores. Writers base each op on the newest version they have seen (acks stand for broadcasts, bench/ot/measure.ts WriterBases); *_writers_ignoring_broadcasts: on their own last ack only. Local Postgres 15 and Redis 7, 2-core machine shared with everything else. service_direct: ConflictService instances in the bench process (no transport). ShareDB: in the bench process, same Postgres, same writer rule.`,
    mode: quick ? 'quick' : 'full',
    duration_s: durationMs / 1_000,
    ...out,
    machine: { cpus: cpus().length, node: process.version },
    cpu_calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() },
  };
  writeResult('ot', result);
  progress(`ratio hot_doc / sharedb_hot_doc = ${String(out.ratio_hot_doc)}x; commit scheduling gain ${JSON.stringify(out.commit_scheduling_gain)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
