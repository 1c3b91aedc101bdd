// npm run bench:channels — one session channel with many subscribers across two gateway processes (and one process
// of each service, real Postgres and Redis), as deployed; the clients are real socket.io clients in this process.
//   channel_fanout: BENCH_SUBSCRIBERS (default 1,000) subscribers, alternating between the two gateways, and two
//   publishers (one per gateway) publishing BENCH_RATE events/s in total (default 100) for BENCH_SECONDS (30) →
//   delivery latency (publish send → event received; one clock, this process), events/s, deliveries/s, and
//   whether every subscriber got every event exactly once, in seq order. `fanout_p*_ms`: from the server's stamp at
//   append to receipt (the fan-out half alone; ms resolution, same machine clock).
// The clients decode every delivery here (100,000/s at the defaults): this process's own event-loop delay is
// reported beside the latency, since its stalls are part of what is measured. BENCH_QUICK=1: 10 s, 200 subscribers.
// Writes bench/results/channels.json.
import 'reflect-metadata';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { cpuCalibrationMs, percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? (QUICK ? 200 : 1_000));
const RATE = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 10 : 30));
/** Connections per user: the session's participant cap is 1,000, and one user may hold several connections. */
const CONNECTIONS_PER_USER = 10;
const CHANNEL = 'x-bench';

type Json = Record<string, unknown>;

