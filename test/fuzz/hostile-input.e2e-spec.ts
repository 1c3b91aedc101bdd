import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Hs256Tokens, IdentityTokens } from '@chorus/auth';
import { textType, type TextOp } from '@chorus/ot';
import { ChorusClient } from '../e2e/support/chorus-client';
import { Api, TEST_JWT_SECRET, startTestStack, type TestStack } from '../e2e/support/stack';
import { judgeRest, judgeSocket, rawEmit, type Violation } from './support/judge';
import { operationsOf, rawHttp, restCases, type RestTargets } from './support/rest-cases';
import { Seeded } from './support/seeded';
import { BudgetPacer } from './support/pacer';
import { RawJson, socketCases } from './support/socket-cases';

// The hostile-input fuzz (issue 11): seeded malformed messages of every client message type over real
// Socket.IO connections and malformed requests over every REST operation, sent by several attacking users
// while an honest user chats and edits in its own session and a victim sits in a third. Afterwards: every
// answer was typed, nothing malformed was accepted, the product is healthy, every document equals the replay of
// its op log, every session's history is gap-free, no secret reached a response, a push or a log line, the
// victim saw nothing, and the honest user's acks all succeeded with a p99 within 2× its baseline.
//
// Replay a failure with FUZZ_SEED=<seed shown in the failure> npx jest test/fuzz.

const rng = Seeded.fromEnv(20261201);
const SOCKET_CASES = Number(process.env.FUZZ_SOCKET_CASES ?? 2_500);
const ATTACKERS = 10;
const SOCKETS_PER_ATTACKER = 2;
const BASELINE_MS = 4_000;
/** Pause between two REST requests (the Socket.IO attackers are paced by their budgets, see BudgetPacer). */
const ATTACK_GAP_MS = Number(process.env.FUZZ_GAP_MS ?? 30);
/** The attack stops here whatever is left (reported as unsent): the suite stays bounded. */
const ATTACK_DEADLINE_MS = 60_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The honest user's p99 floor: below it, doubling is scheduler noise on a 2-core machine, not an effect. */
const P99_FLOOR_MS = 15;
const VICTIM_PASSWORD = 'victim-secret-passphrase';

let stack: TestStack;
let api: Api;
const sockets: ChorusClient[] = [];
const violations: Violation[] = [];
const secrets: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function report(): string {
  const shown = violations.slice(0, 15).map((v) => `  - ${v.label}: ${v.problem}`);
  return `${violations.length} violation(s) with FUZZ_SEED=${rng.seed}:\n${shown.join('\n')}`;
}

interface Honest {
  readonly latencies: number[];
  readonly chatLatencies: number[];
  readonly failures: string[];
  stop(): Promise<void>;
}

