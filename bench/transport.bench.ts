// Transport benchmark: our Redis Streams transport (1 and 3 replicas) against Nest's built-in Redis
// transport (1 replica), request/response through a Nest ClientProxy.
//
//   node -r reflect-metadata -r @swc-node/register bench/transport.bench.ts     (BENCH_QUICK=1: < 30 s)
//
// For each setup: peak throughput with a closed loop (many requests in flight), then latency with an
// open-loop generator at half that rate (requests sent on a fixed schedule, latency measured from the
// scheduled send time, so a stall cannot hide itself). Runs on a private redis-server (an OS-chosen port),
// servers in child processes, the load generator here. Writes bench/results/transport.json.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { RedisStreamsClient } from '@chorus/transport';

const QUICK = process.env.BENCH_QUICK === '1';
// Many short alternating peak rounds: the median then resists bursts of outside load on a shared machine.
const PEAK_ROUNDS = QUICK ? 1 : 6;
const ROUNDS = QUICK ? 1 : 3;
const WARMUP_MS = QUICK ? 500 : 1_500;
const PEAK_MS = QUICK ? 1_500 : 1_500;
const OPEN_MS = QUICK ? 1_500 : 3_000;
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 512);
const ROOT = path.resolve(__dirname, '..');
const PAYLOAD = { doc: 'doc-42', op: { p: 17, i: 'hello' }, v: 1234 };

interface Result {
  replicas: number;
  /** Peak requests/s (closed loop). */
  rps: number;
  /** Latency percentiles at half of peak (open loop). */
  p50_ms: number;
  p99_ms: number;
  /** The fixed rate the latency was measured at. */
  offered_rps: number;
}

const children: ChildProcess[] = [];
const log = (line: string) => console.log(`[bench] ${line}`);

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

function spawnChild(command: string, args: string[], env: Record<string, string>, readyLine?: string): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  if (!readyLine) return Promise.resolve(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(readyLine)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Closed loop: IN_FLIGHT requests always outstanding; returns completed requests per second. */
async function closedLoop(call: () => Promise<unknown>, durationMs: number): Promise<number> {
  let done = 0;
  let errors = 0;
  const end = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      try {
        await call();
        done++;
      } catch {
        errors++;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  if (errors > 0) log(`  ${errors} errors in the closed loop`);
  return done / ((performance.now() - started) / 1_000);
}

/** Open loop at a fixed rate; latency from each request's scheduled time to its reply. */
async function openLoop(call: () => Promise<unknown>, rate: number, durationMs: number): Promise<number[]> {
  const total = Math.floor((rate * durationMs) / 1_000);
  // Preallocated, and no array of promises: the generator's own garbage must not be what the tail measures.
  const latencies = new Float64Array(total);
  let completed = 0;
  let errors = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const settle = () => {
    if (++completed === total) allDone();
  };
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1_000));
    for (; sent < due; sent++) {
      const index = sent;
      const scheduled = start + (index * 1_000) / rate;
      call().then(
        () => {
          latencies[index] = performance.now() - scheduled;
          settle();
        },
        () => {
          latencies[index] = NaN;
          errors++;
          settle();
        },
      );
    }
    // A 1 ms timer, not a setImmediate spin: the generator must not eat the CPU the servers and Redis need.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await finished;
  if (errors > 0) log(`  ${errors} errors in the open loop`);
  return Array.from(latencies)
    .filter((l) => !Number.isNaN(l))
    .sort((a, b) => a - b);
}

interface Setup {
  label: 'streams' | 'streams_3' | 'builtin';
  replicas: number;
  client: ClientProxy;
  servers: ChildProcess[];
  peaks: number[];
  latencies: number[];
}

