// npm run bench:agents — the prompt queue and the SSE stream against 2 gateway processes (and one process of each
// service, real Postgres and Redis), as deployed. Real socket.io clients for users and agents; SSE readers are
// plain HTTP streams (text/event-stream parsed here).
//   enqueue:    BENCH_USERS (50) users, alternating between the gateways, submit prompts at BENCH_ENQUEUE_RATE
//               (200/s in total) for BENCH_SECONDS: prompt_submit → prompt_queued ack latency. No agent takes
//               them (the queue grows: the worst case for positions).
//   dispatch:   BENCH_AGENTS (3) idle agents claim on every queue_updated; prompts at 20/s: prompt_queued ack →
//               the agent's prompt_claimed with it.
//   sse_fanout: BENCH_SSE (1,000) SSE readers of one session; an agent streams partial output at 50 chunks/s:
//               agent_output sent → partial_response frame read (wall clock of this machine).
// BENCH_QUICK=1: 5 s parts, 200 SSE readers. Writes bench/results/agents.json.
// BENCH_ONLY=sse_fanout: only that part (one user, one agent streaming), into bench/results/agents-sse_fanout.json.
import { request as httpRequest } from 'node:http';
import type { Socket } from 'socket.io-client';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { connect, post, type Json } from './lib/edge';
import { cpuCalibrationMs, percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const USERS = Number(process.env.BENCH_USERS ?? 50);
const ENQUEUE_RATE = Number(process.env.BENCH_ENQUEUE_RATE ?? 200);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 3);
const SSE = Number(process.env.BENCH_SSE ?? (QUICK ? 200 : 1_000));
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 5 : 15));
const CHUNK_RATE = 50;
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== 'sse_fanout') throw new Error(`BENCH_ONLY=${ONLY}: only sse_fanout runs alone`);
const SSE_ONLY = ONLY === 'sse_fanout';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ack(socket: Socket, type: string, body: Json): Promise<Json> {
  const reply = (await socket.timeout(30_000).emitWithAck(type, body)) as Json;
  if (reply.type === 'error') throw new Error(`${type}: ${JSON.stringify(reply)}`);
  return reply;
}

async function member(base: string, sessionId: string, token: string, peer: string): Promise<Socket> {
  const socket = await connect(base, token);
  const grant = await post(base, `/api/v1/collaboration/sessions/${sessionId}/join`, {}, token);
  await ack(socket, 'join', { session_id: sessionId, peer_id: peer, join_token: grant.join_token });
  return socket;
}

