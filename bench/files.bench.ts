// npm run bench:files — what per-file permissions and the conflict workflow cost on the edit path, against 2
// gateway processes and one process of each service (real Postgres and Redis), as deployed.
//   match:     authorizeFile over BENCH_RULES (200) rules where only the last matches (in-process, µs per check).
//   no_rules:  BENCH_EDITORS (4) editors on both gateways submit sequential ops to their own documents for
//              BENCH_SECONDS: submit_op → op_ack latency and throughput. The same-run baseline.
//   rules:     the same after PUT …/file-rules with BENCH_RULES rules (the editors' paths matched by the last).
//   conflicts: pairs of editors replace the same character at the same version at once: every round one op
//              overlaps and its conflict is recorded before the ack (the recording's cost is in its latency).
// BENCH_QUICK=1: 4 s parts. Writes bench/results/files.json.
import type { Socket } from 'socket.io-client';
import { authorizeFile, normalizeFileRules } from '@chorus/auth';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { connect, post, type Json } from './lib/edge';
import { cpuCalibrationMs, percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const EDITORS = Number(process.env.BENCH_EDITORS ?? 4);
const RULES = Number(process.env.BENCH_RULES ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 4 : 15));

const now = () => performance.now();

async function ack(socket: Socket, type: string, body: Json): Promise<Json> {
  const reply = (await socket.timeout(30_000).emitWithAck(type, body)) as Json;
  if (reply.type === 'error') throw new Error(`${type}: ${JSON.stringify(reply)}`);
  return reply;
}

function rules(): Array<Record<string, string>> {
  return Array.from({ length: RULES }, (_, i) => (i === RULES - 1 ? { pattern: 'bench/**', role: 'editor', access: 'edit' } : { pattern: `other-${i}/**/*.ts`, role: 'editor', access: 'read' }));
}

function matchCost(): Json {
  const stored = normalizeFileRules(rules().map((r) => ({ pattern: r.pattern, role: 'editor' as const, access: r.access as 'edit' | 'read' })));
  const n = 20_000;
  const start = now();
  for (let i = 0; i < n; i++) authorizeFile(stored, { role: 'editor', user_id: 'u' }, `bench/deep/path/file-${i % 50}.ts`, 'edit');
  return { part: 'match', rules: RULES, checks: n, us_per_check: round(((now() - start) * 1000) / n, 2) };
}

/** Each editor submits ops one after another to its own document for `seconds`. */
async function editing(part: string, sockets: Socket[], sid: string, seconds: number): Promise<Json> {
  const latencies: number[] = [];
  const deadline = now() + seconds * 1000;
  await Promise.all(
    sockets.map(async (s, i) => {
      const doc_id = `bench/${part}/editor-${i}.ts`;
      for (let version = 0, seq = 1; now() < deadline; version++, seq++) {
        const t0 = now();
        await ack(s, 'submit_op', { session_id: sid, doc_id, version, op: version === 0 ? ['x'] : [version, 'x'], seq });
        latencies.push(now() - t0);
      }
    }),
  );
  return { part, ops: latencies.length, ops_per_s: round(latencies.length / seconds, 1), p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)) };
}

