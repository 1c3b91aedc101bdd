// npm run bench:failover — the stall clients see when one replica dies, per kind of replica, under steady load.
// A process cluster as deployed (2 gateways, 2 session, 2 conflict, 2 presence processes; real Postgres and
// Redis); 8 socket.io clients in this process (4 sessions of 2 people, one document each) each keep one chat,
// one op and one presence update in flight, paced (ops and presence every 100 ms, chat every 600 ms: under the
// edge's rate limits). A request that fails (its gateway died, UNAVAILABLE) is resent with the same key
// (client_msg_id, (peer, seq)) once the client has reconnected — as a real client does.
//
// Kills: one replica at a time, kinds in turn (session, conflict, presence, gateway), each replaced by a new
// process after its stall was measured and before the next kill. Full mode: as many rounds (up to
// BENCH_KILLS, 20) as fit in BENCH_BUDGET_S (270 s: a ~6 min run gives ~12 kills per kind; 20 per kind take
// BENCH_BUDGET_S=480, a ~9 min run). A service's victim is the replica holding work (pending entries in XPENDING)
// when possible, so most kills strand requests. Stall of a kill at K = max over requests sent before K + 1.5 s
// and answered after K of (answered − max(sent, K)): from the kill until every request that was waiting, or
// came in meanwhile, is answered. The same figure at instants without a kill is the baseline.
//
// Pauses: SIGSTOP of a service replica holding work for 3 s, then SIGCONT. A false takeover is any transport
// takeover logged meanwhile (claim of a "dead" replica's work, idle claim, lost lease); duplicates are chat
// messages stored twice (history) and ops applied twice (document text), counted over the whole run.
//
// BENCH_QUICK=1: 3 kills per kind and 3 pauses (~1.5 min). Writes bench/results/failover.json.
import 'reflect-metadata';
import Redis from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { startTsProcess, type RunningProcess } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from '../test/e2e/support/cluster';
import { setUpSession } from '../test/e2e/support/scenario';
import { Api } from '../test/e2e/support/stack';
import { cpuCalibrationMs, percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const KILLS_PER_KIND = Number(process.env.BENCH_KILLS ?? (QUICK ? 3 : 20));
const PAUSES = Number(process.env.BENCH_PAUSES ?? (QUICK ? 3 : 6));
/** The kill phase stops at this budget even if not every kind got KILLS_PER_KIND (the count is reported). */
const KILL_BUDGET_MS = Number(process.env.BENCH_BUDGET_S ?? (QUICK ? 60 : 270)) * 1_000;
const PAUSE_MS = 3_000;
const WINDOW_MS = 1_500;
const SETTLE_MS = 1_500;
const ALL_KINDS = ['session', 'conflict', 'presence', 'gateway'] as const;
type Kind = (typeof ALL_KINDS)[number];
/** BENCH_KINDS=presence,gateway: only those kinds (to look into one). */
const KINDS: readonly Kind[] = process.env.BENCH_KINDS ? ALL_KINDS.filter((k) => process.env.BENCH_KINDS!.split(',').includes(k)) : ALL_KINDS;
const SERVICES = ['session', 'conflict', 'presence'] as const;
const LISTENING = /listening on http:\/\/[^:]+:(\d+)/;
const TAKEOVER = /has no Redis connection: took over|Claimed \d+ messages idle|Lost the lease/;

type Json = Record<string, unknown>;

interface Sample {
  kind: 'chat' | 'op' | 'presence';
  sent: number;
  answered?: number;
}

/** The cluster's processes and gateway URLs as they change: killed ones are replaced. */
class Topology {
  readonly urls = new Map<string, string>();

  constructor(readonly cluster: ProcessCluster) {
    cluster.gateways.forEach((url, i) => this.urls.set(`gateway-${i + 1}`, url));
  }

  liveUrls(): string[] {
    return [...this.urls.values()];
  }

  /** Starts a replacement under the same node id (a new consumer name: a new process). */
  async replace(name: string): Promise<void> {
    const app = name.split('-')[0];
    const p: RunningProcess = startTsProcess(`apps/${app}/src/main.ts`, { ...this.cluster.env, LOG_LEVEL: 'log', NODE_ID: name });
    this.cluster.processes.set(name, p);
    const m = await p.waitForLine(LISTENING, 90_000);
    if (app === 'gateway') this.urls.set(name, `http://127.0.0.1:${m[1]}`);
  }
}

/** One person: a socket to some live gateway, joined, one document open; reconnects to another gateway when cut. */
class LoadClient {
  socket?: Socket;
  /** The gateway this client is connected to. */
  url?: string;
  private ready?: Promise<void>;
  private version = 0;
  private seq = 0;
  private chat = 0;
  readonly samples: Sample[] = [];
  readonly acked = { chat: new Set<string>(), ops: new Set<string>() };
  errors = 0;
  private stopped = false;

  constructor(
    private readonly topo: Topology,
    private readonly name: string,
    readonly sessionId: string,
    private readonly token: string,
    readonly docId: string,
  ) {}

  start(): Promise<void> {
    this.ready = this.connect();
    return this.ready;
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
  }

  private async connect(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const urls = this.topo.liveUrls();
      const url = urls[(attempt + this.name.length) % urls.length];
      try {
        // The join token over REST while the socket connects, as an app that reconnects would.
        const joinToken = new Api(url).request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${this.sessionId}/join`, { token: this.token, body: {} });
        joinToken.catch(() => undefined); // awaited below; a failed connect must not leave it unhandled
        const socket = io(url, { transports: ['websocket'], auth: { token: this.token, protocol_version: 1 }, reconnection: false, forceNew: true });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        socket.on('op', (m: { doc_id: string; version: number }) => {
          if (m.doc_id === this.docId) this.version = Math.max(this.version, m.version);
        });
        const joined = (await socket.timeout(10_000).emitWithAck('join', { session_id: this.sessionId, peer_id: this.name, join_token: (await joinToken).body.join_token })) as Json;
        if (joined.type !== 'joined') throw new Error(`join: ${JSON.stringify(joined)}`);
        const doc = (await socket.timeout(10_000).emitWithAck('open_document', { session_id: this.sessionId, doc_id: this.docId })) as Json;
        if (doc.type === 'error') throw new Error(`open_document: ${JSON.stringify(doc)}`);
        this.version = Math.max(this.version, Number(doc.version));
        socket.once('disconnect', () => {
          if (this.stopped) return;
          this.ready = this.connect();
        });
        this.socket = socket;
        this.url = url;
        return;
      } catch (error) {
        if (this.stopped) return;
        if (attempt % 20 === 19) progress(`${this.name}: still reconnecting (${(error as Error).message})`);
        await sleep(100);
      }
    }
  }

  /** Sends until answered: resent with the same payload after a reconnect or a retryable error. */
  private async request(kind: Sample['kind'], event: string, payload: () => Json): Promise<Json | undefined> {
    const sample: Sample = { kind, sent: performance.now() };
    this.samples.push(sample);
    while (!this.stopped) {
      await this.ready;
      const socket = this.socket!;
      const reply = await new Promise<Json | undefined>((resolve) => {
        const cut = () => resolve(undefined);
        socket.once('disconnect', cut);
        socket
          .timeout(15_000)
          .emitWithAck(event, payload())
          .then(
            (r: Json) => resolve(r),
            () => resolve(undefined),
          )
          .finally(() => socket.off('disconnect', cut));
      });
      if (reply === undefined) continue; // cut or timed out: resend once reconnected
      if (reply.type === 'error') {
        if (reply.code === 'UNAVAILABLE' || reply.retryable === true) {
          await sleep(50);
          continue;
        }
        this.errors++;
        progress(`${this.name}: ${event} failed: ${JSON.stringify(reply)}`);
      }
      sample.answered = performance.now();
      return reply;
    }
    return undefined;
  }

  async runChat(until: () => boolean): Promise<void> {
    while (!until()) {
      const next = performance.now() + 600;
      const key = `${this.name}-m${++this.chat}`;
      const reply = await this.request('chat', 'chat_message', () => ({ session_id: this.sessionId, message: key, client_msg_id: key }));
      if (reply?.type === 'chat_message') this.acked.chat.add(key);
      await sleep(next - performance.now());
    }
  }

  async runOps(until: () => boolean): Promise<void> {
    while (!until()) {
      const next = performance.now() + 100;
      const seq = ++this.seq;
      const marker = `|${this.name}s${seq}|`;
      const version = this.version;
      // Inserting at the start is valid at every version: no OT state needed to stay correct.
      const reply = await this.request('op', 'submit_op', () => ({ session_id: this.sessionId, doc_id: this.docId, version, op: [marker], seq }));
      if (reply?.type === 'op_ack') {
        this.acked.ops.add(marker);
        this.version = Math.max(this.version, Number(reply.version));
      }
      await sleep(next - performance.now());
    }
  }

  async runPresence(until: () => boolean): Promise<void> {
    let n = 0;
    while (!until()) {
      const next = performance.now() + 100;
      n = (n + 1) % 50;
      await this.request('presence', 'presence_update', () => ({ session_id: this.sessionId, doc_id: this.docId, selection: { anchor: n, head: n } }));
      await sleep(next - performance.now());
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** The stall around instant `at`: see the header. */
function stallAt(samples: Sample[], at: number): { stall: number; affected: number; slowest?: string } {
  let stall = 0;
  let affected = 0;
  let slowest: string | undefined;
  for (const s of samples) {
    if (s.sent >= at + WINDOW_MS) continue;
    const answered = s.answered ?? performance.now();
    if (answered <= at) continue;
    affected++;
    const waited = answered - Math.max(s.sent, at);
    if (waited > stall) {
      stall = waited;
      slowest = `${s.kind} sent at ${Math.round(s.sent - at)} ms`;
    }
  }
  return { stall, affected, slowest };
}

/** Node ids of a service's replicas holding pending entries (request stream and ordering shards) right now. */
async function holdersOf(redis: Redis, prefix: string, service: string): Promise<string[]> {
  const streams = [`${prefix}:svc:${service}:req`, ...Array.from({ length: 16 }, (_, i) => `${prefix}:svc:${service}:req:k${i}`)];
  const holders = new Set<string>();
  for (const stream of streams) {
    const summary = (await redis.call('XPENDING', stream, service).catch(() => [0, null, null, null])) as [number, unknown, unknown, Array<[string, string]> | null];
    for (const [consumer] of summary[3] ?? []) holders.add(consumer.split(':')[0]);
  }
  return [...holders];
}

/** A replica of `kind` to hit: one holding work if one does within 1 s, else either. */
async function pickVictim(redis: Redis, prefix: string, kind: Kind, turn: number, clients: LoadClient[], topo: Topology): Promise<{ name: string; holding: boolean }> {
  const names = [1, 2].map((i) => `${kind}-${i}`);
  if (kind === 'gateway') {
    // The gateway serving more clients (ties alternate).
    const count = (name: string) => clients.filter((c) => c.socket?.connected && c.url === topo.urls.get(name)).length;
    const [a, b] = names.map(count);
    return { name: a === b ? names[turn % 2] : a > b ? names[0] : names[1], holding: Math.max(a, b) > 0 };
  }
  const deadline = Date.now() + 1_000;
  while (Date.now() < deadline) {
    const holding = (await holdersOf(redis, prefix, kind)).filter((n) => names.includes(n));
    if (holding.length > 0) return { name: holding[0], holding: true };
    await sleep(5);
  }
  return { name: names[turn % 2], holding: false };
}

async function waitAnswered(clients: LoadClient[], before: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (clients.every((c) => c.samples.every((s) => s.sent >= before || s.answered !== undefined))) return;
    await sleep(20);
  }
}

function takeoverLines(cluster: ProcessCluster): number {
  let n = 0;
  for (const [name, p] of cluster.processes) if (!name.startsWith('gateway')) n += p.lines.filter((l) => TAKEOVER.test(l)).length;
  return n;
}

async function duplicates(base: string, clients: LoadClient[], pairs: Array<{ sessionId: string; token: string }>): Promise<{ chat_duplicates: number; op_duplicates: number; acked_chat_missing: number; acked_ops_missing: number }> {
  const api = new Api(base);
  const stored = new Map<string, number>();
  for (const { sessionId, token } of pairs) {
    let after = 0;
    for (;;) {
      const page = await api.request<{ events: Array<{ seq: number; type: string; payload: { client_msg_id?: string } }> }>('GET', `/api/v1/collaboration/sessions/${sessionId}/history?after_seq=${after}&limit=1000`, { token });
      const events = page.body.events ?? [];
      for (const e of events) if (e.type === 'chat_message' && e.payload.client_msg_id) stored.set(e.payload.client_msg_id, (stored.get(e.payload.client_msg_id) ?? 0) + 1);
      if (events.length < 1000) break;
      after = events[events.length - 1].seq;
    }
  }
  let opDuplicates = 0;
  let opsMissing = 0;
  for (const c of clients) {
    const doc = (await c.socket!.timeout(10_000).emitWithAck('open_document', { session_id: c.sessionId, doc_id: c.docId })) as Json;
    const text = String(doc.content ?? '');
    for (const marker of c.acked.ops) {
      const times = text.split(marker).length - 1;
      if (times > 1) opDuplicates++;
      if (times === 0) opsMissing++;
    }
  }
  const acked = clients.flatMap((c) => [...c.acked.chat]);
  return {
    chat_duplicates: [...stored.values()].filter((n) => n > 1).length,
    op_duplicates: opDuplicates,
    acked_chat_missing: acked.filter((k) => !stored.has(k)).length,
    acked_ops_missing: opsMissing,
  };
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  progress(`starting Chorus: 2 gateways + 2 session, 2 conflict, 2 presence processes (CPU calibration ${calibrationStart} ms)`);
  const cluster = await startProcessCluster('bench_failover', { gateways: 2, replicas: 2 });
  const redis = new Redis(cluster.env.REDIS_URL);
  const topo = new Topology(cluster);
  const clients: LoadClient[] = [];
  try {
    const pairs: Array<{ sessionId: string; token: string }> = [];
    for (let s = 0; s < 4; s++) {
      const people = await setUpSession(cluster.gateways[s % 2], `failover_${s}`);
      pairs.push({ sessionId: people.sessionId, token: people.alice.token });
      clients.push(new LoadClient(topo, `a${s}`, people.sessionId, people.alice.token, `doc-${s}.txt`));
      clients.push(new LoadClient(topo, `b${s}`, people.sessionId, people.bob.token, `doc-${s}.txt`));
    }
    await Promise.all(clients.map((c) => c.start()));
    let stopping = false;
    const until = () => stopping;
    const loops = clients.flatMap((c) => [c.runChat(until), c.runOps(until), c.runPresence(until)]);
    progress(`load: ${clients.length} clients, each 10 ops/s + 10 presence updates/s + ~1.7 chat/s; warming up 5 s`);
    await sleep(5_000);
    const all = () => clients.flatMap((c) => c.samples);

    // Baseline: the same statistic at instants nobody was killed.
    const baseline: number[] = [];
    for (let i = 0; i < 10; i++) {
      await sleep(300);
      const at = performance.now();
      await sleep(WINDOW_MS + 200);
      baseline.push(stallAt(all(), at).stall);
    }
    progress(`baseline (no kill): p50 ${round(percentile(baseline, 50), 0)} ms, max ${round(Math.max(...baseline), 0)} ms`);

    const kills = new Map<Kind, Array<{ stall: number; holding: boolean; affected: number; victim: string }>>(KINDS.map((k) => [k, []]));
    const killStart = Date.now();
    for (let round_ = 0; round_ < KILLS_PER_KIND && Date.now() - killStart < KILL_BUDGET_MS; round_++) {
      for (const kind of KINDS) {
        if (Date.now() - killStart >= KILL_BUDGET_MS) break;
        const { name, holding } = await pickVictim(redis, cluster.prefix, kind, round_, clients, topo);
        const victim = cluster.processes.get(name)!;
        const at = performance.now();
        victim.child.kill('SIGKILL');
        if (kind === 'gateway') topo.urls.delete(name);
        await victim.exited;
        await sleep(WINDOW_MS);
        await waitAnswered(clients, at + WINDOW_MS, 20_000);
        const { stall, affected, slowest } = stallAt(all(), at);
        kills.get(kind)!.push({ stall, holding, affected, victim: name });
        progress(`kill -9 ${name}${holding ? ' (holding work)' : ''}: stall ${round(stall, 0)} ms over ${affected} requests (slowest: ${slowest ?? '-'})`);
        // The replacement boots only now: on 2 cores its start-up (compile, Nest init, warm-up) would otherwise
        // share the CPU with the failover being measured. Then back to a steady state (it took its share of
        // shards: a handover) before the next kill.
        await topo.replace(name);
        await sleep(SETTLE_MS);
      }
    }

    const pauses: Array<{ victim: string; takeovers: number; stall: number }> = [];
    for (let i = 0; i < PAUSES; i++) {
      const service = SERVICES[i % SERVICES.length];
      const { name } = await pickVictim(redis, cluster.prefix, service, i, clients, topo);
      const victim = cluster.processes.get(name)!;
      const before = takeoverLines(cluster);
      const at = performance.now();
      victim.child.kill('SIGSTOP');
      await sleep(PAUSE_MS);
      victim.child.kill('SIGCONT');
      await sleep(WINDOW_MS);
      await waitAnswered(clients, at + WINDOW_MS, 20_000);
      await sleep(1_000); // a takeover decided during the pause is logged by now
      const takeovers = takeoverLines(cluster) - before;
      const { stall } = stallAt(all(), at);
      pauses.push({ victim: name, takeovers, stall });
      progress(`SIGSTOP ${name} for ${PAUSE_MS} ms: ${takeovers} takeovers, stall ${round(stall, 0)} ms`);
    }

    stopping = true;
    // A request still unanswered after 20 s would stay so: stop waiting (it shows in `unanswered`).
    await Promise.race([Promise.all(loops), sleep(20_000)]);
    const dup = await duplicates(topo.liveUrls()[0], clients, pairs);
    const calibrationEnd = cpuCalibrationMs();

    const perKind: Record<string, Json> = {};
    const rows: Array<Record<string, string | number>> = [];
    for (const kind of KINDS) {
      const list = kills.get(kind)!;
      const stalls = list.map((k) => k.stall);
      const fig = {
        kills: list.length,
        holding_work: list.filter((k) => k.holding).length,
        stall_p50_ms: round(percentile(stalls, 50), 0),
        stall_p99_ms: round(percentile(stalls, 99), 0),
        stall_max_ms: round(Math.max(0, ...stalls), 0),
      };
      perKind[kind] = fig;
      rows.push({ kind, ...fig, goal: 'p99 ≤ 1000' });
    }
    rows.push({ kind: 'none (baseline)', kills: 0, stall_p50_ms: round(percentile(baseline, 50), 0), stall_p99_ms: round(percentile(baseline, 99), 0), stall_max_ms: round(Math.max(...baseline), 0) });
    const requests = all();
    const pauseFig = {
      sigstop_runs: pauses.length,
      sigstop_ms: PAUSE_MS,
      false_takeovers: pauses.reduce((n, p) => n + p.takeovers, 0),
      duplicates: dup.chat_duplicates + dup.op_duplicates,
      ...dup,
      sigstop_stall_max_ms: round(Math.max(0, ...pauses.map((p) => p.stall)), 0),
    };
    printTable('Failover stall after kill -9 (2 of each app as processes; real Postgres + Redis; 8 socket.io clients)', rows);
    printTable(`SIGSTOP ${PAUSE_MS} ms of a service replica holding work, then SIGCONT`, [
      { runs: pauseFig.sigstop_runs, false_takeovers: pauseFig.false_takeovers, chat_duplicates: dup.chat_duplicates, op_duplicates: dup.op_duplicates, 'stall max ms': pauseFig.sigstop_stall_max_ms, goal: '0 takeovers, 0 duplicates' },
    ]);
    progress(`${requests.length} requests, ${requests.filter((s) => s.answered === undefined).length} unanswered, ${clients.reduce((n, c) => n + c.errors, 0)} non-retryable errors; acked but missing: ${dup.acked_chat_missing} chats, ${dup.acked_ops_missing} ops`);
    writeResult('failover', {
      path: '2 gateways + 2 session, 2 conflict, 2 presence processes (Redis Streams transport) on real Postgres + Redis; 8 socket.io clients',
      window_ms: WINDOW_MS,
      ...perKind,
      baseline: { samples: baseline.length, stall_p50_ms: round(percentile(baseline, 50), 0), stall_p99_ms: round(percentile(baseline, 99), 0) },
      ...pauseFig,
      requests: requests.length,
      unanswered: requests.filter((s) => s.answered === undefined).length,
      errors: clients.reduce((n, c) => n + c.errors, 0),
      kills_detail: Object.fromEntries([...kills].map(([k, list]) => [k, list.map((x) => ({ victim: x.victim, stall_ms: round(x.stall, 0), holding: x.holding, affected: x.affected }))])),
      pauses_detail: pauses.map((p) => ({ ...p, stall: round(p.stall, 0) })),
      cpu_calibration_ms: { start: calibrationStart, end: calibrationEnd },
    });
  } finally {
    clients.forEach((c) => c.stop());
    redis.disconnect();
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