/** Members sign in over REST from addresses of their own (TRUSTED_PROXIES=1), so the REST budget is no limit. */
let nextAddress = 0;
async function post(base: string, path: string, body: Json, token?: string): Promise<Json> {
  const n = nextAddress++;
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function connect(base: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = io(base, { transports: ['websocket'], auth: { token, protocol_version: 1 }, reconnection: false, forceNew: true });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

async function ack(socket: Socket, type: string, body: Json): Promise<Json> {
  const reply = (await socket.timeout(30_000).emitWithAck(type, body)) as Json;
  if (reply.type === 'error') throw new Error(`${type}: ${JSON.stringify(reply)}`);
  return reply;
}

/** What the gateways say about the run (their /metrics): frames written, gaps filled, failures, connections. */
async function gatewayFigures(bases: readonly string[]): Promise<Json> {
  const lines = (await Promise.all(bases.map(async (b) => (await (await fetch(`${b}/metrics`)).text()).split('\n')))).flat();
  const sum = (name: string, label = '') => lines.filter((l) => l.startsWith(name) && l.includes(label) && !l.startsWith('#')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  return {
    gateway_event_frames: sum('chorus_ws_frames_out_total', 'type="event"'),
    gateway_gap_reads: sum('chorus_channel_gap_reads_total'),
    gateway_channel_failures: sum('chorus_channel_failures_total'),
    gateway_connections: sum('chorus_ws_connections'),
    gateway_lag_max_ms: round(Math.max(0, ...lines.filter((l) => /^chorus_nodejs_eventloop_lag_max_seconds[ {]/.test(l)).map((l) => Number(l.split(' ').pop()))) * 1000, 1),
  };
}

interface Subscriber {
  readonly socket: Socket;
  lastSeq: number;
  received: number;
  outOfOrder: number;
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  progress(`starting 2 gateways and one process of each service (CPU calibration ${calibrationStart} ms)`);
  const cluster = await startProcessCluster('bench_channels', { gateways: 2, replicas: 1, extraEnv: { MAX_CONNECTIONS_PER_USER: '10000', TRUSTED_PROXIES: '1' } });
  const bases = cluster.gateways;
  const sockets: Socket[] = [];
  try {
    const owner = (await post(bases[0], '/api/v1/auth/dev-token', { user_id: 'bench-owner', display_name: 'Owner' })).access_token as string;
    const sessionId = (await post(bases[0], '/api/v1/collaboration/sessions', { name: 'bench channels', max_participants: 1_000 }, owner)).session_id as string;
    const code = (await post(bases[0], `/api/v1/collaboration/sessions/${sessionId}/invite`, { role: 'editor' }, owner)).code as string;
    const users = Math.ceil(SUBSCRIBERS / CONNECTIONS_PER_USER) + 1;
    const grants: Array<{ token: string; joinToken: string }> = [];
    for (let i = 0; i < users; i += 20) {
      grants.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(20, users - i) }, async (_, j) => {
            const token = (await post(bases[0], '/api/v1/auth/dev-token', { user_id: `bench-u${i + j}`, display_name: `User ${i + j}` })).access_token as string;
            return { token, joinToken: (await post(bases[0], `/api/v1/collaboration/invites/${code}/redeem`, {}, token)).join_token as string };
          }),
        )),
      );
    }
    const subscribers: Subscriber[] = [];
    const latencies: number[] = [];
    /** From the server's stamp at append (`timestamp`) to receipt: the fan-out half, without the publish request. */
    const fanoutLatencies: number[] = [];
    let measuring = false;
    let disconnects = 0;
    const disconnectReasons: Record<string, number> = {};
    let windowDeliveries = 0;
    for (let n = 0; n < SUBSCRIBERS; n += 50) {
      subscribers.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(50, SUBSCRIBERS - n) }, async (_, j) => {
            const i = n + j;
            const grant = grants[Math.floor(i / CONNECTIONS_PER_USER)];
            const socket = await connect(bases[i % 2], grant.token);
            sockets.push(socket);
            await ack(socket, 'join', { session_id: sessionId, peer_id: `sub-${i}`, join_token: grant.joinToken });
            const sub: Subscriber = { socket, lastSeq: 0, received: 0, outOfOrder: 0 };
            socket.on('disconnect', (reason: string) => {
              disconnects++;
              disconnectReasons[reason] = (disconnectReasons[reason] ?? 0) + 1;
            });
            socket.on('disconnect_notice', (n: { name: string }) => void (disconnectReasons[`notice:${n.name}`] = (disconnectReasons[`notice:${n.name}`] ?? 0) + 1));
            socket.on('event', (e: { seq: number; timestamp: number; data: { t: number } }) => {
              if (e.seq !== sub.lastSeq + 1 && sub.lastSeq !== 0) sub.outOfOrder++;
              sub.lastSeq = Math.max(sub.lastSeq, e.seq);
              sub.received++;
              if (measuring) {
                windowDeliveries++;
                latencies.push(performance.now() - e.data.t);
                fanoutLatencies.push(Date.now() - e.timestamp);
              }
            });
            await ack(socket, 'subscribe', { session_id: sessionId, channel: CHANNEL });
            return sub;
          }),
        )),
      );
      if (subscribers.length % 200 === 0 || subscribers.length === SUBSCRIBERS) progress(`${subscribers.length}/${SUBSCRIBERS} subscribers joined and subscribed`);
    }
    // Two publishers, one per gateway, each publishing half the rate; they are members but not subscribers.
    const publisherGrant = grants[grants.length - 1];
    const publishers = await Promise.all(
      bases.map(async (base, i) => {
        const socket = await connect(base, i === 0 ? owner : publisherGrant.token);
        sockets.push(socket);
        const joinToken = i === 0 ? ((await post(base, `/api/v1/collaboration/sessions/${sessionId}/join`, {}, owner)).join_token as string) : publisherGrant.joinToken;
        await ack(socket, 'join', { session_id: sessionId, peer_id: `pub-${i}`, join_token: joinToken });
        return socket;
      }),
    );
    let published = 0;
    let publishErrors = 0;
    const errorCodes: Record<string, number> = {};
    const publish = (socket: Socket) =>
      socket
        .timeout(30_000)
        .emitWithAck('publish', { session_id: sessionId, channel: CHANNEL, data: { t: performance.now() } })
        .then(
          (r: Json) => {
            if (r.type === 'published') published++;
            else {
              publishErrors++;
              errorCodes[String(r.code)] = (errorCodes[String(r.code)] ?? 0) + 1;
            }
          },
          () => {
            publishErrors++;
            errorCodes.timeout = (errorCodes.timeout ?? 0) + 1;
          },
        );

    progress('warm-up: 20 events');
    for (let i = 0; i < 20; i++) await publish(publishers[i % 2]);
    const warm = subscribers.length * 20;
    const deadlineWarm = Date.now() + 30_000;
    while (subscribers.reduce((s, x) => s + x.received, 0) < warm && Date.now() < deadlineWarm) await new Promise((r) => setTimeout(r, 50));

    progress(`${RATE} events/s to ${SUBSCRIBERS} subscribers for ${SECONDS} s`);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    measuring = true;
    const started = performance.now();
    const sentBefore = published;
    const interval = 1000 / (RATE / 2);
    const timers = publishers.map((socket, i) => {
      let next = started + (i * interval) / 2;
      let stop = false;
      const tick = () => {
        if (stop) return;
        const now = performance.now();
        if (next <= now && now - started < SECONDS * 1000) {
          void publish(socket);
          // A late tick sends one event, not the ones it missed: a burst would trip the channels rate limit.
          next = Math.max(next + interval, now);
        }
        if (now - started >= SECONDS * 1000) return;
        setTimeout(tick, Math.max(0, next - performance.now()));
      };
      tick();
      return () => void (stop = true);
    });
    for (let s = 5; s <= SECONDS; s += 5) {
      await new Promise((r) => setTimeout(r, 5_000));
      progress(`${s} s: ${published - sentBefore} published, ${windowDeliveries} delivered, p99 so far ${round(percentile(latencies, 99), 1)} ms`);
    }
    timers.forEach((stop) => stop());
    const drainDeadline = Date.now() + 30_000;
    while (subscribers.reduce((s, x) => s + x.received, 0) < subscribers.length * published && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 50));
    const elapsed = (performance.now() - started) / 1000;
    measuring = false;
    loop.disable();
    const received = subscribers.reduce((s, x) => s + x.received, 0);
    const events = published - sentBefore;
    const result = {
      subscribers: subscribers.length,
      events_per_s: round(events / SECONDS, 1),
      deliveries_per_s: round(windowDeliveries / elapsed, 0),
      p99_ms: round(percentile(latencies, 99), 1),
    };
    const detail = {
      rate_asked: RATE,
      seconds: SECONDS,
      p50_ms: round(percentile(latencies, 50), 1),
      fanout_p50_ms: percentile(fanoutLatencies, 50),
      fanout_p99_ms: percentile(fanoutLatencies, 99),
      max_ms: round(latencies.reduce((m, x) => Math.max(m, x), 0), 1),
      publish_errors: publishErrors,
      publish_error_codes: JSON.stringify(errorCodes),
      disconnects,
      disconnect_reasons: JSON.stringify(disconnectReasons),
      ...(await gatewayFigures(bases)),
      expected_deliveries: subscribers.length * published,
      received_deliveries: received,
      lost: subscribers.length * published - received,
      out_of_order: subscribers.reduce((s, x) => s + x.outOfOrder, 0),
      bench_eventloop_p99_ms: round(loop.percentile(99) / 1e6, 1),
      bench_eventloop_max_ms: round(loop.max / 1e6, 1),
    };
    printTable('channel_fanout', [{ ...result, ...detail }]);
    writeResult('channels', { channel_fanout: result, channel_fanout_detail: detail, calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() } });
  } finally {
    sockets.forEach((s) => s.close());
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
