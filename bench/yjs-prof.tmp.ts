// npm run bench:yjs — Chorus Yjs documents against Hocuspocus on the same workload, in the same run.
//
// Workload: 50 clients typing into ONE Yjs document, half connected to each of 2 instances, every client inserting a
// unique character every BENCH_YJS_INTERVAL_MS (default 400 ms, ~2.5 keystrokes/s each, 125 updates/s in total)
// for BENCH_YJS_SECONDS (default 20; BENCH_QUICK=1: 8). Each client is a Y.Doc and a plain `ws` socket speaking
// y-protocols — the same client code for both servers, only the framing differs:
//   - Chorus: 2 gateways + conflict, session and presence processes (real Postgres and Redis), the stock-provider path
//     /yjs/<session>/<doc>?join_token=… (binary y-protocols frames). Every update is durable in Postgres before it
//     is pushed.
//   - Hocuspocus: 2 processes of @hocuspocus/server + @hocuspocus/extension-redis on the same Redis (Hocuspocus frames:
//     the document name, then the y-protocols message; an auth frame first). Documents in memory, no persistence.
// Figures: updates_per_s = unique updates applied by every other client, per second of the run (to the last
// delivery); update_to_peer_p99_ms = from the sender's insert to a peer's Y.Doc having it (every peer, all pairs);
// lost_updates = updates some client still lacks BENCH_YJS_DRAIN_MS after the typing stopped.
// The 50 Y.Docs live in this process: on a 2-core machine shared with other work the client side costs the same
// for both servers; read the ratio, not the absolute figures. Writes bench/results/yjs.json.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { startTsProcess, testRedisUrl, uniqueRedisPrefix, type RunningProcess } from '@chorus/testing';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { setUpSession } from '../test/e2e/support/scenario';
import { cpuCalibrationMs, percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const CLIENTS = Number(process.env.BENCH_YJS_CLIENTS ?? 50);
const INTERVAL_MS = Number(process.env.BENCH_YJS_INTERVAL_MS ?? 400);
const SECONDS = Number(process.env.BENCH_YJS_SECONDS ?? (QUICK ? 8 : 20));
const DRAIN_MS = Number(process.env.BENCH_YJS_DRAIN_MS ?? 5_000);
const DOC = 'bench/shared.md';
const LISTENING = /listening on http:\/\/[^:]+:(\d+)/;

interface Figures {
  updates_per_s: number;
  update_to_peer_p99_ms: number;
  update_to_peer_p50_ms: number;
  lost_updates: number;
  sent: number;
  deliveries: number;
  /** CPU (utime + stime) of the servers' own processes per update sent (Postgres and Redis not included). */
  server_cpu_ms_per_update: number;
  /** CPU of this process (the 50 clients) per update: the same client code for both servers. */
  client_cpu_ms_per_update: number;
}

/** CPU ms (utime + stime) of these processes, from /proc (clock ticks of 10 ms). */
function cpuMs(pids: readonly number[]): number {
  let ms = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // the process ended
    }
  }
  return ms;
}

/** How a client frames y-protocols messages for one server. */
interface Framing {
  url(i: number): Promise<string>;
  /** Frames sent right after the socket opens (auth, sync step 1). */
  hello(doc: Y.Doc): Uint8Array[];
  wrap(message: Uint8Array): Uint8Array;
  /** The y-protocols message inside a frame, or undefined for frames of no interest (auth replies, sync status). */
  unwrap(frame: Uint8Array): Uint8Array | undefined;
}

