// npm run bench:session — appends to the session event stream through SessionEventLog (group commit) on the
// real Postgres, with 3 "replicas" (independent pools and logs in this process) appending concurrently.
//   hot_session: every append goes to one session (the row-lock hot spot)
//   spread_100:  appends spread over 100 sessions
// BENCH_QUICK=1 runs a short version (< 30 s). Writes bench/results/session.json.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '@chorus/database';
import { createTestDatabase } from '@chorus/testing';
import { SESSION_DATA_SOURCE } from '../apps/session/src/persistence/session.data-source';
import { SessionEventLog } from '../apps/session/src/events/event-log';
import { percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const REPLICAS = 3;
const IN_FLIGHT_PER_REPLICA = 64;
const DURATION_MS = QUICK ? 4_000 : 15_000;

interface Figures {
  appends_per_s: number;
  p50_ms: number;
  p99_ms: number;
  appends: number;
}

async function run(logs: SessionEventLog[], sessions: string[], label: string): Promise<Figures> {
  progress(`${label}: ${REPLICAS} replicas × ${IN_FLIGHT_PER_REPLICA} appenders for ${DURATION_MS / 1000} s over ${sessions.length} session(s)`);
  const latencies: number[] = [];
  const deadline = Date.now() + DURATION_MS;
  let n = 0;
  const worker = async (log: SessionEventLog, w: number) => {
    while (Date.now() < deadline) {
      const session = sessions[(w + n++) % sessions.length];
      const t0 = performance.now();
      await log.append(session, { type: 'chat_message', actor: `bench-${w}`, payload: { peer_id: `bench-${w}`, user_id: `bench-${w}`, display_name: 'Bench', message: `hello from the benchmark ${n}` } });
      latencies.push(performance.now() - t0);
    }
  };
  const started = performance.now();
  const ticker = setInterval(() => progress(`${label}: ${latencies.length} appends so far`), 5_000);
  await Promise.all(logs.flatMap((log, r) => Array.from({ length: IN_FLIGHT_PER_REPLICA }, (_, i) => worker(log, r * IN_FLIGHT_PER_REPLICA + i))));
  clearInterval(ticker);
  const seconds = (performance.now() - started) / 1000;
  return { appends_per_s: round(latencies.length / seconds, 0), p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)), appends: latencies.length };
}

async function main(): Promise<void> {
  progress('creating a fresh database and migrating');
  const db = await createTestDatabase('bench_session');
  const pools: DataSource[] = [];
  try {
    await runMigrations(SESSION_DATA_SOURCE, db.url);
    for (let i = 0; i < REPLICAS; i++) {
      const ds = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, db.url, 10));
      await ds.initialize();
      pools.push(ds);
    }
    const logs = pools.map((ds) => new SessionEventLog(ds));
    const create = async (n: number) =>
      ((await pools[0].query(`INSERT INTO sessions (name, owner_id) SELECT 'bench ' || g, 'bench' FROM generate_series(1, $1) g RETURNING id`, [n])) as Array<{ id: string }>).map((r) => r.id);
    const hot = await run(logs, await create(1), 'hot_session');
    const spread = await run(logs, await create(100), 'spread_100');
    printTable('Session stream appends (service layer, real Postgres, 3 replicas, group commit)', [
      { scenario: 'hot_session', 'appends/s': hot.appends_per_s, 'p50 ms': hot.p50_ms, 'p99 ms': hot.p99_ms, appends: hot.appends },
      { scenario: 'spread_100', 'appends/s': spread.appends_per_s, 'p50 ms': spread.p50_ms, 'p99 ms': spread.p99_ms, appends: spread.appends },
    ]);
    console.log(`goal: >= 2000 appends/s into one hot session -> ${hot.appends_per_s >= 2000 ? 'met' : 'MISSED'}`);
    writeResult('session', { path: 'service-direct', replicas: REPLICAS, in_flight: REPLICAS * IN_FLIGHT_PER_REPLICA, hot_session: hot, spread_100: spread });
  } finally {
    await Promise.all(pools.map((p) => p.destroy()));
    await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
