import 'reflect-metadata';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
// 2,000 + 50 MB.

const QUICK = process.env.BENCH_QUICK === '1';
const FILES = QUICK ? 300 : 2_000;
const BIG = (QUICK ? 8 : 50) * 1024 * 1024;
/** The seed format moves ~3.6 characters of JSON per byte: it is measured on a slice of the project. */
const SEED_BYTES = (QUICK ? 4 : 8) * 1024 * 1024;

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
    const httpStart = performance.now();
    let httpBytes = 0;
    const queue = [...paths];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
          const res = await fetch(`http://127.0.0.1:${port}/${encodeURIComponent(p)}`);
          if (!res.ok) throw new Error(`HTTP ${res.status} for ${p}`);
          const body = await res.arrayBuffer();
          httpBytes += body.byteLength;
        }
      }),
    );
    const httpMs = performance.now() - httpStart;
    if (httpBytes !== totalBytes) throw new Error(`HTTP got ${httpBytes} of ${totalBytes} bytes`);
    progress(`http: ${round(httpMs)} ms`);

    const compactStart = performance.now();
    const got = await guest.download(remote, paths, { format: 'compact', chunkSize: Number(process.env.BENCH_CHUNK ?? 256 * 1024) });
    const compactMs = performance.now() - compactStart;
    if ([...got.values()].reduce((n, b) => n + b.length, 0) !== totalBytes) throw new Error('compact: bytes missing');
    progress(`compact: ${round(compactMs)} ms`);

    const seedPaths: string[] = [];
    let seedBytes = 0;
    for (const f of manifest.files) {
      if (f.path === 'assets/big.bin' || seedBytes + f.size > SEED_BYTES) continue;
      seedPaths.push(f.path);
      seedBytes += f.size;
    }
    const seedStart = performance.now();
    await guest.download(remote, seedPaths, { format: 'seed' });
    const seedMs = performance.now() - seedStart;
    progress(`seed: ${round(seedMs)} ms for ${seedBytes} bytes`);

    // Resume: the host's connection drops after a third of the chunks; it reconnects and the guest resumes.
    const chunkSize = 64 * 1024;
    const big = ['assets/big.bin'];
    const total = chunkLayout(big.map((p) => ({ path: p, size: BIG })), chunkSize).length;
    const resumeGuest = new FileSyncGuest(await enter(b, people.bob.token, 'guest-resume'));
    await resumeGuest.fetchManifest();
    const sentBefore = host.chunksSent;
    const slowSource: FileSource = { manifest: source.manifest, read: async (p, o, l) => (await new Promise((r) => setTimeout(r, 2)), source.read(p, o, l)) };
    host.close();
    const resumeHost = new FileSyncHost(hostSession, slowSource);
    await resumeHost.share();
    const download = resumeGuest.download(remote, big, { chunkSize, stallMs: 1_000 });
    while (resumeGuest.chunksReceived < total / 3) await new Promise((r) => setTimeout(r, 5));
    // The SDK's own "end the current connection from outside" (what its heartbeat does to a dead one): it reconnects.
    (hostSession.client as unknown as { abortAttempt: (() => void) | null }).abortAttempt?.();
    await download;
    const rechunked = resumeHost.chunksSent - total;
    progress(`resume: ${total} chunks, ${resumeHost.chunksSent} sent, ${resumeGuest.resumes} resume(s), ${resumeGuest.duplicates} duplicate(s)`);
    void sentBefore;

    const mb = (bytes: number, ms: number) => round(bytes / 1024 / 1024 / (ms / 1000));
    const figures = {
      project: { files: manifest.files.length, bytes: totalBytes },
      seed_json: { mb_per_s: mb(seedBytes, seedMs) },
      compact: { mb_per_s: mb(totalBytes, compactMs) },
      http_baseline: { mb_per_s: mb(totalBytes, httpMs) },
      ratio_compact_to_http: round(mb(totalBytes, compactMs) / mb(totalBytes, httpMs)),
      resume: { rechunked },
    };
    printTable('file sync through 2 gateways', [
      { format: 'http baseline (same process)', bytes: totalBytes, ms: round(httpMs), mb_per_s: figures.http_baseline.mb_per_s },
      { format: 'compact (binary, 256 KiB)', bytes: totalBytes, ms: round(compactMs), mb_per_s: figures.compact.mb_per_s },
      { format: 'seed JSON', bytes: seedBytes, ms: round(seedMs), mb_per_s: figures.seed_json.mb_per_s },
    ]);
    console.log(`ratio compact/http ${figures.ratio_compact_to_http}, compact/seed ${round(figures.compact.mb_per_s / figures.seed_json.mb_per_s)}; resume rechunked ${rechunked}; load average ${load.join(' ')}`);
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