/** Sends `count` requests spread over `seconds` (open loop), returning each one's latency. */
async function paced(count: number, seconds: number, send: (i: number) => Promise<number>): Promise<number[]> {
  const started = now();
  const pending: Array<Promise<number>> = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * seconds * 1000) / count;
    if (due > now()) await sleep(due - now());
    pending.push(send(i));
  }
  return Promise.all(pending);
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  const cluster = await startProcessCluster('bench_agents', { gateways: 2, replicas: 1, extraEnv: { TRUSTED_PROXIES: '1', LOG_LEVEL: 'warn', SSE_STREAMS_PER_USER: String(Math.max(SSE, 8)) } });
  try {
    const [g1, g2] = cluster.gateways;
    const gw = (i: number) => (i % 2 === 0 ? g1 : g2);
    const owner = (await post(g1, '/api/v1/auth/dev-token', { user_id: 'bench-owner', display_name: 'Owner' })).access_token as string;
    const session = await post(g1, '/api/v1/collaboration/sessions', { name: 'bench agents', max_participants: 1_000 }, owner);
    const sid = session.session_id as string;
    const invite = await post(g1, `/api/v1/collaboration/sessions/${sid}/invite`, { role: 'editor' }, owner);

    // ---- enqueue ----
    const userCount = SSE_ONLY ? 1 : USERS;
    progress(`${userCount} users joining`);
    // Joined ten at a time: the setup is not what is measured, and fifty at once time out on a loaded machine.
    const users: Socket[] = [];
    for (let g = 0; g < userCount; g += 10) {
      users.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, userCount - g) }, async (_, k) => {
            const i = g + k;
            const token = (await post(g1, '/api/v1/auth/dev-token', { user_id: `bench-user-${i}`, display_name: `User ${i}` })).access_token as string;
            await post(g1, `/api/v1/collaboration/invites/${invite.code as string}/redeem`, {}, token);
            return member(gw(i), sid, token, `user-${i}`);
          }),
        )),
      );
    }
    // BENCH_ONLY=sse_fanout: the enqueue and dispatch parts send nothing; one agent joins, to stream.
    if (!SSE_ONLY) progress(`enqueue: ${ENQUEUE_RATE}/s for ${SECONDS} s`);
    const enqueueCount = SSE_ONLY ? 0 : ENQUEUE_RATE * SECONDS;
    const enqueueStart = now();
    let enqueueFailed = 0;
    const enqueue = (
      await paced(enqueueCount, SECONDS, async (i) => {
        const t0 = now();
        try {
          await ack(users[i % USERS], 'prompt_submit', { session_id: sid, content: `bench ${i}`, client_msg_id: `e-${i}` });
          return now() - t0;
        } catch (err) {
          // Counted, not hidden: a submit that timed out (the session's queue lock is the bottleneck) is a failure.
          enqueueFailed++;
          progress(`submit ${i} failed: ${(err as Error).message.slice(0, 120)}`);
          return -1;
        }
      })
    ).filter((ms) => ms >= 0);
    const enqueuePerS = enqueueCount / ((now() - enqueueStart) / 1000);
    // Clear the backlog so the agents start idle.
    const queues = (await (await fetch(`${g1}/api/v1/collaboration/sessions/${sid}/queue`, { headers: { authorization: `Bearer ${owner}` } })).json()) as Array<{ length: number }>;
    progress(`queue length after enqueue: ${queues.map((q) => q.length).join(', ')}; draining`);

    // ---- dispatch ----
    const agents = await Promise.all(
      Array.from({ length: SSE_ONLY ? 1 : AGENTS }, async (_, i) => {
        const created = await post(g1, `/api/v1/collaboration/sessions/${sid}/agents`, { name: `Agent ${i}` }, owner);
        return member(gw(i), sid, created.access_token as string, `agent-${i}`);
      }),
    );
    const drain = async (agent: Socket) => {
      for (;;) {
        const claimed = (await ack(agent, 'prompt_claim', { session_id: sid })).prompt as Json | null;
        if (claimed === null) return;
        await ack(agent, 'prompt_done', { session_id: sid, message_id: claimed.message_id });
      }
    };
    await Promise.all(agents.map(drain));
    if (!SSE_ONLY) progress('dispatch: 20 prompts/s to idle agents');
    const assignedAt = new Map<string, number>();
    let stopAgents = false;
    for (const agent of agents) {
      let busy = false;
      const take = async () => {
        if (busy || stopAgents) return;
        busy = true;
        try {
          for (;;) {
            const claimed = (await ack(agent, 'prompt_claim', { session_id: sid })).prompt as Json | null;
            if (claimed === null) return;
            assignedAt.set(claimed.message_id as string, now());
            await ack(agent, 'prompt_done', { session_id: sid, message_id: claimed.message_id });
          }
        } finally {
          busy = false;
        }
      };
      agent.on('queue_updated', (q: { length: number }) => {
        // A claim in flight when the sockets close at the end rejects: not a failure of the run.
        if (q.length > 0) take().catch((err: unknown) => progress(`claim loop ended: ${(err as Error).message.slice(0, 80)}`));
      });
    }
    const queuedAt = new Map<string, number>();
    await paced(SSE_ONLY ? 0 : 20 * SECONDS, SECONDS, async (i) => {
      const reply = await ack(users[i % USERS], 'prompt_submit', { session_id: sid, content: `dispatch ${i}`, client_msg_id: `d-${i}` });
      queuedAt.set(reply.message_id as string, now());
      return 0;
    });
    if (!SSE_ONLY) await sleep(2_000);
    stopAgents = true;
    const dispatch = [...queuedAt].filter(([id]) => assignedAt.has(id)).map(([id, t]) => Math.max(0, (assignedAt.get(id) ?? t) - t));
    progress(`dispatch: ${dispatch.length}/${queuedAt.size} assigned`);

    // ---- sse fan-out ----
    progress(`sse: ${SSE} readers`);
    const delays: number[] = [];
    // A reader counts as attached once the live `user_message` of the streamed prompt reached it (its replay done).
    let attachedReaders = 0;
    const readers = await Promise.all(
      Array.from({ length: SSE }, (_, i) => {
        const url = new URL(`${gw(i)}/api/v1/collaboration/sessions/${sid}/stream`);
        return new Promise<{ close(): void }>((resolve, reject) => {
          const req = httpRequest(url, { headers: { authorization: `Bearer ${owner}`, accept: 'text/event-stream', 'x-forwarded-for': `11.0.${(i >> 8) & 255}.${i & 255}` } }, (res) => {
            let buffer = '';
            let attached = false;
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              buffer += chunk;
              let end: number;
              while ((end = buffer.indexOf('\n\n')) >= 0) {
                const frame = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                if (!attached && frame.includes('event: user_message')) {
                  attached = true;
                  attachedReaders++;
                }
                if (!frame.includes('event: partial_response')) continue;
                const data = frame.split('\n').find((l) => l.startsWith('data: '));
                if (data) delays.push(now() - Number((JSON.parse(data.slice(6)) as { data: { data: string } }).data.data));
              }
            });
            resolve({ close: () => req.destroy() });
          });
          req.on('error', reject);
          req.end();
        });
      }),
    );
    const streamer = agents[0];
    const held = (await ack(users[0], 'prompt_submit', { session_id: sid, content: 'stream', client_msg_id: 'sse-0' })).message_id as string;
    const attachDeadline = now() + 60_000;
    while (attachedReaders < SSE && now() < attachDeadline) await sleep(100);
    progress(`sse: ${attachedReaders}/${SSE} readers attached`);
    const chunks = CHUNK_RATE * SECONDS;
    const sseStart = now();
    let sseFailed = 0;
    await paced(chunks, SECONDS, async (i) => {
      try {
        await ack(streamer, 'agent_output', { session_id: sid, message_id: held, kind: 'partial_response', index: i, data: String(now()) });
      } catch (err) {
        // Counted, not fatal: on a loaded machine the paced sends bunch up and may hit the agent budget.
        sseFailed++;
        progress(`chunk ${i} failed: ${(err as Error).message.slice(0, 120)}`);
      }
      return 0;
    });
    const sseSeconds = (now() - sseStart) / 1000;
    // Until every frame is read, or nothing more arrived for 3 s (30 s at most): a backlog is delivered late, not lost.
    const drainDeadline = now() + 30_000;
    for (let seen = -1, quietSince = now(); delays.length < (chunks - sseFailed) * SSE && now() < drainDeadline && now() - quietSince < 3_000; await sleep(100)) {
      if (delays.length !== seen) {
        seen = delays.length;
        quietSince = now();
      }
    }
    for (const r of readers) r.close();

    const figures = {
      enqueue: { users: USERS, offered_per_s: ENQUEUE_RATE, failed: enqueueFailed, per_s: round((enqueueCount - enqueueFailed) / (enqueueCount / enqueuePerS), 1), p50_ms: round(percentile(enqueue, 50)), p99_ms: round(percentile(enqueue, 99)) },
      dispatch: { agents: AGENTS, prompts: queuedAt.size, assigned: dispatch.length, prompt_to_assigned_p50_ms: round(percentile(dispatch, 50)), prompt_to_assigned_p99_ms: round(percentile(dispatch, 99)) },
      sse_fanout: {
        clients: SSE,
        attached: attachedReaders,
        chunks_per_s: round((chunks - sseFailed) / sseSeconds, 1),
        failed: sseFailed,
        deliveries: delays.length,
        expected_deliveries: (chunks - sseFailed) * SSE,
        delivery_p50_ms: round(percentile(delays, 50)),
        delivery_p99_ms: round(percentile(delays, 99)),
      },
      cpu_calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() },
    };
    if (SSE_ONLY) {
      printTable('agents (BENCH_ONLY=sse_fanout)', [{ part: 'sse_fanout', n: SSE, rate: figures.sse_fanout.chunks_per_s, p50: figures.sse_fanout.delivery_p50_ms, p99: figures.sse_fanout.delivery_p99_ms }]);
      writeResult(process.env.BENCH_RESULT ?? 'agents-sse_fanout', { sse_fanout: figures.sse_fanout, cpu_calibration_ms: figures.cpu_calibration_ms });
      for (const s of [...users, ...agents]) s.close();
      return;
    }
    printTable('agents', [
      { part: 'enqueue', n: USERS, rate: figures.enqueue.per_s, p50: figures.enqueue.p50_ms, p99: figures.enqueue.p99_ms },
      { part: 'dispatch', n: AGENTS, rate: 20, p50: figures.dispatch.prompt_to_assigned_p50_ms, p99: figures.dispatch.prompt_to_assigned_p99_ms },
      { part: 'sse_fanout', n: SSE, rate: figures.sse_fanout.chunks_per_s, p50: figures.sse_fanout.delivery_p50_ms, p99: figures.sse_fanout.delivery_p99_ms },
    ]);
    writeResult(process.env.BENCH_RESULT ?? 'agents', figures);
    for (const s of [...users, ...agents]) s.close();
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
