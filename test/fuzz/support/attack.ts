import type { Socket } from 'socket.io-client';
import { ChorusClient } from '../../e2e/support/chorus-client';
import { connected as rawConnected } from '../../e2e/support/edge-socket';
import { judgeRest, judgeSocket, rawEmit, type Violation } from './judge';
import { BudgetPacer } from './pacer';
import { operationsOf, rawHttp, restCases, type RestTargets } from './rest-cases';
import { Seeded } from './seeded';
import { RawJson, socketCases, type SocketTargets } from './socket-cases';

// The attack of the fuzz suites: seeded malformed and hostile Socket.IO messages from several attacking
// sockets (each paced by its share of the gateway's budgets) and, at the same time, malformed REST requests
// over every OpenAPI operation. Each attacker is the SDK's wire (support/chorus-client.ts, `requestRaw`), plus a
// raw socket.io-client socket of the same user, opened on its first RawJson case: those are pre-encoded packets
// no encoder (the SDK's included) can write. It runs wherever it is called: the standalone fuzz runs it in a child
// process (attacker.fixture.ts), so the server's event loop measures only the server's work.

export interface AttackInput {
  readonly url: string;
  readonly seed: number;
  readonly socketCases: number;
  /** Attacking sockets: an access token and a join token for the attackers' own session each. */
  readonly sockets: ReadonlyArray<{ readonly token: string; readonly joinToken: string; readonly peerId: string }>;
  readonly socketsPerUser: number;
  readonly targets: SocketTargets;
  /** Omitted: no REST attack. `sample` keeps that share of the cases, plus every cross-session one. */
  readonly rest?: { readonly targets: RestTargets; readonly gapMs: number; readonly sample?: number; /** REST workers at once (default 2). */ readonly concurrency?: number };
  readonly deadlineMs: number;
  /** Replay filters: only these message types; leave out the large cases. */
  readonly only?: readonly string[];
  readonly small?: boolean;
  /** Must appear in no answer and no push an attacker receives. */
  readonly secrets: readonly string[];
}