/** Pairs replace the same character at the same version at once: one op per round overlaps and is recorded. */
async function conflicting(sockets: Socket[], sid: string, seconds: number, seqs: Map<Socket, number>): Promise<Json> {
  const overlapped: number[] = [];
  const clean: number[] = [];
  let recorded = 0;
  const deadline = now() + seconds * 1000;
  const pairs = Array.from({ length: Math.floor(sockets.length / 2) }, (_, p) => [sockets[2 * p], sockets[2 * p + 1]] as const);
  await Promise.all(
    pairs.map(async ([a, b], p) => {
      const doc_id = `bench/conflicts/pair-${p}.ts`;
      const next = (s: Socket) => {
        const n = (seqs.get(s) ?? 1_000_000) + 1;
        seqs.set(s, n);
        return n;
      };
      await ack(a, 'submit_op', { session_id: sid, doc_id, version: 0, op: ['0'], seq: next(a) });
      for (let version = 1; now() < deadline; version += 2) {
        const op = [{ d: 1 }, String(version % 10)];
        const sent = await Promise.all(
          [a, b].map(async (s) => {
            const t0 = now();
            const reply = await ack(s, 'submit_op', { session_id: sid, doc_id, version, op, seq: next(s) });
            return { ms: now() - t0, version: reply.version as number };
          }),
        );
        // The later commit is the one that overlapped (and recorded its conflict before answering).
        const [first, second] = sent[0].version < sent[1].version ? sent : [sent[1], sent[0]];
        clean.push(first.ms);
        overlapped.push(second.ms);
        recorded++;
      }
    }),
  );
  return {
    part: 'conflicts',
    rounds: recorded,
    clean_p50_ms: round(percentile(clean, 50)),
    overlapped_p50_ms: round(percentile(overlapped, 50)),
    overlapped_p99_ms: round(percentile(overlapped, 99)),
  };
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  const match = matchCost();
  const cluster = await startProcessCluster('bench_files', { gateways: 2, replicas: 1, extraEnv: { TRUSTED_PROXIES: '1', LOG_LEVEL: 'warn' } });
  try {
    const [g1, g2] = cluster.gateways;
    const owner = (await post(g1, '/api/v1/auth/dev-token', { user_id: 'bench-owner', display_name: 'Owner' })).access_token as string;
    const sid = (await post(g1, '/api/v1/collaboration/sessions', { name: 'bench files' }, owner)).session_id as string;
    const invite = await post(g1, `/api/v1/collaboration/sessions/${sid}/invite`, { role: 'editor' }, owner);
    progress(`${EDITORS} editors joining`);
    const sockets = await Promise.all(
      Array.from({ length: EDITORS }, async (_, i) => {
        const base = i % 2 === 0 ? g1 : g2;
        const token = (await post(g1, '/api/v1/auth/dev-token', { user_id: `bench-editor-${i}`, display_name: `Editor ${i}` })).access_token as string;
        await post(g1, `/api/v1/collaboration/invites/${invite.code as string}/redeem`, {}, token);
        const socket = await connect(base, token);
        const grant = await post(base, `/api/v1/collaboration/sessions/${sid}/join`, {}, token);
        await ack(socket, 'join', { session_id: sid, peer_id: `editor-${i}`, join_token: grant.join_token });
        return socket;
      }),
    );
    progress('warm-up');
    await editing('warmup', sockets, sid, 1);
    progress(`no_rules: ${SECONDS} s`);
    const baseline = await editing('no_rules', sockets, sid, SECONDS);
    const res = await fetch(`${g1}/api/v1/collaboration/sessions/${sid}/file-rules`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${owner}` }, body: JSON.stringify({ rules: rules() }) });
    if (!res.ok) throw new Error(`file-rules: ${res.status} ${await res.text()}`);
    progress(`rules (${RULES}): ${SECONDS} s`);
    const withRules = await editing('rules', sockets, sid, SECONDS);
    progress(`conflicts: ${SECONDS} s`);
    const conflicts = await conflicting(sockets, sid, SECONDS, new Map());
    const rows = [match, baseline, { ...withRules, vs_no_rules: round((withRules.ops_per_s as number) / (baseline.ops_per_s as number)) }, conflicts];
    printTable(`bench:files — ${EDITORS} editors on 2 gateways, ${SECONDS} s per part`, rows as Array<Record<string, string | number>>);
    const calibrationEnd = cpuCalibrationMs();
    writeResult('files', { editors: EDITORS, rules: RULES, seconds: SECONDS, rows, cpu_calibration_ms: { start: calibrationStart, end: calibrationEnd } });
    for (const s of sockets) s.close();
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