/** The honest user: edits its document (one op in flight) and chats now and then, recording every ack's latency. */
function runHonest(client: ChorusClient, sessionId: string, docId: string, startVersion: number): Honest {
  const latencies: number[] = [];
  const chatLatencies: number[] = [];
  const failures: string[] = [];
  let running = true;
  let version = startVersion;
  let length = 0;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const started = performance.now();
      const reply =
        i % 25 === 24
          ? await client.request('chat_message', { session_id: sessionId, message: `honest ${i}` })
          : await client.request('submit_op', { session_id: sessionId, doc_id: docId, version, op: length === 0 ? ['h'] : [length, 'h'], seq: i + 1 });
      latencies.push(performance.now() - started);
      if (i % 25 === 24) chatLatencies.push(performance.now() - started);
      if (reply.type === 'error') failures.push(`${i}: ${reply.code} ${reply.message}`);
      else if (reply.type === 'op_ack') {
        version = reply.version;
        length++;
      }
      await pause(20);
    }
  })();
  return {
    latencies,
    chatLatencies,
    failures,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** A document's content at head must equal the replay of its whole op log. */
async function checkLog(client: ChorusClient, sessionId: string, docId: string): Promise<string | undefined> {
  const doc = await client.ok('open_document', { session_id: sessionId, doc_id: docId });
  let text = '';
  let version = 0;
  while (version < doc.version) {
    const page = await client.ok('fetch_ops', { session_id: sessionId, doc_id: docId, from_version: version });
    if (page.ops.length === 0) return `${docId}: the op log stops at ${version}, head ${doc.version}`;
    for (const op of page.ops) {
      if (op.version !== version + 1) return `${docId}: op log jumps from ${version} to ${op.version}`;
      text = textType.apply(text, op.op as TextOp);
      version = op.version;
    }
  }
  return text === doc.content ? undefined : `${docId}: content at ${doc.version} differs from the replay of its log`;
}

async function checkHistory(token: string, sessionId: string): Promise<string | undefined> {
  const seqs: number[] = [];
  let after = 0;
  for (;;) {
    const page = await api.request<{ events: Array<{ seq: number }>; next_after_seq: number | null; last_seq: number }>('GET', `/api/v1/collaboration/sessions/${sessionId}/history?after_seq=${after}&limit=1000`, { token });
    if (page.status !== 200) return `history answered ${page.status}`;
    seqs.push(...page.body.events.map((e) => e.seq));
    if (page.body.next_after_seq === null) {
      const expected = Array.from({ length: page.body.last_seq }, (_, i) => i + 1);
      return JSON.stringify(seqs) === JSON.stringify(expected) ? undefined : `history of ${sessionId} is not 1..${page.body.last_seq} without gaps`;
    }
    after = page.body.next_after_seq;
  }
}

async function joinToken(token: string, sessionId: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${sessionId}/join`, { token, body });
  if (res.status !== 200) throw new Error(`join failed: ${res.raw}`);
  secrets.push(res.body.join_token);
  return res.body.join_token;
}

async function createSession(token: string, body: Record<string, unknown>): Promise<string> {
  const res = await api.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token, body });
  if (res.status !== 201) throw new Error(`create failed: ${res.raw}`);
  return res.body.session_id;
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  stack = await startTestStack('fuzz');
  api = new Api(stack.url);
}, 60_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  for (const s of sockets) s.close();
  await stack?.stop();
});

it('holds against seeded hostile input on every message type and REST operation while an honest user works', async () => {
  // ---- people and sessions ----
  const victimToken = await api.devToken('fz-victim', 'Victim');
  const honestToken = await api.devToken('fz-honest', 'Honest');
  const attackerTokens = await Promise.all(Array.from({ length: ATTACKERS }, (_, i) => api.devToken(`fz-attacker-${i}`, `Attacker ${i}`)));
  secrets.push(victimToken, honestToken, VICTIM_PASSWORD);
  const victimSession = await createSession(victimToken, { name: 'victim', password: VICTIM_PASSWORD });
  const honestSession = await createSession(honestToken, { name: 'honest' });
  const attackSession = await createSession(attackerTokens[0], { name: 'attack' });
  for (const token of attackerTokens.slice(1)) {
    const invite = await api.request<{ code: string; token: string }>('POST', `/api/v1/collaboration/sessions/${attackSession}/invite`, { token: attackerTokens[0], body: { role: 'editor' } });
    const redeemed = await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token, body: {} });
    expect(redeemed.status).toBe(200);
  }
  // Reads the attackers' documents afterwards with budgets of its own.
  const auditorToken = await api.devToken('fz-auditor', 'Auditor');
  const auditInvite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${attackSession}/invite`, { token: attackerTokens[0], body: { role: 'viewer' } });
  expect((await api.request('POST', `/api/v1/collaboration/invites/${auditInvite.body.code}/redeem`, { token: auditorToken, body: {} })).status).toBe(200);
  const victimInvite = await api.request<{ token: string }>('POST', `/api/v1/collaboration/sessions/${victimSession}/invite`, { token: victimToken, body: { role: 'editor' } });
  secrets.push(victimInvite.body.token);

  const victim = await ChorusClient.connect(stack.url, victimToken);
  sockets.push(victim);
  await victim.ok('join', { session_id: victimSession, peer_id: 'victim-1', join_token: await joinToken(victimToken, victimSession, { password: VICTIM_PASSWORD }) });
  await victim.ok('submit_op', { session_id: victimSession, doc_id: 'secret.txt', version: 0, op: ['victim text'], seq: 1 });
  const honest = await ChorusClient.connect(stack.url, honestToken);
  sockets.push(honest);
  await honest.ok('join', { session_id: honestSession, peer_id: 'honest-1', join_token: await joinToken(honestToken, honestSession) });
  const honestDoc = await honest.ok('open_document', { session_id: honestSession, doc_id: 'honest.txt' });

  const attackers: Array<{ client: ChorusClient; joinToken: string }> = [];
  for (let i = 0; i < ATTACKERS * SOCKETS_PER_ATTACKER; i++) {
    const token = attackerTokens[i % ATTACKERS];
    const client = await ChorusClient.connect(stack.url, token);
    sockets.push(client);
    await client.ok('join', { session_id: attackSession, peer_id: `attacker-${i}`, join_token: await joinToken(token, attackSession) });
    attackers.push({ client, joinToken: await joinToken(token, attackSession) });
  }

  // ---- every case made up front: generating them (gzip bombs included) must not stall the measured phase ----
  const cases = socketCases({ ownSession: attackSession, victimSession, ownJoinToken: attackers[0].joinToken }, rng, SOCKET_CASES);
  const openapi = JSON.parse((await rawHttp(stack.url, 'GET', '/api/docs-json', {})).text) as { paths: Record<string, Record<string, unknown>> };
  const keys = new IdentityTokens(new Hs256Tokens(TEST_JWT_SECRET), new Hs256Tokens(TEST_JWT_SECRET));
  const forged = new IdentityTokens(new Hs256Tokens('another-secret-that-is-long-enough-for-hs256-xx'), new Hs256Tokens('another-secret-that-is-long-enough-for-hs256-xx'));
  const [header, claims] = attackerTokens[0].split('.');
  const restTargets: RestTargets = {
    ownSession: attackSession,
    victimSession,
    victimUser: 'fz-victim',
    attackerToken: attackerTokens[1],
    badAuth: {
      garbage: 'Bearer garbage',
      'another secret': `Bearer ${forged.mintAccess({ user_id: 'fz-victim', display_name: 'V', kind: 'human' }, 600)}`,
      expired: `Bearer ${keys.mintAccess({ user_id: 'fz-victim', display_name: 'V', kind: 'human' }, -60)}`,
      'alg none': `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${claims}.`,
      'signature stripped': `Bearer ${header}.${claims}.`,
      'a join token': `Bearer ${attackers[0].joinToken}`,
      basic: 'Basic ZnV6ejpmdXp6',
      'header 8 KB': `Bearer ${'a'.repeat(8_000)}`,
    },
  };
  const rest = restCases(operationsOf(openapi), restTargets, rng);

  // ---- baseline: the honest user alone ----
  const baseline = runHonest(honest, honestSession, 'honest.txt', honestDoc.version);
  await pause(BASELINE_MS);
  await baseline.stop();
  const logLinesBefore = stack.logs.lines.length;

  // ---- the attack: Socket.IO and REST at once, the honest user working throughout ----
  const honestDocNow = await honest.ok('open_document', { session_id: honestSession, doc_id: 'honest.txt' });
  const attackStarted = performance.now();
  const deadline = Date.now() + ATTACK_DEADLINE_MS;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const during = runHonest(honest, honestSession, 'honest.txt', honestDocNow.version);
  const answers = new Map<string, number>();
  const transcript: string[] = [];
  const slowest: Array<{ label: string; ms: number }> = [];
  // One queue for all attackers; a case refused RATE_LIMITED (a window boundary missed) goes back once more.
  const pending = cases.map((c) => ({ c, tries: 0 }));
  let inFlight = 0;
  const socketAttack = Promise.all(
    attackers.map(async ({ client, joinToken: own }) => {
      const pacer = new BudgetPacer(SOCKETS_PER_ATTACKER);
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
        // The cases carry attacker 0's join token; each attacker sends its own where the token is not what is mutated.
        const payload = c.event === 'join' && (c.payload as { join_token?: unknown } | null)?.join_token === attackers[0].joinToken ? { ...(c.payload as object), join_token: own } : c.payload;
        let reply: unknown;
        const sentAt = performance.now();
        inFlight++;
        try {
          reply = payload instanceof RawJson ? await rawEmit(client, c.event, payload.text) : await client.socket.timeout(15_000).emitWithAck(c.event, payload);
        } catch (err) {
          violations.push({ label: c.label, problem: `no answer (${(err as Error).message}); connected: ${client.socket.connected}` });
          if (!client.socket.connected) return;
          continue;
        } finally {
          inFlight--;
        }
        const code = (reply as { type?: string; code?: string }).type === 'error' ? (reply as { code: string }).code : 'ok';
        if (code === 'RATE_LIMITED' && tries < 1) {
          pending.push({ c, tries: tries + 1 });
          continue;
        }
        transcript.push(JSON.stringify(reply));
        slowest.push({ label: c.label, ms: performance.now() - sentAt });
        answers.set(code, (answers.get(code) ?? 0) + 1);
        const problem = judgeSocket(c, reply);
        if (problem) violations.push({ label: c.label, problem });
      }
    }),
  );

  const restAnswers = new Map<number, number>();
  const restAttack = (async () => {
    for (const c of rest) {
      const sentAt = performance.now();
      const res = await rawHttp(stack.url, c.method, c.path, c.headers, c.body).catch((err: Error) => ({ status: 0, text: err.message, headers: {} }));
      transcript.push(res.text);
      slowest.push({ label: c.label, ms: performance.now() - sentAt });
      restAnswers.set(res.status, (restAnswers.get(res.status) ?? 0) + 1);
      const problem = res.status === 0 ? `no answer: ${res.text}` : judgeRest(c, res.status, res.text, c.path === '/metrics');
      if (problem) violations.push({ label: `${c.label} [${c.path.slice(0, 60)}]`, problem });
      await pause(ATTACK_GAP_MS);
    }
  })();
  await Promise.all([socketAttack, restAttack]);
  await during.stop();
  loopDelay.disable();

  // ---- afterwards ----
  const ready = await rawHttp(stack.url, 'GET', '/health/ready', {});
  if (ready.status !== 200) violations.push({ label: 'health', problem: `/health/ready answered ${ready.status} after the fuzz` });
  const errorLines = stack.logs.lines.slice(logLinesBefore).filter((l) => /^\{"level":"(error|fatal)"/.test(l));
  if (errorLines.length > 0) violations.push({ label: 'error log', problem: `${errorLines.length} error lines, the first: ${errorLines[0].slice(0, 300)}` });
  for (const reason of unhandled) violations.push({ label: 'unhandled rejection', problem: String(reason) });

  const auditor = await ChorusClient.connect(stack.url, auditorToken);
  sockets.push(auditor);
  await auditor.ok('join', { session_id: attackSession, peer_id: 'auditor-1', join_token: await joinToken(auditorToken, attackSession) });
  const docs = ['fuzz/a.txt', 'fuzz/b.txt', 'fuzz/ü/ñ.rs', 'src/main.rs', 'src/parser.rs'];
  for (const doc of docs) {
    const problem = await checkLog(auditor, attackSession, doc);
    if (problem) violations.push({ label: 'op log', problem });
  }
  const honestLog = await checkLog(honest, honestSession, 'honest.txt');
  if (honestLog) violations.push({ label: 'op log', problem: honestLog });
  for (const [token, session] of [[auditorToken, attackSession], [honestToken, honestSession], [victimToken, victimSession]] as const) {
    const problem = await checkHistory(token, session);
    if (problem) violations.push({ label: 'history', problem });
  }

  // The victim: its document and its session's history untouched, no push from an attacker.
  const victimDoc = await victim.ok('open_document', { session_id: victimSession, doc_id: 'secret.txt' });
  if (victimDoc.content !== 'victim text') violations.push({ label: 'victim', problem: `document changed to ${JSON.stringify(victimDoc.content.slice(0, 80))}` });
  const history = await api.request<{ events: Array<{ actor: string }> }>('GET', `/api/v1/collaboration/sessions/${victimSession}/history?limit=1000`, { token: victimToken });
  const intruders = history.body.events.filter((e) => e.actor.startsWith('fz-attacker'));
  if (intruders.length > 0) violations.push({ label: 'victim', problem: `${intruders.length} events by attackers in the victim's history` });
  const leaked = victim.pushes.filter((p) => JSON.stringify(p).includes('fz-attacker'));
  if (leaked.length > 0) violations.push({ label: 'victim', problem: `${leaked.length} pushes from attackers reached the victim` });

  // Secrets: never in an answer to an attacker or in a log line.
  const scanned = [...transcript, ...attackers.flatMap((a) => a.client.pushes.map((p) => JSON.stringify(p))), ...stack.logs.lines];
  for (const secret of secrets) if (scanned.some((text) => text.includes(secret))) violations.push({ label: 'secret', problem: `a secret of ${secret.length} characters appeared in an answer, push or log line` });

  // The honest user: every ack succeeded, its p99 within 2× its baseline.
  for (const failure of during.failures.slice(0, 5)) violations.push({ label: 'honest user', problem: failure });
  const baseP99 = percentile(baseline.latencies, 99);
  const fuzzP99 = percentile(during.latencies, 99);
  if (fuzzP99 > 2 * Math.max(baseP99, P99_FLOOR_MS)) violations.push({ label: 'honest user', problem: `p99 ${fuzzP99.toFixed(1)} ms under attack against ${baseP99.toFixed(1)} ms alone` });

  const nonLimited = [...answers.entries()].filter(([code]) => code !== 'RATE_LIMITED').reduce((n, [, count]) => n + count, 0);
  const summary = {
    seconds: +((performance.now() - attackStarted) / 1000).toFixed(1),
    seed: rng.seed,
    socket_messages: cases.length,
    socket_unsent: pending.length,
    socket_answers: Object.fromEntries(answers),
    rest_requests: rest.length,
    rest_statuses: Object.fromEntries(restAnswers),
    event_loop_delay_ms: { p99: +(loopDelay.percentile(99) / 1e6).toFixed(1), max: +(loopDelay.max / 1e6).toFixed(1) },
    slowest: slowest.sort((a, b) => b.ms - a.ms).slice(0, 8).map((s) => `${s.label.slice(0, 60)}: ${s.ms.toFixed(0)} ms`),
    honest: { baseline_ops: baseline.latencies.length, baseline_p99_ms: +baseP99.toFixed(1), attack_ops: during.latencies.length, attack_p99_ms: +fuzzP99.toFixed(1), attack_p50_ms: +percentile(during.latencies, 50).toFixed(1), attack_chat_max_ms: +Math.max(0, ...during.chatLatencies).toFixed(1) },
  };
  process.stdout.write(`hostile-input fuzz: ${JSON.stringify(summary)}\n`);
  if (process.env.FUZZ_REPORT) writeFileSync(process.env.FUZZ_REPORT, JSON.stringify(violations, null, 1));
  // The fuzz must reach the validators, not only the rate limiter, and finish within its deadline.
  expect(nonLimited).toBeGreaterThan(cases.length * 0.9);
  expect(pending.length).toBe(0);
  expect(violations.length === 0 ? 'no violations' : report()).toBe('no violations');
  expect(during.latencies.length).toBeGreaterThan(0);
}, 180_000);
