// npm run bench:gateway — the Socket.IO edge under load, deployed as in production: one gateway process and one
// process of each service, on the real Postgres and Redis; clients are real socket.io clients in this process.
//   idle:        N idle connections on one gateway process → heap bytes per connection (from /metrics)
//   session_200: 200 members in one session, 50 typists at 2 ops/s each, every member moving its cursor once a
//                second → committed ops/s and edit→peer latency (typist stamps the send time; peers measure)
//   chat_fanout: 200 members, 20 senders → chat deliveries/s
// BENCH_QUICK=1 runs a short version (< 60 s). Writes bench/results/gateway.json.
import 'reflect-metadata';
import { io, type Socket } from 'socket.io-client';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE ?? (QUICK ? 2_000 : 10_000));
const MEMBERS = 200;
const TYPISTS = 50;
const EDIT_SECONDS = QUICK ? 10 : 30;

type Json = Record<string, unknown>;

async function post(base: string, path: string, body: Json, token?: string): Promise<Json> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
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

async function heapUsed(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('chorus_nodejs_heap_size_used_bytes'));
  return Number(line?.split(' ').pop());
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

async function joinMembers(base: string, label: string, count: number): Promise<{ sessionId: string; members: Member[] }> {
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
          const socket = await connect(base, token);
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

async function session200(base: string): Promise<Json> {
  const { sessionId, members } = await joinMembers(base, 'edit', MEMBERS);
  const doc = 'src/main.rs';
  await Promise.all(members.map((m) => m.socket.timeout(30_000).emitWithAck('open_document', { session_id: sessionId, doc_id: doc })));
  const latencies: number[] = [];
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
  progress(`session_200: ${TYPISTS} typists × 2 ops/s and ${MEMBERS} cursors × 1/s for ${EDIT_SECONDS} s`);
  const deadline = Date.now() + EDIT_SECONDS * 1000;
  const typist = async (m: Member, i: number) => {
    let seq = 0;
    await new Promise((r) => setTimeout(r, (i * 500) / TYPISTS));
    while (Date.now() < deadline) {
      const next = Date.now() + 500;
      // Inserting at the start is valid at every version, so the typist needs no OT state to stay correct.
      const reply = (await m.socket.timeout(10_000).emitWithAck('submit_op', { session_id: sessionId, doc_id: doc, version, op: [`|${performance.now()}|`], seq: ++seq }).catch(() => ({ type: 'error' }))) as Json;
      if (reply.type === 'op_ack') {
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
      m.socket.emit('presence_update', { session_id: sessionId, doc_id: doc, selection: { anchor: i, head: i } }, () => undefined);
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  };
  const started = performance.now();
  await Promise.all([...members.slice(0, TYPISTS).map(typist), ...(process.env.NO_CURSORS ? [] : members.map(cursor))]);
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 500));
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
    deliveries: delivered,
    expected_deliveries: committed * (MEMBERS - 1),
    latency_samples: latencies.length,
    errors,
  };
}

async function chatFanout(base: string): Promise<Json> {
  const { sessionId, members } = await joinMembers(base, 'chat', MEMBERS);
  let delivered = 0;
  for (const m of members) m.socket.on('chat_message', () => delivered++);
  const senders = members.slice(0, 20);
  const perSender = 10;
  const expected = senders.length * perSender * (MEMBERS - 1);
  progress(`chat_fanout: ${senders.length} senders × ${perSender} messages to ${MEMBERS} members (${expected} deliveries)`);
  const started = performance.now();
  await Promise.all(senders.map((s) => Promise.all(Array.from({ length: perSender }, (_, i) => s.socket.timeout(10_000).emitWithAck('chat_message', { session_id: sessionId, message: `m${i}` })))));
  const deadline = Date.now() + 30_000;
  while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const seconds = (performance.now() - started) / 1000;
  members.forEach((m) => m.socket.close());
  return { members: MEMBERS, deliveries_per_s: round(delivered / seconds, 0), delivered, expected };
}

async function main(): Promise<void> {
  progress('starting Chorus: 1 gateway + 1 session, presence and conflict process, real Postgres and Redis');
  const cluster = await startProcessCluster('bench_gateway', { gateways: 1, replicas: 1, extraEnv: { MAX_CONNECTIONS_PER_USER: '10000' } });
  try {
    const base = cluster.gateways[0];
    const token = (await post(base, '/api/v1/auth/dev-token', { user_id: 'idle', display_name: 'Idle' })).access_token as string;
    const idleResult = await idle(base, token);
    const edit = await session200(base);
    const chat = await chatFanout(base);
    printTable('Gateway (1 gateway process + 1 of each service; real Postgres + Redis; clients in the bench process)', [
      { scenario: 'idle', connections: idleResult.connections, 'heap bytes/conn': idleResult.heap_bytes_per_conn, goal: '≤ 20,000 at 10,000 conns' },
      { scenario: 'session_200', 'ops/s': edit.ops_per_s as number, 'p50 ms': edit.edit_to_peer_p50_ms as number, 'p99 ms': edit.edit_to_peer_p99_ms as number, goal: 'edit→peer p99 ≤ 100 ms' },
      { scenario: 'chat_fanout', 'deliveries/s': chat.deliveries_per_s as number, delivered: `${chat.delivered as number}/${chat.expected as number}` },
    ]);
    writeResult('gateway', { path: '1 gateway process + 1 process of each service (Redis Streams transport) on real Postgres + Redis', idle: idleResult, session_200: edit, chat_fanout: chat });
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
