// Where an OT op's cost goes: `npm run bench:ot-cost` (BENCH_QUICK=1 for a short run). Writes
// bench/results/ot-cost.json. Three measurements behind design choices in docs/conflict.md:
// - commit_statement: the fast-path commit statement (commitIfHeads) run one after another on one connection,
//   unnamed (planned on every call, as TypeORM's query() sends it) against prepared (libs/database prepared.ts).
// - apply: validateOp + makeInvertible + applyOp (three walks of the text) against applyChecked, per op, on a
//   2 KB and a 40 KB text without surrogates.
// - process_cpu: 100 documents through the transport (as bench:ot's spread_100_docs) on 1 and 3 replica
//   processes; CPU (utime + stime from /proc, so Linux only) of every process per committed op, and ops per
//   commit from the replicas' /metrics. This is what shows where the CPU of one op goes on this machine.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { applyChecked, applyOp, makeInvertible, validateOp, type TextOp } from '@chorus/ot';
import { poolOf } from '@chorus/database';
import { createConflictTestDatabase } from '../apps/conflict/src/testing/conflict-test-db';
import { startConflictCluster } from '../apps/conflict/src/testing/replica-processes';
import { commitIfHeads, ensureDocuments } from '../apps/conflict/src/persistence/commit.repository';
import { cpuCalibrationMs, printTable, progress, round, writeResult } from './lib/report';
import { runChorusTransport } from './ot/transport';

const quick = process.env.BENCH_QUICK === '1';

async function commitStatement(): Promise<Record<string, number>> {
  const db = await createConflictTestDatabase('bench_ot_cost');
  try {
    const named = poolOf(await db.dataSource(1));
    const unnamed = poolOf(await db.dataSource(1), { prepared: false });
    const session = randomUUID();
    const docs = Array.from({ length: 100 }, (_, i) => `src/file-${i}.rs`);
    await ensureDocuments(named, docs.map((docId) => ({ sessionId: session, docId })));
    const version = new Map(docs.map((d) => [d, 0]));
    let seq = 0;
    const commits = quick ? 200 : 1_000;
    const run = async (pool: typeof named, perCommit: number): Promise<number> => {
      const started = performance.now();
      for (let i = 0; i < commits; i++) {
        const picked = Array.from({ length: perCommit }, (_, k) => docs[(i * perCommit + k) % docs.length]);
        const ops = picked.map((d) => ({ sessionId: session, docId: d, version: (version.get(d) ?? 0) + 1, base_version: version.get(d) ?? 0, op: [3, 'ab'] as TextOp, client_id: 'bench', seq: ++seq, user_id: 'bench' }));
        const heads = picked.map((d) => ({ sessionId: session, docId: d, version: (version.get(d) ?? 0) + 1, checkpoint: null, expectedVersion: version.get(d) ?? 0, expectedMetaSeq: 0 }));
        const moved = await commitIfHeads(pool, ops, heads, []);
        if (moved.size !== perCommit) throw new Error(`commitIfHeads moved ${moved.size} of ${perCommit} heads`);
        for (const d of picked) version.set(d, (version.get(d) ?? 0) + 1);
      }
      return round((performance.now() - started) / commits, 3);
    };
    await run(named, 3); // warm-up: connections, prepared statement, caches
    await run(unnamed, 3);
    const out = {
      unnamed_ms_3_docs: await run(unnamed, 3),
      prepared_ms_3_docs: await run(named, 3),
      unnamed_ms_15_docs: await run(unnamed, 15),
      prepared_ms_15_docs: await run(named, 15),
    };
    return { ...out, ratio_3_docs: round(out.unnamed_ms_3_docs / out.prepared_ms_3_docs), ratio_15_docs: round(out.unnamed_ms_15_docs / out.prepared_ms_15_docs) };
  } finally {
    await db.close();
  }
}