async function startSetup(label: Setup['label'], mode: 'streams' | 'builtin', replicas: number, redisUrl: string): Promise<Setup> {
  const prefix = `bench-${label}`;
  const servers = await Promise.all(
    Array.from({ length: replicas }, () =>
      spawnChild(process.execPath, ['-r', 'reflect-metadata', '-r', '@swc-node/register', path.join(__dirname, 'transport', 'echo-server.ts')], {
        MODE: mode, REDIS_URL: redisUrl, PREFIX: prefix,
      }, 'READY'),
    ),
  );
  const url = new URL(redisUrl);
  const client: ClientProxy =
    mode === 'streams'
      ? new RedisStreamsClient({ redisUrl, prefix, nodeId: 'bench-gateway', service: 'bench' })
      : ClientProxyFactory.create({ transport: Transport.REDIS, options: { host: url.hostname, port: Number(url.port) } });
  await client.connect();
  return { label, replicas, client, servers, peaks: [], latencies: [] };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * All setups run side by side (idle servers cost next to nothing) and are measured in turns, round after
 * round: on a shared, noisy machine a burst of outside load then hits every setup alike instead of
 * deciding the comparison. Peak = median of the rounds; latency percentiles over all rounds' samples.
 */
async function measureAll(setups: Setup[]): Promise<void> {
  const call = (s: Setup) => () => firstValueFrom(s.client.send('bench.echo', PAYLOAD));
  for (const s of setups) {
    log(`${s.label}: warm-up ${WARMUP_MS} ms`);
    await closedLoop(call(s), WARMUP_MS);
  }
  for (let round = 1; round <= PEAK_ROUNDS; round++) {
    for (const s of setups) {
      const rps = await closedLoop(call(s), PEAK_MS);
      s.peaks.push(rps);
      log(`round ${round}/${PEAK_ROUNDS} ${s.label}: peak ${Math.round(rps)} req/s (closed loop, ${IN_FLIGHT} in flight, ${PEAK_MS} ms)`);
    }
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of setups) {
      const rate = Math.round(median(s.peaks) / 2);
      const latencies = await openLoop(call(s), rate, OPEN_MS);
      s.latencies.push(...latencies);
      log(`round ${round}/${ROUNDS} ${s.label}: open loop at ${rate} req/s: p50 ${round2(percentile(latencies, 50))} ms, p99 ${round2(percentile(latencies, 99))} ms`);
    }
  }
}

const round2 = (n: number) => round(n, 2);

function result(s: Setup): Result {
  const latencies = [...s.latencies].sort((a, b) => a - b);
  const rps = median(s.peaks);
  return { replicas: s.replicas, rps: Math.round(rps), p50_ms: round2(percentile(latencies, 50)), p99_ms: round2(percentile(latencies, 99)), offered_rps: Math.round(rps / 2) };
}

async function main(): Promise<void> {
  const started = performance.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'chorus-bench-redis-'));
  const port = await freePort();
  const redisUrl = `redis://127.0.0.1:${port}`;
  log(`${QUICK ? 'quick' : 'full'} mode, ${PEAK_ROUNDS} peak and ${ROUNDS} latency round(s); private redis-server on port ${port}`);
  const redis = await spawnChild('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {}, 'Ready to accept');
  const setups: Setup[] = [];
  try {
    setups.push(await startSetup('streams', 'streams', 1, redisUrl));
    setups.push(await startSetup('streams_3', 'streams', 3, redisUrl));
    setups.push(await startSetup('builtin', 'builtin', 1, redisUrl));
    log('servers up: streams (1 replica), streams_3 (3 replicas), builtin (Nest Transport.REDIS, 1 replica)');
    await measureAll(setups);
    const [streams, streams3, builtin] = setups.map(result);
    const results = { streams, streams_3: streams3, builtin, ratio_rps: round2(streams.rps / builtin.rps) };
    mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(path.join(ROOT, 'bench', 'results', 'transport.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log('');
    console.table({ streams, streams_3: streams3, builtin });
    console.log(`ratio_rps (streams / builtin): ${results.ratio_rps}`);
    console.log(
      `goals: rps >= 10000: ${streams.rps >= 10_000 ? 'met' : 'MISSED'}; p99 <= 5 ms at half peak: ${streams.p99_ms <= 5 ? 'met' : 'MISSED'}; ratio_rps >= 1: ${results.ratio_rps >= 1 ? 'met' : 'MISSED'}`,
    );
    log(`wrote bench/results/transport.json in ${Math.round((performance.now() - started) / 1_000)} s`);
  } finally {
    for (const s of setups) await s.client.close();
    await Promise.all(setups.flatMap((s) => s.servers).map(stop));
    await stop(redis);
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('SIGINT', () => {
  for (const child of children) child.kill('SIGKILL');
  process.exit(130);
});

main()
  .catch((error: Error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });
