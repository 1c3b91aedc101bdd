// npm run bench:ws — the plain WebSocket endpoint /ws, deployed as in production: one gateway process and one
// process of each service on the real Postgres and Redis; clients are `ws` clients in this process.
//   idle:          N idle /ws connections (authenticated by header, each greeted with hello) on one gateway
//                  process → heap bytes per connection: the gateway's used heap after a full GC, before and after
//                  (the gateway runs with --inspect on loopback; the bench asks its inspector for the GC and the
//                  heap size — nothing in the product). `heap_bytes_per_conn_no_gc` is bench:gateway's method
//                  (the lowest /metrics sample over 3 s, garbage included), for comparison with its figures.
//   socketio_idle: the same for Socket.IO connections, in the same run, on a second gateway process started
//                  alongside (a fresh heap each: the garbage of one transport's closed connections would otherwise
//                  blur the other's baseline, since a gateway cannot be made to collect it)
// The goal is 20,000 idle /ws connections at ≤ 8 KB of heap each. Open files: this machine's hard limit is
// `ulimit -Hn` (20,000 here) per process, and both the gateway (server ends) and this process (client ends) hold
// one descriptor per connection plus their own, so the default N is 19,000; BENCH_WS_IDLE changes it.
// BENCH_QUICK=1 runs 2,000 of each. Writes bench/results/ws.json (keeping keys other benches wrote there).
import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { RunningProcess } from '@chorus/testing';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { cpuCalibrationMs, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const WS_IDLE = Number(process.env.BENCH_WS_IDLE ?? (QUICK ? 2_000 : 19_000));
const SIO_IDLE = Number(process.env.BENCH_SIO_IDLE ?? (QUICK ? 2_000 : 10_000));
/** MAX_CONNECTIONS_PER_USER is at most 10,000: the connections are spread over users. */
const PER_USER = 5_000;
const BATCH = 250;

async function devToken(base: string, user: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/dev-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: user, display_name: user }) });
  if (!res.ok) throw new Error(`dev-token: ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function metric(base: string, name: string): Promise<number> {
  const lines = (await (await fetch(`${base}/metrics`)).text()).split('\n');
  return lines.filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** The lowest of a few samples: garbage not yet collected only ever adds to the heap. */
async function settledHeap(base: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 6; i++) {
    samples.push(await metric(base, 'chorus_nodejs_heap_size_used_bytes'));
    await new Promise((r) => setTimeout(r, 500));
  }
  return Math.min(...samples);
}

/** The Chrome DevTools protocol of a child started with --inspect: a full GC, and the used heap after it. */
async function inspector(proc: RunningProcess): Promise<{ retainedHeap(): Promise<number>; close(): void }> {
  const [, url] = await proc.waitForLine(/Debugger listening on (ws:\/\/\S+)/);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let next = 0;
  const call = (method: string) =>
    new Promise<Record<string, number>>((resolve) => {
      const id = ++next;
      const onMessage = (data: WebSocket.RawData) => {
        const reply = JSON.parse(data.toString()) as { id?: number; result?: Record<string, number> };
        if (reply.id !== id) return;
        ws.off('message', onMessage);
        resolve(reply.result ?? {});
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method }));
    });
  return {
    async retainedHeap() {
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
      return (await call('Runtime.getHeapUsage')).usedSize;
    },
    close: () => ws.close(),
  };
}

function openWs(base: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    ws.once('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string };
      if (frame.type === 'hello') resolve(ws);
      else reject(new Error(`expected hello, got ${data.toString()}`));
    });
    ws.once('error', reject);
  });
}

function openSocketIo(base: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = io(base, { transports: ['websocket'], auth: { token, protocol_version: 1 }, reconnection: false, forceNew: true });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

/** Opens `n` connections in batches (spread over users), measures the settled heap growth, closes them. */
interface IdleResult {
  connections: number;
  heap_bytes_per_conn: number;
  heap_bytes_per_conn_no_gc: number;
}

async function idle<T>(label: string, base: string, gc: () => Promise<number>, tokens: readonly string[], n: number, open: (token: string) => Promise<T>, close: (c: T) => void): Promise<IdleResult> {
  await waitForConnections(base, 0);
  const before = await settledHeap(base);
  const retainedBefore = await gc();
  const conns: T[] = [];
  progress(`${label}: opening ${n} connections`);
  for (let i = 0; i < n; i += BATCH) {
    const size = Math.min(BATCH, n - i);
    conns.push(...(await Promise.all(Array.from({ length: size }, (_, k) => open(tokens[Math.floor((i + k) / PER_USER)])))));
    if ((i / BATCH) % 8 === 0) progress(`${label}: ${conns.length} connected`);
  }
  await waitForConnections(base, conns.length);
  const after = await settledHeap(base);
  const retainedAfter = await gc();
  progress(`${label}: ${conns.length} connected; heap after a full GC ${round(retainedBefore / 1e6, 1)} MB → ${round(retainedAfter / 1e6, 1)} MB (without: ${round(before / 1e6, 1)} → ${round(after / 1e6, 1)} MB)`);
  conns.forEach(close);
  return { connections: conns.length, heap_bytes_per_conn: round((retainedAfter - retainedBefore) / conns.length, 0), heap_bytes_per_conn_no_gc: round((after - before) / conns.length, 0) };
}

/** Waits until the gateway counts exactly `n` open connections (chorus_ws_connections, both transports). */
async function waitForConnections(base: string, n: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const open = await metric(base, 'chorus_ws_connections');
    if (open === n) return;
    if (Date.now() > deadline) throw new Error(`the gateway counts ${open} connections, expected ${n}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  progress(`calibration: ${calibrationStart} ms for the fixed work (the machine's speed now)`);
  progress('starting Chorus: 2 gateway processes (/ws, socket.io) + 1 process of each service, real Postgres and Redis');
  // Every process of the cluster gets an inspector on a free loopback port; only the gateways' are used.
  process.env.CHORUS_CHILD_NODE_ARGS = `${process.env.CHORUS_CHILD_NODE_ARGS ?? ''} --inspect=127.0.0.1:0`;
  const cluster = await startProcessCluster('bench_ws', { gateways: 2, replicas: 1, extraEnv: { MAX_CONNECTIONS_PER_USER: String(PER_USER) } });
  try {
    const [base, sioBase] = cluster.gateways;
    const users = Math.ceil(Math.max(WS_IDLE, SIO_IDLE) / PER_USER);
    const tokens = await Promise.all(Array.from({ length: users }, (_, i) => devToken(base, `idle-${i}`)));
    const [gc1, gc2] = await Promise.all(['gateway-1', 'gateway-2'].map((name) => inspector(cluster.processes.get(name) as RunningProcess)));
    const ws = await idle('idle /ws', base, () => gc1.retainedHeap(), tokens, WS_IDLE, (t) => openWs(base, t), (c) => c.close());
    const sio = await idle('idle socket.io', sioBase, () => gc2.retainedHeap(), tokens, SIO_IDLE, (t) => openSocketIo(sioBase, t), (c) => c.close());
    gc1.close();
    gc2.close();
    printTable('Idle connections on one gateway process (real Postgres + Redis; clients in the bench process)', [
      { transport: '/ws', connections: ws.connections, 'heap bytes/conn (after GC)': ws.heap_bytes_per_conn, 'no GC': ws.heap_bytes_per_conn_no_gc, goal: '≤ 8,192 at 20,000 conns' },
      { transport: 'socket.io', connections: sio.connections, 'heap bytes/conn (after GC)': sio.heap_bytes_per_conn, 'no GC': sio.heap_bytes_per_conn_no_gc, goal: '' },
    ]);
    // Other parts of this file (channel_fanout) belong to other benches: kept as they are.
    const file = join(__dirname, 'results', 'ws.json');
    const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
    const { meta: _meta, ...kept } = previous;
    writeResult('ws', {
      ...kept,
      path: '2 gateway processes (one per transport) + 1 process of each service (Redis Streams transport) on real Postgres + Redis',
      calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() },
      idle: ws,
      socketio_idle: sio,
    });
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
