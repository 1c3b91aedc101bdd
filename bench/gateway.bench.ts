// npm run bench:gateway — the Socket.IO edge under load, deployed as in production: one gateway process and one
// process of each service, on the real Postgres and Redis; clients are real socket.io clients in this process.
//   idle:        N idle connections on one gateway process → heap bytes per connection (from /metrics)
//   session_200: 200 members in one session, 50 typists at 2 ops/s each, every member moving its cursor once a
//                second → committed ops/s and edit→peer latency (typist stamps the send time; peers measure)
//   session_200_no_cursors: the same without the cursor traffic (how much of the tail presence adds)
//   chat_fanout: 200 members, 20 senders → chat deliveries/s
//   voice_relay: 100 pairs (one member on each gateway with BENCH_GATEWAYS=2), 10 ICE signals/s each → sender→peer
//                latency of relayed signals (BENCH_ONLY=voice_relay runs only this, into gateway-voice.json)
// For each: the gateway's CPU per frame delivered to a client (process CPU from /metrics over the window, divided
// by every frame the clients received: pushes and acks), its event-loop lag and GC pauses over the window, and
// the bench process's own event-loop delay (the clients run here: their stalls are part of any latency measured).
// BENCH_QUICK=1 runs a short version (< 60 s). Writes bench/results/gateway.json. BENCH_NODE_OPTIONS is passed to
// every Chorus process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where the CPU goes).
import 'reflect-metadata';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { connect, post, type Json } from './lib/edge';
import { cpuCalibrationMs, percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_GATEWAYS=2: the members alternate between two gateway processes (pushes cross nodes); CPU is summed. */
const GATEWAYS = Number(process.env.BENCH_GATEWAYS ?? 1);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE ?? (QUICK ? 2_000 : 10_000));
const MEMBERS = 200;
const TYPISTS = 50;
const EDIT_SECONDS = QUICK ? 10 : 30;


async function scrape(base: string): Promise<string[]> {
  return (await (await fetch(`${base}/metrics`)).text()).split('\n');
}

/** The sum of a metric's samples whose line starts with `name` (all label sets, or those the prefix names). */
function sample(lines: readonly string[], name: string): number {
  return lines.filter((l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{')).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function heapUsed(base: string): Promise<number> {
  return sample(await scrape(base), 'chorus_nodejs_heap_size_used_bytes');
}

/**
 * What the gateway process spent over a window: CPU, GC pauses, event-loop lag. prom-client resets its
 * event-loop histogram at every scrape, so the lag read at `end()` covers exactly the window.
 */
async function gatewayWindow(bases: readonly string[]): Promise<{ end(frames: number): Promise<Json> }> {
  const all = async () => (await Promise.all(bases.map(scrape))).flat();
  const before = await all();
  const cpu0 = sample(before, 'chorus_process_cpu_seconds_total');
  const gc0 = sample(before, 'chorus_nodejs_gc_duration_seconds_sum');
  const gcN0 = sample(before, 'chorus_nodejs_gc_duration_seconds_count');
  return {
    async end(frames: number): Promise<Json> {
      const after = await all();
      const cpu = sample(after, 'chorus_process_cpu_seconds_total') - cpu0;
      const worst = (name: string) => Math.max(0, ...after.filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).map((l) => Number(l.split(' ').pop())));
      return {
        cpu_s: round(cpu, 2),
        frames,
        cpu_us_per_frame: round((cpu * 1e6) / Math.max(1, frames), 2),
        eventloop_lag_p99_ms: round(worst('chorus_nodejs_eventloop_lag_p99_seconds') * 1000, 1),
        eventloop_lag_max_ms: round(worst('chorus_nodejs_eventloop_lag_max_seconds') * 1000, 1),
        gc_pause_ms: round((sample(after, 'chorus_nodejs_gc_duration_seconds_sum') - gc0) * 1000, 1),
        gc_count: sample(after, 'chorus_nodejs_gc_duration_seconds_count') - gcN0,
        // Where an edit's time goes on the server: the gateway's request-to-ack time, and the part of it spent
        // in the transport round trip to the conflict service (queueing on both sides and the commit included).
        submit_op_ack_p50_ms: round(histogramQuantile(before, after, 'chorus_ws_ack_seconds', 'type="submit_op"', 0.5), 1),
        submit_op_ack_p99_ms: round(histogramQuantile(before, after, 'chorus_ws_ack_seconds', 'type="submit_op"', 0.99), 1),
        op_submit_transport_p50_ms: round(histogramQuantile(before, after, 'chorus_transport_request_seconds', 'pattern="op.submit"', 0.5), 1),
        op_submit_transport_p99_ms: round(histogramQuantile(before, after, 'chorus_transport_request_seconds', 'pattern="op.submit"', 0.99), 1),
        presence_update_transport_p99_ms: round(histogramQuantile(before, after, 'chorus_transport_request_seconds', 'pattern="presence.update"', 0.99), 1),
      };
    },
  };
}

/**
 * A quantile of a Prometheus histogram over a window: the bucket counts of `after` less those of `before` (all
 * series whose labels include `match`), linearly interpolated inside the bucket (as histogram_quantile does).
 */
function histogramQuantile(before: readonly string[], after: readonly string[], name: string, match: string, q: number): number {
  const buckets = (lines: readonly string[]) => {
    const out = new Map<number, number>();
    for (const l of lines) {
      if (!l.startsWith(`${name}_bucket{`) || !l.includes(match)) continue;
      const le = /le="([^"]+)"/.exec(l)?.[1];
      if (le === undefined) continue;
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      out.set(bound, (out.get(bound) ?? 0) + Number(l.split(' ').pop()));
    }
    return out;
  };
  const b0 = buckets(before);
  const delta = [...buckets(after)].map(([le, n]) => [le, n - (b0.get(le) ?? 0)] as const).sort((x, y) => x[0] - y[0]);
  const total = delta.at(-1)?.[1] ?? 0;
  if (total === 0) return 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, n] of delta) {
    if (n >= rank) {
      if (!Number.isFinite(le)) return lower * 1000;
      return (lower + ((le - lower) * (rank - below)) / Math.max(1, n - below)) * 1000;
    }
    lower = le;
    below = n;
  }
  return lower * 1000;
}