function apply(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const size of [2_000, 40_000]) {
    const line = 'fn main() {\n    let x = 1;\n}\n';
    const doc = line.repeat(Math.ceil(size / line.length)).slice(0, size);
    const ops: TextOp[] = Array.from({ length: quick ? 1_000 : 5_000 }, () => {
      const at = Math.floor(Math.random() * size);
      return at === 0 ? ['ab'] : [at, 'ab'];
    });
    const time = (f: (op: TextOp) => unknown): number => {
      for (const op of ops.slice(0, 200)) f(op); // warm-up
      const started = performance.now();
      for (const op of ops) f(op);
      return round(((performance.now() - started) * 1_000) / ops.length, 2);
    };
    const separate = time((op) => {
      const valid = validateOp(doc, op);
      if (!valid.ok) throw new Error(valid.error.message);
      return applyOp(doc, makeInvertible(valid.op, doc));
    });
    const checked = time((op) => applyChecked(doc, op));
    const kb = `${size / 1_000}kb`;
    Object.assign(out, { [`separate_calls_us_${kb}`]: separate, [`apply_checked_us_${kb}`]: checked, [`ratio_${kb}`]: round(separate / checked) });
  }
  return out;
}

/** CPU ms (utime + stime) of every process, grouped: postgres backends together, this process as "writers". */
function cpuByProcess(): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
      const group = Number(entry) === process.pid ? 'writers (bench process)' : name.startsWith('postgres') ? 'postgres' : name === 'redis-server' ? 'redis' : name === 'node' ? `node ${entry}` : undefined;
      if (group) out.set(group, (out.get(group) ?? 0) + ms);
    } catch {
      // the process ended while we read it
    }
  }
  return out;
}

async function processCpu(replicas: number): Promise<Record<string, unknown>> {
  const cluster = await startConflictCluster(`bench_ot_cost_${replicas}`, replicas, 10);
  try {
    await cluster.balanced();
    const gateways = [0, 1, 2].map((g) => cluster.client(`bench-gateway-${g}`, 10_000));
    const replicaPids = new Set(cluster.replicas.map((r) => `node ${r.process.child.pid}`));
    const scenario = { writers: 50, docs: 100, keyed: true, warmupMs: 0 };
    await runChorusTransport(gateways, { ...scenario, durationMs: quick ? 1_000 : 2_000 }); // warm-up
    const commits0 = await cluster.metric('chorus_conflict_commits_total');
    const submits0 = await cluster.metric('chorus_conflict_committed_submits_total');
    const before = cpuByProcess();
    const started = performance.now();
    const load = await runChorusTransport(gateways, { ...scenario, durationMs: quick ? 2_000 : 5_000 });
    const elapsed = performance.now() - started;
    const after = cpuByProcess();
    const commits = (await cluster.metric('chorus_conflict_commits_total')) - commits0;
    const submits = (await cluster.metric('chorus_conflict_committed_submits_total')) - submits0;
    const ops = Math.max(1, submits);
    const used = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    const replicaMs = [...replicaPids].reduce((sum, name) => sum + used(name), 0);
    const perOp = (ms: number): number => round((ms * 1_000) / ops, 0);
    const cpu = { conflict_replicas: perOp(replicaMs), postgres: perOp(used('postgres')), 'writers (bench process)': perOp(used('writers (bench process)')), redis: perOp(used('redis')) };
    return {
      replicas,
      ops_per_s: round(submits / (elapsed / 1_000), 0),
      p99_ms: load.p99_ms,
      ops_per_commit: round(submits / Math.max(1, commits), 1),
      cpu_us_per_op: cpu,
      cpu_us_per_op_total: Object.values(cpu).reduce((a, b) => a + b, 0),
    };
  } finally {
    await cluster.close();
  }
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  progress(`OT cost breakdown (${quick ? 'quick' : 'full'}); CPU calibration ${calibrationStart} ms`);
  progress('commit statement, unnamed vs prepared (one connection, one after another)');
  const commit_statement = await commitStatement();
  progress('apply: validateOp + makeInvertible + applyOp vs applyChecked');
  const applyCost = apply();
  const process_cpu: Array<Record<string, unknown>> = [];
  for (const replicas of [1, 3]) {
    progress(`CPU per op through the transport, 100 documents, ${replicas} replica process${replicas > 1 ? 'es' : ''}`);
    process_cpu.push(await processCpu(replicas));
  }
  printTable('Commit statement (ms per commit)', [commit_statement]);
  printTable('Apply one op (µs)', [applyCost]);
  printTable(
    'CPU per committed op through the transport (µs, utime + stime)',
    process_cpu.map((p) => ({ replicas: p.replicas as number, ops_per_s: p.ops_per_s as number, ops_per_commit: p.ops_per_commit as number, ...(p.cpu_us_per_op as Record<string, number>), total: p.cpu_us_per_op_total as number })),
  );
  writeResult('ot-cost', { commit_statement, apply: applyCost, process_cpu, cpu_calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() } });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
