// npm run bench:channels — one session channel with many subscribers across two gateway processes (and one process
// of each service, real Postgres and Redis), as deployed. Real socket.io clients: the subscribers in two child
// processes (bench/lib/channel-subscribers.ts), the publishers here, so that decoding 100,000 deliveries a second
// does not slow the publishers down.
//   channel_fanout: BENCH_SUBSCRIBERS (default 1,000) subscribers, alternating between the two gateways, and two
//   publishers (one per gateway) publishing BENCH_RATE events/s in total (default 100) for BENCH_SECONDS (30) →
//   delivery latency (publish sent → event received, wall clock of this machine), events/s, deliveries/s, and
//   whether every subscriber got every event exactly once, in seq order. `fanout_p*_ms`: from the server's stamp
//   at append to receipt (the fan-out half alone, ms resolution).
// BENCH_QUICK=1: 10 s, 200 subscribers. Writes bench/results/channels.json (BENCH_RESULT=name: name.json), and
// channel_fanout into bench/results/ws.json too (where issue 13 reads it) unless BENCH_RESULT is set.
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { connect, post, type Json } from './lib/edge';
import { cpuCalibrationMs, mergeResult, percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? (QUICK ? 200 : 1_000));
const RATE = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 10 : 30));
/** Connections per user: the session's participant cap is 1,000, and one user may hold several connections. */
const CONNECTIONS_PER_USER = 10;
const CHILDREN = 2;
const CHANNEL = 'x-bench';

const now = () => performance.timeOrigin + performance.now();

async function ack(socket: Socket, type: string, body: Json): Promise<Json> {
  const reply = (await socket.timeout(30_000).emitWithAck(type, body)) as Json;
  if (reply.type === 'error') throw new Error(`${type}: ${JSON.stringify(reply)}`);
  return reply;
}