export interface AttackResult {
  readonly violations: Violation[];
  readonly socketMessages: number;
  readonly unsent: number;
  readonly answers: Record<string, number>;
  readonly restRequests: number;
  /** REST requests sent before the deadline (all of them unless it passed). */
  readonly restSent: number;
  readonly restStatuses: Record<string, number>;
  readonly slowest: string[];
  readonly seconds: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `started` is called once every attacker has connected and joined, as the attack begins. */
export async function runAttack(input: AttackInput, started: () => void = () => undefined): Promise<AttackResult> {
  const rng = new Seeded(input.seed);
  const violations: Violation[] = [];
  const cases = socketCases(input.targets, rng, input.socketCases)
    .filter((c) => !input.only || input.only.includes(c.event))
    .filter((c) => !input.small || !/100 000|10 000|100 KB|nested/.test(c.label));
  const openapi = JSON.parse((await rawHttp(input.url, 'GET', '/api/docs-json', {})).text) as { paths: Record<string, Record<string, unknown>> };
  const rest = input.rest === undefined ? [] : restCases(operationsOf(openapi), input.rest.targets, rng).filter((c) => c.expect === 'denied' || rng.next() < (input.rest?.sample ?? 1));

  const attackers = await Promise.all(
    input.sockets.map(async (s) => {
      const client = await ChorusClient.connect(input.url, s.token);
      const joined = await client.request('join', { session_id: input.targets.ownSession, peer_id: s.peerId, join_token: s.joinToken });
      if (joined.type === 'error') throw new Error(`attacker ${s.peerId} could not join: ${joined.code} ${joined.message}`);
      return client;
    }),
  );
  started();
  // Sockets of the attackers' users for RawJson cases (not joined: those cases are refused before membership).
  const raws = new Map<number, Promise<Socket>>();
  const rawOf = (i: number): Promise<Socket> => {
    let raw = raws.get(i);
    if (!raw) raws.set(i, (raw = rawConnected(input.url, input.sockets[i].token)));
    return raw;
  };
  const startedAt = performance.now();
  const deadline = Date.now() + input.deadlineMs;
  const answers: Record<string, number> = {};
  const restStatuses: Record<string, number> = {};
  const transcript: string[] = [];
  const slowest: Array<{ label: string; ms: number }> = [];
  // One queue for all attackers; a case refused RATE_LIMITED (a window boundary missed) goes back, up to 3 times.
  const pending = cases.map((c) => ({ c, tries: 0 }));
  let inFlight = 0;
  const socketAttack = Promise.all(
    attackers.map(async (client, i) => {
      const own = input.sockets[i].joinToken;
      const pacer = new BudgetPacer(input.socketsPerUser);
      while (Date.now() < deadline) {
        const now = Date.now();
        const index = pending.findIndex((p) => pacer.canSend(p.c.event, now));
        if (index < 0) {
          if (pending.length === 0 && inFlight === 0) return;
          await pause(25);
          continue;
        }
        const [{ c, tries }] = pending.splice(index, 1);
        pacer.record(c.event, now);
        // The cases carry one attacker's join token; each attacker sends its own where the token is not what is mutated.
        const payload = c.event === 'join' && (c.payload as { join_token?: unknown } | null)?.join_token === input.targets.ownJoinToken ? { ...(c.payload as object), join_token: own } : c.payload;
        let reply: unknown;
        const sentAt = performance.now();
        inFlight++;
        try {
          reply = payload instanceof RawJson ? await rawEmit(await rawOf(i), c.event, payload.text) : await client.requestRaw(c.event, payload, 15_000);
        } catch (err) {
          const up = payload instanceof RawJson ? (await rawOf(i)).connected : client.connected;
          violations.push({ label: c.label, problem: `no answer (${(err as Error).message}); connected: ${up}` });
          if (!up) return;
          continue;
        } finally {
          inFlight--;
        }
        const code = (reply as { type?: string; code?: string }).type === 'error' ? (reply as { code: string }).code : 'ok';
        if (code === 'RATE_LIMITED' && tries < 3) {
          pending.push({ c, tries: tries + 1 });
          continue;
        }
        transcript.push(JSON.stringify(reply));
        slowest.push({ label: c.label, ms: performance.now() - sentAt });
        answers[code] = (answers[code] ?? 0) + 1;
        const problem = judgeSocket(c, reply);
        if (problem) violations.push({ label: c.label, problem });
      }
    }),
  );
  let restSent = 0;
  // A few REST workers over one queue of cases (the cases are independent): ~1,400 of them one by one outlast the
  // deadline on a loaded machine.
  const restQueue = [...rest];
  const restAttack = Promise.all(Array.from({ length: input.rest?.concurrency ?? 2 }, async () => {
    for (let c = restQueue.shift(); c !== undefined; c = restQueue.shift()) {
      if (Date.now() > deadline) break;
      restSent++;
      const sentAt = performance.now();
      const res = await rawHttp(input.url, c.method, c.path, c.headers, c.body).catch((err: Error) => ({ status: 0, text: err.message, headers: {} }));
      transcript.push(res.text);
      slowest.push({ label: c.label, ms: performance.now() - sentAt });
      restStatuses[res.status] = (restStatuses[res.status] ?? 0) + 1;
      const problem = res.status === 0 ? `no answer: ${res.text}` : judgeRest(c, res.status, res.text, c.path === '/metrics');
      if (problem) violations.push({ label: `${c.label} [${c.path.slice(0, 60)}]`, problem });
      await pause(input.rest?.gapMs ?? 0);
    }
  }));
  await Promise.all([socketAttack, restAttack]);
  const seconds = (performance.now() - startedAt) / 1000;

  const scanned = [...transcript, ...attackers.flatMap((a) => a.pushes.map((p) => JSON.stringify(p)))];
  for (const secret of input.secrets) if (scanned.some((text) => text.includes(secret))) violations.push({ label: 'secret', problem: `a secret of ${secret.length} characters reached an attacker` });
  for (const a of attackers) a.close();
  for (const raw of raws.values()) (await raw).close();
  return {
    violations,
    socketMessages: cases.length,
    unsent: pending.length,
    answers,
    restRequests: rest.length,
    restSent,
    restStatuses,
    slowest: slowest.sort((a, b) => b.ms - a.ms).slice(0, 8).map((s) => `${s.label.slice(0, 60)}: ${s.ms.toFixed(0)} ms`),
    seconds: +seconds.toFixed(1),
  };
}