function encode(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

const step1 = (doc: Y.Doc) => encode((e) => (encoding.writeVarUint(e, 0), syncProtocol.writeSyncStep1(e, doc)));
const updateMessage = (u: Uint8Array) => encode((e) => (encoding.writeVarUint(e, 0), syncProtocol.writeUpdate(e, u)));

/** A unique character per (client, n): supplementary-plane code points, 4,000 per client. */
const charOf = (client: number, n: number) => String.fromCodePoint(0x20000 + client * 4_000 + n);
const keyOf = (ch: string) => ch.codePointAt(0)! - 0x20000;

class BenchClient {
  readonly doc = new Y.Doc();
  readonly text = this.doc.getText('t');
  private ws!: WebSocket;
  private n = 0;
  synced = false;

  constructor(
    readonly index: number,
    private readonly framing: Framing,
    private readonly sentAt: Map<number, number>,
    private readonly latencies: number[],
    private readonly counts: { deliveries: number; lastDelivery: number },
  ) {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this) return;
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(this.framing.wrap(updateMessage(update)));
    });
    this.text.observe((event) => {
      if (event.transaction.origin !== this) return;
      const now = performance.now();
      for (const d of event.delta) {
        if (typeof d.insert !== 'string') continue;
        for (const ch of d.insert) {
          const key = keyOf(ch);
          if (Math.floor(key / 4_000) === this.index) continue;
          const sent = this.sentAt.get(key);
          if (sent !== undefined) this.latencies.push(now - sent);
          this.counts.deliveries++;
          this.counts.lastDelivery = now;
        }
      }
    });
  }

  async open(): Promise<void> {
    this.ws = new WebSocket(await this.framing.url(this.index), { perMessageDeflate: false });
    this.ws.binaryType = 'nodebuffer';
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    this.ws.on('message', (data: Buffer) => this.onFrame(new Uint8Array(data)));
    for (const frame of this.framing.hello(this.doc)) this.ws.send(frame);
  }

  private onFrame(frame: Uint8Array): void {
    const message = this.framing.unwrap(frame);
    if (!message) return;
    const d = decoding.createDecoder(message);
    const type = decoding.readVarUint(d);
    // 0 sync; Hocuspocus's 4 is a sync reply (the same body, no new step 1 asked).
    if (type !== 0 && type !== 4) return;
    const reply = encoding.createEncoder();
    encoding.writeVarUint(reply, 0);
    const sync = syncProtocol.readSyncMessage(d, reply, this.doc, this);
    if (sync === syncProtocol.messageYjsSyncStep2) this.synced = true;
    if (encoding.length(reply) > 1) this.ws.send(this.framing.wrap(encoding.toUint8Array(reply)));
  }

  type(): void {
    const ch = charOf(this.index, this.n++);
    this.sentAt.set(keyOf(ch), performance.now());
    this.text.insert(this.text.length, ch);
  }

  get typed(): number {
    return this.n;
  }

  close(): void {
    this.ws?.close();
    this.doc.destroy();
  }
}

async function measure(label: string, framing: Framing, serverPids: readonly number[]): Promise<Figures> {
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const counts = { deliveries: 0, lastDelivery: 0 };
  const clients = Array.from({ length: CLIENTS }, (_, i) => new BenchClient(i, framing, sentAt, latencies, counts));
  for (const c of clients) await c.open();
  const syncDeadline = Date.now() + 30_000;
  while (!clients.every((c) => c.synced)) {
    if (Date.now() > syncDeadline) throw new Error(`${label}: ${clients.filter((c) => !c.synced).length} clients not synced`);
    await new Promise((r) => setTimeout(r, 50));
  }
  progress(`${label}: ${CLIENTS} clients synced; typing for ${SECONDS} s`);
  const started = performance.now();
  const cpu0 = { server: cpuMs(serverPids), client: cpuMs([process.pid]) };
  // Each client on its own timer, phases spread so the keystrokes do not all land at once.
  const timers = clients.map((c, i) => {
    let timer: NodeJS.Timeout | undefined;
    const first = setTimeout(() => {
      c.type();
      timer = setInterval(() => c.type(), INTERVAL_MS);
    }, (i * INTERVAL_MS) / CLIENTS);
    return () => (clearTimeout(first), clearInterval(timer));
  });
  await new Promise((r) => setTimeout(r, SECONDS * 1_000));
  timers.forEach((stop) => stop());
  const sent = clients.reduce((n, c) => n + c.typed, 0);
  const expected = sent * (CLIENTS - 1);
  const drainEnd = Date.now() + DRAIN_MS;
  while (counts.deliveries < expected && Date.now() < drainEnd) await new Promise((r) => setTimeout(r, 50));
  const cpu1 = { server: cpuMs(serverPids), client: cpuMs([process.pid]) };
  // Lost: updates some client lacks.
  const present = clients.map((c) => new Set([...c.text.toString()].map(keyOf)));
  let lost = 0;
  for (const key of sentAt.keys()) if (present.some((s) => !s.has(key))) lost++;
  const elapsedS = (Math.max(counts.lastDelivery, started) - started) / 1_000;
  clients.forEach((c) => c.close());
  return {
    updates_per_s: round((sent - lost) / Math.max(elapsedS, SECONDS)),
    update_to_peer_p99_ms: round(percentile(latencies, 99), 1),
    update_to_peer_p50_ms: round(percentile(latencies, 50), 1),
    lost_updates: lost,
    sent,
    deliveries: counts.deliveries,
    server_cpu_ms_per_update: round((cpu1.server - cpu0.server) / Math.max(sent, 1)),
    client_cpu_ms_per_update: round((cpu1.client - cpu0.client) / Math.max(sent, 1)),
  };
}