/** This process's event-loop delay over a window (the clients' own stalls). */
function benchLoopWindow(): { end(): Json } {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  return {
    end(): Json {
      h.disable();
      return { eventloop_p99_ms: round(h.percentile(99) / 1e6, 1), eventloop_max_ms: round(h.max / 1e6, 1) };
    },
  };
}

/** Counts every frame the members receive: pushes of any type, and acks (counted by the senders). */
function countFrames(members: readonly Member[]): { readonly count: () => number; ack(): void } {
  let frames = 0;
  for (const m of members) m.socket.onAny(() => void frames++);
  return { count: () => frames, ack: () => void frames++ };
}

/** The lowest of a few samples: garbage not yet collected only ever adds to the heap. */
async function settledHeap(base: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 6; i++) {
    samples.push(await heapUsed(base));
    await new Promise((r) => setTimeout(r, 500));
  }
  return Math.min(...samples);
}

async function idle(base: string, token: string): Promise<{ connections: number; heap_bytes_per_conn: number }> {
  const before = await settledHeap(base);
  const sockets: Socket[] = [];
  progress(`idle: opening ${IDLE_CONNECTIONS} connections`);
  for (let i = 0; i < IDLE_CONNECTIONS; i += 250) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(250, IDLE_CONNECTIONS - i) }, () => connect(base, token)))));
    if ((i / 250) % 8 === 0) progress(`idle: ${sockets.length} connected`);
  }
  const after = await settledHeap(base);
  sockets.forEach((s) => s.close());
  return { connections: sockets.length, heap_bytes_per_conn: round((after - before) / sockets.length, 0) };
}

interface Member {
  socket: Socket;
  peer: string;
}

async function joinMembers(bases: readonly string[], label: string, count: number): Promise<{ sessionId: string; members: Member[] }> {
  const base = bases[0];
  const owner = (await post(base, '/api/v1/auth/dev-token', { user_id: `${label}-owner`, display_name: 'Owner' })).access_token as string;
  const sessionId = (await post(base, '/api/v1/collaboration/sessions', { name: label, max_participants: 1_000 }, owner)).session_id as string;
  const code = (await post(base, `/api/v1/collaboration/sessions/${sessionId}/invite`, { role: 'editor' }, owner)).code as string;
  const members: Member[] = [];
  for (let i = 0; i < count; i += 20) {
    members.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(20, count - i) }, async (_, j) => {
          const n = i + j;
          const token = (await post(base, '/api/v1/auth/dev-token', { user_id: `${label}-u${n}`, display_name: `User ${n}` })).access_token as string;
          const joinToken = (await post(base, `/api/v1/collaboration/invites/${code}/redeem`, {}, token)).join_token as string;
          const socket = await connect(bases[n % bases.length], token);
          const peer = `${label}-p${n}`;
          const joined = (await socket.timeout(30_000).emitWithAck('join', { session_id: sessionId, peer_id: peer, join_token: joinToken })) as Json;
          if (joined.type !== 'joined') throw new Error(`join: ${JSON.stringify(joined)}`);
          return { socket, peer };
        }),
      )),
    );
    if (i % 100 === 0) progress(`${label}: ${members.length}/${count} members joined`);
  }
  return { sessionId, members };
}

