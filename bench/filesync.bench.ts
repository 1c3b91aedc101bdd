import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { Session as InspectorSession } from 'node:inspector';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { ChorusClient, FileSyncGuest, FileSyncHost, chunkLayout, type ChorusSession, type FileSource } from '@chorus/client';
import { loadConfig } from '@chorus/config';
import { createTestDatabase, testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { buildManifest, diskSource } from '@chorus/client-node';
import { startChorus, type RunningChorus } from '../standalone/chorus';
import { CaptureLogger } from '../test/e2e/support/capture-logger';
import { writeProject } from '../test/e2e/support/file-project';
import { setUpSession } from '../test/e2e/support/scenario';
import { TEST_JWT_SECRET } from '../test/e2e/support/stack';
import { cpuCalibrationMs, printTable, progress, round, writeResult } from './lib/report';

// npm run bench:filesync — project file sync through 2 gateways (two whole Chorus nodes in this process, sharing
// the real Redis and Postgres): the host's SDK on node A, the guest's on node B. Compared in the same run with a
// plain HTTP download of the same bytes from this same process (the baseline the compact format must reach half
// of), and with the seed's JSON format. Then a resume: the transfer is cut mid-way (the host's connection
// dropped) and `rechunked` counts chunks sent more than once. BENCH_QUICK=1: 300 files + 8 MB instead of
// 2,000 + 50 MB. Every transfer is the host's through both gateways (`useCache: false`, checked by the host's
// chunk count). BENCH_ROUNDS (3), BENCH_WINDOW (the host's window, 8), BENCH_CHUNK (bytes, 256 KiB),
// BENCH_MEMORY=1 (the host serves from memory), BENCH_CPU_PROFILE=file (a profile of the first compact run).
// FILE_SYNC_BYTES_PER_S is raised to 1 GiB/s on both nodes (the default, 64 MiB/s, would be the ceiling).

const QUICK = process.env.BENCH_QUICK === '1';
const FILES = QUICK ? 300 : 2_000;
const BIG = (QUICK ? 8 : 50) * 1024 * 1024;
/** The seed format moves ~3.6 characters of JSON per byte: it is measured on a slice of the project. */
const SEED_BYTES = (QUICK ? 4 : 8) * 1024 * 1024;
/** HTTP and compact runs, alternated (BENCH_ROUNDS; default 3, quick 1). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3)));

/** Milliseconds of CPU (user + system) this process spent since `since`: both gateways, both SDKs, the HTTP server. */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * BENCH_CPU_PROFILE=file.cpuprofile: a CPU profile of the compact transfer only (this process holds both gateways,
 * both SDKs and Redis's clients), for Chrome DevTools or `node bench/lib/cpuprofile-top.mjs file`.
 */
async function profiler(file: string | undefined): Promise<{ stop(): Promise<void> }> {
  if (!file) return { stop: async () => undefined };
  const session = new InspectorSession();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return {
    async stop() {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
      progress(`cpu profile of the compact transfer: ${file}`);
    },
  };
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  const load = loadavg().map((l) => round(l, 2));
  const db = await createTestDatabase('bench_filesync');
  const logs = new CaptureLogger();
  Logger.overrideLogger(logs);
  const prefix = uniqueRedisPrefix('bench_filesync');
  const nodes: RunningChorus[] = [];
  const clients: ChorusClient[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-files-'));
  let http: ReturnType<typeof createServer> | undefined;
  try {
    for (const nodeId of ['node-a', 'node-b']) {
      const config = loadConfig('standalone', { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'error', REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, NODE_ID: nodeId, FILE_SYNC_BYTES_PER_S: String(1024 * 1024 * 1024) });
      nodes.push(await startChorus(config, logs));
    }
    const [a, b] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
    progress(`writing a project of ${FILES} files + ${BIG / 1024 / 1024} MB`);
    await writeProject(dir, { files: FILES, bigBytes: BIG, seed: 15 });
    const manifest = await buildManifest(dir);
    const totalBytes = manifest.files.reduce((n, f) => n + f.size, 0);
    const paths = manifest.files.map((f) => f.path);
    const people = await setUpSession(a, 'bench_files');
    const enter = async (url: string, token: string, peerId: string): Promise<ChorusSession> => {
      const client = new ChorusClient({ url, token, peerId, onWarning: () => undefined });
      clients.push(client);
      await client.connect();
      const session = client.session(people.sessionId);
      await session.join();
      return session;
    };
    const hostSession = await enter(a, people.alice.token, 'host');
    const disk = diskSource(dir, manifest);
    const memory = new Map<string, Buffer>();
    if (process.env.BENCH_MEMORY === '1') for (const f of manifest.files) memory.set(f.path, await readFile(join(dir, ...f.path.split('/'))));
    const source: FileSource = process.env.BENCH_MEMORY === '1' ? { manifest: disk.manifest, read: async (p, o, l) => (memory.get(p) as Buffer).subarray(o, o + l) } : disk;
    const host = new FileSyncHost(hostSession, source, { window: Number(process.env.BENCH_WINDOW ?? 8) });
    await host.share();
    const guest = new FileSyncGuest(await enter(b, people.bob.token, 'guest'));
    const { manifest: remote } = await guest.fetchManifest();

    // Baseline: the same bytes over plain HTTP from this process (one GET per file, 8 at a time, as a CDN pull).
    // Both sides read from disk: the host through its FileSource, the HTTP server per request (a static file server).
    const known = new Set(paths);
    http = createServer((req, res) => {
      const path = decodeURIComponent((req.url ?? '/').slice(1));
      if (!known.has(path)) return void res.writeHead(404).end();
      void readFile(join(dir, ...path.split('/'))).then((body) => {
        res.writeHead(200, { 'content-length': body.length });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => http?.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as { port: number }).port;
    const httpOnce = async (): Promise<{ ms: number; cpuMs: number }> => {
      const cpu = process.cpuUsage();
      const start = performance.now();
      let got = 0;
      const queue = [...paths];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
            const res = await fetch(`http://127.0.0.1:${port}/${encodeURIComponent(p)}`);
            if (!res.ok) throw new Error(`HTTP ${res.status} for ${p}`);
            const body = await res.arrayBuffer();
            got += body.byteLength;
          }
        }),
      );
      const ms = performance.now() - start;
      if (got !== totalBytes) throw new Error(`HTTP got ${got} of ${totalBytes} bytes`);
      progress(`http: ${round(ms)} ms`);
      return { ms, cpuMs: cpuMsSince(cpu) };
    };

    // Every transfer measured is the host's, through both gateways: `useCache: false`, so a slice the gateways'
    // file cache already holds (the compact run wrote it) is still sent by the host, not served by node B. The
    // host's chunk count per phase shows it.
    const chunkSize = Number(process.env.BENCH_CHUNK ?? 256 * 1024);
    const diskHash = new Map(manifest.files.map((f) => [f.path, f.hash]));
    const identical = new Map<string, number>();
    const timed = async (what: string, run: () => Promise<Map<string, Uint8Array>>, bytes: number, chunks: number): Promise<{ ms: number; cpuMs: number }> => {
      const sentBefore = host.chunksSent;
      const cpu = process.cpuUsage();
      const start = performance.now();
      const got = await run();
      const ms = performance.now() - start;
      if ([...got.values()].reduce((n, b) => n + b.length, 0) !== bytes) throw new Error(`${what}: bytes missing`);
      if (host.chunksSent - sentBefore !== chunks) throw new Error(`${what}: the host sent ${host.chunksSent - sentBefore} chunks, not ${chunks}`);
      // Byte-identical, checked outside the timing and apart from the SDK's own check: every file's sha256 against
      // the one buildManifest computed from the host's disk.
      for (const [path, body] of got) {
        if (createHash('sha256').update(body).digest('hex') !== diskHash.get(path)) throw new Error(`${what}: ${path} differs from the host's file`);
      }
      identical.set(what, got.size);
      progress(`${what}: ${round(ms)} ms for ${bytes} bytes, ${chunks} chunks from the host`);
      return { ms, cpuMs: cpuMsSince(cpu) };
    };
    const compactChunks = (list: readonly string[]) => chunkLayout(list.map((p) => ({ path: p, size: manifest.files.find((f) => f.path === p)?.size ?? 0 })), chunkSize).length;
    // The machine is shared: HTTP and compact alternate, ROUNDS times; each round's ratio is of two runs side by
    // side. The figures are the best round of each, and the median of the rounds' ratios beside them.
    const rounds: Array<{ http: { ms: number; cpuMs: number }; compact: { ms: number; cpuMs: number } }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const httpRun = await httpOnce();
      const profile = await profiler(r === 0 ? process.env.BENCH_CPU_PROFILE : undefined);
      const compactRun = await timed('compact', () => guest.download(remote, paths, { format: 'compact', chunkSize, useCache: false }), totalBytes, compactChunks(paths));
      await profile.stop();
      rounds.push({ http: httpRun, compact: compactRun });
    }
    const httpMs = Math.min(...rounds.map((r) => r.http.ms));
    const compactMs = Math.min(...rounds.map((r) => r.compact.ms));

    // The seed format on a slice of the project's small files (it moves ~3.6 characters of JSON per byte), and the
    // compact format on the same slice, so that the two are compared on the same bytes as well.
    const seedPaths: string[] = [];
    let seedBytes = 0;
    for (const f of manifest.files) {
      if (f.path === 'assets/big.bin' || seedBytes + f.size > SEED_BYTES) continue;
      seedPaths.push(f.path);
      seedBytes += f.size;
    }
    // (The seed format asks only for the files not complete: empty ones are complete at once.)
    const seedChunks = chunkLayout(manifest.files.filter((f) => seedPaths.includes(f.path) && f.size > 0), 128 * 1024).length;
    const { ms: seedMs, cpuMs: seedCpuMs } = await timed('seed', () => guest.download(remote, seedPaths, { format: 'seed', useCache: false }), seedBytes, seedChunks);
    const { ms: sliceMs, cpuMs: sliceCpuMs } = await timed('compact, seed slice', () => guest.download(remote, seedPaths, { format: 'compact', chunkSize, useCache: false }), seedBytes, compactChunks(seedPaths));

    // Resume: the host's connection drops after a third of the chunks; it reconnects and the guest resumes.
    const resumeChunk = 64 * 1024;
    const big = ['assets/big.bin'];
    const total = chunkLayout(big.map((p) => ({ path: p, size: BIG })), resumeChunk).length;
    const resumeGuest = new FileSyncGuest(await enter(b, people.bob.token, 'guest-resume'));
    await resumeGuest.fetchManifest();
    const slowSource: FileSource = { manifest: source.manifest, read: async (p, o, l) => (await new Promise((r) => setTimeout(r, 2)), source.read(p, o, l)) };
    host.close();
    const resumeHost = new FileSyncHost(hostSession, slowSource);
    await resumeHost.share();
    const download = resumeGuest.download(remote, big, { chunkSize: resumeChunk, stallMs: 1_000, useCache: false });
    while (resumeGuest.chunksReceived < total / 3) await new Promise((r) => setTimeout(r, 5));
    // The SDK's own "end the current connection from outside" (what its heartbeat does to a dead one): it reconnects.
    (hostSession.client as unknown as { abortAttempt: (() => void) | null }).abortAttempt?.();
    await download;
    const rechunked = resumeHost.chunksSent - total;
    progress(`resume: ${total} chunks, ${resumeHost.chunksSent} sent, ${resumeGuest.resumes} resume(s), ${resumeGuest.duplicates} duplicate(s)`);

    const mb = (bytes: number, ms: number) => round(bytes / 1024 / 1024 / (ms / 1000));
    const figures = {
      project: { files: manifest.files.length, bytes: totalBytes },
      /** Files compared byte-identical (sha256 of what arrived vs the host's disk) per transfer kind. */
      identical_files: Object.fromEntries(identical),
      seed_json: { mb_per_s: mb(seedBytes, seedMs) },
      compact: { mb_per_s: mb(totalBytes, compactMs) },
      compact_seed_slice: { mb_per_s: mb(seedBytes, sliceMs) },
      http_baseline: { mb_per_s: mb(totalBytes, httpMs) },
      ratio_compact_to_http: round(mb(totalBytes, compactMs) / mb(totalBytes, httpMs)),
      ratio_median_of_rounds: round(median(rounds.map((r) => r.http.ms / r.compact.ms))),
      rounds: rounds.map((r) => ({ http_mb_per_s: mb(totalBytes, r.http.ms), compact_mb_per_s: mb(totalBytes, r.compact.ms), http_cpu_ms: round(r.http.cpuMs), compact_cpu_ms: round(r.compact.cpuMs) })),
      cpu_ms: { seed_slice: round(seedCpuMs), compact_slice: round(sliceCpuMs) },
      resume: { rechunked },
    };
    printTable('file sync through 2 gateways', [
      { format: 'http baseline (same process)', bytes: totalBytes, ms: round(httpMs), mb_per_s: figures.http_baseline.mb_per_s },
      { format: 'compact (binary, 256 KiB)', bytes: totalBytes, ms: round(compactMs), mb_per_s: figures.compact.mb_per_s },
      { format: 'seed JSON (slice)', bytes: seedBytes, ms: round(seedMs), mb_per_s: figures.seed_json.mb_per_s },
      { format: 'compact (same slice)', bytes: seedBytes, ms: round(sliceMs), mb_per_s: figures.compact_seed_slice.mb_per_s },
    ]);
    console.log(
      `ratio compact/http ${figures.ratio_compact_to_http} (best of ${ROUNDS} rounds each; median of the rounds' ratios ${figures.ratio_median_of_rounds}), compact/seed ${round(figures.compact.mb_per_s / figures.seed_json.mb_per_s)} (same slice: ${round(figures.compact_seed_slice.mb_per_s / figures.seed_json.mb_per_s)}); resume rechunked ${rechunked}; load average ${load.join(' ')} → ${loadavg()
        .map((l) => round(l, 2))
        .join(' ')}`,
    );
    // The fields exactly (writeResult adds `meta`); the load and the CPU calibration are printed.
    console.log(`cpu calibration ms: start ${calibrationStart}, end ${cpuCalibrationMs()}`);
    writeResult('filesync', figures);
  } catch (err) {
    console.error(err);
    throw err;
  } finally {
    process.on('unhandledRejection', () => undefined);
    clients.forEach((c) => c.close());
    http?.close();
    for (const n of nodes) await n.stop();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