async function waitListening(p: RunningProcess): Promise<string> {
  const m = await p.waitForLine(LISTENING, 60_000);
  return `ws://127.0.0.1:${m[1]}`;
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  const loadStart = loadavg();
  progress(`bench:yjs — ${CLIENTS} clients, one keystroke each every ${INTERVAL_MS} ms, ${SECONDS} s; load average ${loadStart.map((l) => l.toFixed(2)).join(' ')}`);

  // Hocuspocus first (its processes are stopped before Chorus starts: neither competes with the other's idle processes).
  const prefix = uniqueRedisPrefix('hocuspocus_bench');
  const hp = [1, 2].map(() => startTsProcess('bench/yjs/hocuspocus-server.ts', { REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix }));
  let hocuspocus: Figures;
  try {
    const urls = await Promise.all(hp.map(waitListening));
    hocuspocus = await measure('hocuspocus', {
      url: async (i) => urls[i % 2],
      hello: (doc) => [
        // Auth (type 2, token 0): no onAuthenticate hook, any token is accepted. Then sync step 1.
        encode((e) => (encoding.writeVarString(e, DOC), encoding.writeVarUint(e, 2), encoding.writeVarUint(e, 0), encoding.writeVarString(e, 'bench'))),
        encode((e) => (encoding.writeVarString(e, DOC), encoding.writeUint8Array(e, step1(doc)))),
      ],
      wrap: (m) => encode((e) => (encoding.writeVarString(e, DOC), encoding.writeUint8Array(e, m))),
      unwrap: (frame) => {
        const d = decoding.createDecoder(frame);
        decoding.readVarString(d);
        return frame.subarray(d.pos);
      },
    }, hp.map((p) => p.child.pid ?? 0));
  } finally {
    await Promise.all(hp.map((p) => p.stop('SIGTERM')));
  }
  progress(`hocuspocus: ${JSON.stringify(hocuspocus)}`);

  // 25 sockets per user: over the default per-user cap (20) since /yjs/ sockets count against it; Hocuspocus has none.
  const cluster = await startProcessCluster('yjs_bench', { gateways: 2, replicas: 1, extraEnv: { MAX_CONNECTIONS_PER_USER: '10000' } });
  let chorus: Figures;
  try {
    const people = await setUpSession(cluster.gateways[0], 'yjs-bench');
    const tokens = [people.alice.joinToken, people.bob.joinToken];
    chorus = await measure('chorus', {
      url: async (i) => `${cluster.gateways[i % 2].replace('http', 'ws')}/yjs/${people.sessionId}/${encodeURIComponent(DOC)}?join_token=${await tokens[i % 2]()}`,
      hello: (doc) => [step1(doc)],
      wrap: (m) => m,
      unwrap: (frame) => frame,
    }, [...cluster.processes.values()].map((p) => p.child.pid ?? 0));
  } finally {
    await Promise.all([...cluster.processes.values()].map((p) => p.stop('SIGTERM')));
    await cluster.stop();
  }
  progress(`chorus: ${JSON.stringify(chorus)}`);

  const loadEnd = loadavg();
  const ratio = round(chorus.updates_per_s / Math.max(hocuspocus.updates_per_s, 0.001));
  printTable(`bench:yjs (${CLIENTS} clients on one document across 2 instances, ${SECONDS} s)`, [
    ...(
      [
        ['chorus', chorus],
        ['hocuspocus', hocuspocus],
      ] as const
    ).map(([server, f]) => ({ server, 'updates/s': f.updates_per_s, 'p50 ms': f.update_to_peer_p50_ms, 'p99 ms': f.update_to_peer_p99_ms, lost: f.lost_updates, sent: f.sent, 'server cpu ms/update': f.server_cpu_ms_per_update, 'client cpu ms/update': f.client_cpu_ms_per_update })),
  ]);
  console.log(`ratio_updates (chorus / hocuspocus): ${ratio}; load average start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`);
  writeResult('yjs', {
    chorus,
    hocuspocus,
    ratio_updates: ratio,
    workload: { clients: CLIENTS, instances: 2, interval_ms: INTERVAL_MS, seconds: SECONDS, drain_ms: DRAIN_MS },
    load_average: { start: loadStart.map((l) => round(l)), end: loadEnd.map((l) => round(l)) },
    cpu_calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() },
  });
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