async function session200(bases: readonly string[], label: string, cursors: boolean): Promise<Json> {
  const { sessionId, members } = await joinMembers(bases, label, MEMBERS);
  const doc = 'src/main.rs';
  await Promise.all(members.map((m) => m.socket.timeout(30_000).emitWithAck('open_document', { session_id: sessionId, doc_id: doc })));
  const latencies: number[] = [];
  const ackLatencies: number[] = [];
  const trace: Array<[number, number]> = [];
  let delivered = 0;
  let version = 0;
  let committed = 0;
  let errors = 0;
  for (const m of members) {
    m.socket.on('op', (op: { version: number; op: unknown[] }) => {
      delivered++;
      version = Math.max(version, op.version);
      // The typist's send time travels in the inserted text (after transformation a skip may precede it).
      const inserted = op.op.find((c): c is string => typeof c === 'string');
      const stamp = inserted ? Number(inserted.split('|')[1]) : NaN;
      if (Number.isFinite(stamp)) {
        latencies.push(performance.now() - stamp);
        if (process.env.BENCH_TRACE) trace.push([Math.floor(stamp / 1000), performance.now() - stamp]);
      }
    });
  }
  progress(`${label}: ${TYPISTS} typists × 2 ops/s${cursors ? ` and ${MEMBERS} cursors × 1/s` : ''} for ${EDIT_SECONDS} s`);
  const frames = countFrames(members);
  const deadline = Date.now() + EDIT_SECONDS * 1000;
  const typist = async (m: Member, i: number) => {
    let seq = 0;
    await new Promise((r) => setTimeout(r, (i * 500) / TYPISTS));
    while (Date.now() < deadline) {
      const next = Date.now() + 500;
      // Inserting at the start is valid at every version, so the typist needs no OT state to stay correct.
      const sent = performance.now();
      const reply = (await m.socket.timeout(10_000).emitWithAck('submit_op', { session_id: sessionId, doc_id: doc, version, op: [`|${sent}|`], seq: ++seq }).catch(() => ({ type: 'error' }))) as Json;
      frames.ack();
      if (reply.type === 'op_ack') {
        ackLatencies.push(performance.now() - sent);
        committed++;
        version = Math.max(version, reply.version as number);
      } else errors++;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  };
  const cursor = async (m: Member, i: number) => {
    await new Promise((r) => setTimeout(r, (i * 1000) / MEMBERS));
    while (Date.now() < deadline) {
      const next = Date.now() + 1000;
      m.socket.emit('presence_update', { session_id: sessionId, doc_id: doc, selection: { anchor: i, head: i } }, () => frames.ack());
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  };
  const gateway = await gatewayWindow(bases);
  const loop = benchLoopWindow();
  const started = performance.now();
  await Promise.all([...members.slice(0, TYPISTS).map(typist), ...(cursors ? members.map(cursor) : [])]);
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const gatewayFigures = await gateway.end(frames.count());
  const benchFigures = loop.end();
  members.forEach((m) => m.socket.close());
  if (process.env.BENCH_TRACE) {
    const bySecond = new Map<number, number[]>();
    for (const [sec, ms] of trace) bySecond.set(sec, [...(bySecond.get(sec) ?? []), ms]);
    for (const [sec, list] of [...bySecond].sort((a, b) => a[0] - b[0])) progress(`t=${sec}s n=${list.length} p50=${round(percentile(list, 50))} p99=${round(percentile(list, 99))}`);
  }
  return {
    members: MEMBERS,
    typists: TYPISTS,
    ops_per_s: round(committed / seconds, 1),
    edit_to_peer_p50_ms: round(percentile(latencies, 50)),
    edit_to_peer_p99_ms: round(percentile(latencies, 99)),
    edit_to_peer_p999_ms: round(percentile(latencies, 99.9)),
    op_ack_p50_ms: round(percentile(ackLatencies, 50)),
    op_ack_p99_ms: round(percentile(ackLatencies, 99)),
    deliveries: delivered,
    expected_deliveries: committed * (MEMBERS - 1),
    latency_samples: latencies.length,
    errors,
    gateway: gatewayFigures,
    bench_process: benchFigures,
  };
}

async function chatFanout(bases: readonly string[]): Promise<Json> {
  const { sessionId, members } = await joinMembers(bases, 'chat', MEMBERS);
  const frames = countFrames(members);
  let delivered = 0;
  for (const m of members) m.socket.on('chat_message', () => delivered++);
  const senders = members.slice(0, 20);
  const perSender = 10;
  const expected = senders.length * perSender * (MEMBERS - 1);
  progress(`chat_fanout: ${senders.length} senders × ${perSender} messages to ${MEMBERS} members (${expected} deliveries)`);
  const gateway = await gatewayWindow(bases);
  const started = performance.now();
  await Promise.all(senders.map((s) => Promise.all(Array.from({ length: perSender }, (_, i) => s.socket.timeout(10_000).emitWithAck('chat_message', { session_id: sessionId, message: `m${i}` }).then(() => frames.ack())))));
  const deadline = Date.now() + 30_000;
  while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const seconds = (performance.now() - started) / 1000;
  const gatewayFigures = await gateway.end(frames.count());
  members.forEach((m) => m.socket.close());
  return { members: MEMBERS, deliveries_per_s: round(delivered / seconds, 0), delivered, expected, gateway: gatewayFigures };
}

/** voice_relay: pairs of voice members, one on each gateway (members alternate), each in a room of its own. */
const VOICE_PAIRS = Number(process.env.BENCH_VOICE_PAIRS ?? 100);
/** Signals per second per sender: 100 pairs × 10/s is the goal's 1,000 signals/s (within the voice budget, 20/s). */
const VOICE_RATE = Number(process.env.BENCH_VOICE_RATE ?? 10);

/**
 * voice_relay: the first member of each pair sends ICE candidates to the second at VOICE_RATE per second; the
 * send time (performance.now(), one process) travels in the candidate, so the receiver measures sender→peer
 * latency through the gateway, the presence check (voice.relay) and the fan-out to the other gateway.
 */
async function voiceRelay(bases: readonly string[]): Promise<Json> {
  const { sessionId, members } = await joinMembers(bases, 'voice', VOICE_PAIRS * 2);
  await Promise.all(members.map((m, i) => m.socket.timeout(30_000).emitWithAck('voice_join', { session_id: sessionId, room: `pair-${Math.floor(i / 2)}` })));
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  for (const m of members) {
    m.socket.on('voice_ice', (signal: { candidate: { candidate: string } }) => {
      const stamp = Number(signal.candidate.candidate.split(' ').pop());
      if (Number.isFinite(stamp)) latencies.push(performance.now() - stamp);
    });
  }
  const seconds = QUICK ? 10 : 20;
  progress(`voice_relay: ${VOICE_PAIRS} pairs across ${bases.length} gateway(s), ${VOICE_RATE} signals/s each for ${seconds} s`);
  const frames = countFrames(members);
  const gateway = await gatewayWindow(bases);
  const deadline = Date.now() + seconds * 1000;
  const started = performance.now();
  const sender = async (from: Member, to: Member, i: number) => {
    await new Promise((r) => setTimeout(r, (i * 1000) / VOICE_RATE / VOICE_PAIRS));
    while (Date.now() < deadline) {
      const next = Date.now() + 1000 / VOICE_RATE;
      sent++;
      const candidate = { candidate: `candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host ${performance.now()}`, sdp_mid: '0', sdp_mline_index: 0 };
      from.socket.emit('voice_ice', { session_id: sessionId, to_peer_id: to.peer, candidate }, (reply: Json) => {
        frames.ack();
        if (reply.type !== 'voice_relayed') errors++;
      });
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  };
  await Promise.all(Array.from({ length: VOICE_PAIRS }, (_, k) => sender(members[2 * k], members[2 * k + 1], k)));
  const elapsed = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const gatewayFigures = await gateway.end(frames.count());
  members.forEach((m) => m.socket.close());
  return {
    pairs: VOICE_PAIRS,
    gateways: bases.length,
    signals_per_s: round(sent / elapsed, 0),
    delivered: latencies.length,
    sent,
    errors,
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    p999_ms: round(percentile(latencies, 99.9)),
    gateway: gatewayFigures,
  };
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  progress(`calibration: ${calibrationStart} ms for the fixed work (the machine's speed now)`);
  const topology = `${GATEWAYS} gateway process${GATEWAYS > 1 ? 'es' : ''} + 1 process of each service`;
  progress(`starting Chorus: ${topology}, real Postgres and Redis`);
  const cluster = await startProcessCluster('bench_gateway', { gateways: GATEWAYS, replicas: 1, extraEnv: { MAX_CONNECTIONS_PER_USER: '10000', TRUSTED_PROXIES: '1', ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}) } });
  try {
    const base = cluster.gateways[0];
    if (process.env.BENCH_ONLY === 'voice_relay') {
      const voice = await voiceRelay(cluster.gateways);
      printTable(`Gateway voice_relay (${topology})`, [{ scenario: 'voice_relay', pairs: voice.pairs as number, 'signals/s': voice.signals_per_s as number, 'p50 ms': voice.p50_ms as number, 'p99 ms': voice.p99_ms as number, errors: voice.errors as number, goal: 'p99 ≤ 20 ms at 1,000 signals/s' }]);
      writeResult(process.env.BENCH_RESULT ?? 'gateway-voice', { path: `${topology} on real Postgres + Redis`, gateways: GATEWAYS, calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() }, voice_relay: voice });
      return;
    }
    const token = (await post(base, '/api/v1/auth/dev-token', { user_id: 'idle', display_name: 'Idle' })).access_token as string;
    const idleResult = await idle(base, token);
    const bases = cluster.gateways;
    const edit = await session200(bases, 'session_200', true);
    const quiet = await session200(bases, 'session_200_no_cursors', false);
    const chat = await chatFanout(bases);
    const voice = await voiceRelay(bases);
    const gw = (r: Json) => r.gateway as Json;
    printTable(`Gateway (${topology}; real Postgres + Redis; clients in the bench process)`, [
      { scenario: 'idle', connections: idleResult.connections, 'heap bytes/conn': idleResult.heap_bytes_per_conn, goal: '≤ 20,000 at 10,000 conns' },
      ...[edit, quiet].map((r, i) => ({
        scenario: i === 0 ? 'session_200' : 'session_200_no_cursors',
        'ops/s': r.ops_per_s as number,
        'p50 ms': r.edit_to_peer_p50_ms as number,
        'p99 ms': r.edit_to_peer_p99_ms as number,
        'ack p99 ms': r.op_ack_p99_ms as number,
        'gw ack p99 ms': gw(r).submit_op_ack_p99_ms as number,
        'op.submit p99 ms': gw(r).op_submit_transport_p99_ms as number,
        'gw µs/frame': gw(r).cpu_us_per_frame as number,
        'gw loop p99 ms': gw(r).eventloop_lag_p99_ms as number,
        'gw GC ms': gw(r).gc_pause_ms as number,
        'bench loop p99 ms': (r.bench_process as Json).eventloop_p99_ms as number,
        goal: i === 0 ? 'edit→peer p99 ≤ 100 ms' : '',
      })),
      { scenario: 'chat_fanout', 'deliveries/s': chat.deliveries_per_s as number, delivered: `${chat.delivered as number}/${chat.expected as number}`, 'gw µs/frame': gw(chat).cpu_us_per_frame as number },
      { scenario: 'voice_relay', 'signals/s': voice.signals_per_s as number, 'p50 ms': voice.p50_ms as number, 'p99 ms': voice.p99_ms as number, 'gw µs/frame': gw(voice).cpu_us_per_frame as number, goal: 'p99 ≤ 20 ms at 1,000 signals/s' },
    ]);
    writeResult(process.env.BENCH_RESULT ?? 'gateway', {
      path: `${topology} (Redis Streams transport) on real Postgres + Redis`,
      gateways: GATEWAYS,
      tree: process.env.BENCH_TREE ?? 'this checkout',
      calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() },
      idle: idleResult,
      session_200: edit,
      session_200_no_cursors: quiet,
      chat_fanout: chat,
      voice_relay: voice,
    });
  } finally {
    // A profiled process writes its profile when it exits: let every one shut down on SIGTERM first.
    if (process.env.BENCH_NODE_OPTIONS) await Promise.all([...cluster.processes.values()].map((p) => p.stop('SIGTERM')));
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