/** What the gateways say about the run (their /metrics): frames written, gaps filled, failures, connections, lag. */
async function gatewayFigures(bases: readonly string[]): Promise<Json> {
  const lines = (await Promise.all(bases.map(async (b) => (await (await fetch(`${b}/metrics`)).text()).split('\n')))).flat();
  const sum = (name: string, label = '') => lines.filter((l) => new RegExp(`^${name}[ {]`).test(l) && l.includes(label)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  return {
    gateway_event_frames: sum('chorus_ws_frames_out_total', 'type="event"'),
    gateway_gap_reads: sum('chorus_channel_gap_reads_total'),
    gateway_channel_failures: sum('chorus_channel_failures_total'),
    gateway_connections: sum('chorus_ws_connections'),
    gateway_lag_max_ms: round(Math.max(0, ...lines.filter((l) => /^chorus_nodejs_eventloop_lag_max_seconds[ {]/.test(l)).map((l) => Number(l.split(' ').pop()))) * 1000, 1),
  };
}

interface Report {
  latencies: number[];
  fanout: number[];
  received: number;
  windowDeliveries: number;
  outOfOrder: number;
  disconnects: number;
  reasons: Record<string, number>;
}

/** One child process of subscribers, driven over IPC. */
class Subscribers {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, { resolve: (m: Json) => void; reject: (err: Error) => void }>();

  constructor() {
    this.child = fork(join(__dirname, 'lib', 'channel-subscribers.ts'), [], { execArgv: ['-r', '@swc-node/register'] });
    this.child.on('message', (m: Json) => {
      if (m.kind === 'progress') return;
      const kind = m.kind === 'ready' || m.kind === 'failed' ? 'start' : String(m.kind);
      const waiter = this.waiting.get(kind);
      this.waiting.delete(kind);
      if (m.kind === 'failed') waiter?.reject(new Error(`subscriber process: ${String(m.error)}`));
      else waiter?.resolve(m);
    });
  }

  ask(kind: string, extra: Json = {}): Promise<Json> {
    return new Promise((resolve, reject) => {
      this.waiting.set(kind, { resolve, reject });
      this.child.send({ kind, ...extra });
    });
  }

  tell(kind: string): void {
    this.child.send({ kind });
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  progress(`starting 2 gateways and one process of each service (CPU calibration ${calibrationStart} ms)`);
  const cluster = await startProcessCluster('bench_channels', { gateways: 2, replicas: 1, extraEnv: { MAX_CONNECTIONS_PER_USER: '10000', TRUSTED_PROXIES: '1' } });
  const bases = cluster.gateways;
  const sockets: Socket[] = [];
  const children = Array.from({ length: CHILDREN }, () => new Subscribers());
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
    progress(`${users} users signed in; ${CHILDREN} processes connect ${SUBSCRIBERS} subscribers`);
    // Each child takes a contiguous range of subscribers (whole users), half on each gateway.
    const per = Math.ceil(SUBSCRIBERS / CONNECTIONS_PER_USER / CHILDREN) * CONNECTIONS_PER_USER;
    await Promise.all(
      children.map((c, k) => c.ask('start', { bases, sessionId, channel: CHANNEL, first: k * per, count: Math.max(0, Math.min(per, SUBSCRIBERS - k * per)), connectionsPerUser: CONNECTIONS_PER_USER, grants })),
    );
    const received = async () => (await Promise.all(children.map((c) => c.ask('count')))).reduce((n, m) => n + Number(m.received), 0);
    progress(`${SUBSCRIBERS} subscribers joined and subscribed`);

    // Two publishers, one per gateway, each publishing half the rate; members, not subscribers.
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
        .emitWithAck('publish', { session_id: sessionId, channel: CHANNEL, data: { t: now() } })
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
    const warmDeadline = Date.now() + 60_000;
    while ((await received()) < SUBSCRIBERS * 20 && Date.now() < warmDeadline) await new Promise((r) => setTimeout(r, 200));

    progress(`${RATE} events/s to ${SUBSCRIBERS} subscribers for ${SECONDS} s`);
    children.forEach((c) => c.tell('measure'));
    const before = await gatewayFigures(bases);
    const started = performance.now();
    const sentBefore = published;
    const interval = 1000 / (RATE / 2);
    let attempts = 0;
    const stops = publishers.map((socket, i) => {
      let next = started + (i * interval) / 2;
      let stop = false;
      const tick = () => {
        if (stop) return;
        const t = performance.now();
        if (t - started >= SECONDS * 1000) return;
        if (next <= t) {
          attempts++;
          void publish(socket);
          // A late tick sends one event, not the ones it missed: a burst would trip the channels rate limit.
          next = Math.max(next + interval, t);
        }
        setTimeout(tick, Math.max(0, next - performance.now()));
      };
      tick();
      return () => void (stop = true);
    });
    for (let s = 5; s <= SECONDS; s += 5) {
      await new Promise((r) => setTimeout(r, 5_000));
      progress(`${s} s: ${published - sentBefore} published, ${await received()} delivered in all`);
    }
    stops.forEach((stop) => stop());
    const publishing = (performance.now() - started) / 1000;
    // Acks of the last events, then their deliveries (bounded).
    const drainDeadline = Date.now() + 30_000;
    while (published + publishErrors < 20 + attempts && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 50));
    while ((await received()) < SUBSCRIBERS * published && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 200));
    const elapsed = (performance.now() - started) / 1000;
    const after = await gatewayFigures(bases);
    const reports = (await Promise.all(children.map((c) => c.ask('report')))) as unknown as Report[];
    const latencies = reports.flatMap((r) => r.latencies);
    const fanout = reports.flatMap((r) => r.fanout);
    const total = reports.reduce((n, r) => n + r.received, 0);
    const reasons: Record<string, number> = {};
    for (const r of reports) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
    const events = published - sentBefore;
    const result = {
      subscribers: SUBSCRIBERS,
      events_per_s: round(events / publishing, 1),
      deliveries_per_s: round(reports.reduce((n, r) => n + r.windowDeliveries, 0) / elapsed, 0),
      p99_ms: round(percentile(latencies, 99), 1),
    };
    const detail = {
      rate_asked: RATE,
      seconds: SECONDS,
      p50_ms: round(percentile(latencies, 50), 1),
      max_ms: round(latencies.reduce((m, x) => Math.max(m, x), 0), 1),
      fanout_p50_ms: percentile(fanout, 50),
      fanout_p99_ms: percentile(fanout, 99),
      publish_errors: publishErrors,
      publish_error_codes: JSON.stringify(errorCodes),
      expected_deliveries: SUBSCRIBERS * published,
      received_deliveries: total,
      lost: SUBSCRIBERS * published - total,
      out_of_order: reports.reduce((n, r) => n + r.outOfOrder, 0),
      disconnects: reports.reduce((n, r) => n + r.disconnects, 0),
      disconnect_reasons: JSON.stringify(reasons),
      ...Object.fromEntries(Object.entries(after).map(([k, v]) => [k, typeof v === 'number' && k !== 'gateway_connections' && k !== 'gateway_lag_max_ms' ? v - Number(before[k]) : v])),
    };
    printTable('channel_fanout', [{ ...result, ...detail }]);
    writeResult(process.env.BENCH_RESULT ?? 'channels', { channel_fanout: result, channel_fanout_detail: detail, calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() } });
    // Issue 13 reads channel_fanout from ws.json (beside bench:ws's idle figures); a default-sized run goes there too.
    if (process.env.BENCH_RESULT === undefined) mergeResult('ws', { channel_fanout: result }, 'npm run bench:channels');
  } finally {
    sockets.forEach((s) => s.close());
    children.forEach((c) => c.kill());
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
