import { ChorusClient } from '../e2e/support/chorus-client';
import { startProcessCluster, type ProcessCluster } from '../e2e/support/cluster';
import { Api } from '../e2e/support/stack';
import { runAttack } from './support/attack';
import { Seeded } from './support/seeded';

// Isolation on the distributed topology (issue 11): the attackers sit on one gateway, the victim on the other,
// each service a separate process over the real Redis transport and Postgres. A seeded share of the fuzz cases
// (malformed and cross-session ones, Socket.IO and REST) crosses the transport; every answer must be typed,
// nothing reaches the victim, and no process logs an error. Replay with FUZZ_SEED=<seed>.

const rng = Seeded.fromEnv(7331);

let cluster: ProcessCluster;
const sockets: ChorusClient[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster('fuzz_cluster', { gateways: 2, replicas: 1 });
}, 120_000);
afterAll(async () => {
  for (const s of sockets) s.close();
  await cluster?.stop();
});

it("keeps one user out of another's session across gateways, answering every hostile message with a typed error", async () => {
  const [gw1, gw2] = cluster.gateways;
  const api1 = new Api(gw1);
  const api2 = new Api(gw2);
  const victimToken = await api1.devToken('cl-victim', 'Victim');
  const attackerTokens = [await api2.devToken('cl-attacker-0', 'A0'), await api2.devToken('cl-attacker-1', 'A1')];
  const victimSession = (await api1.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token: victimToken, body: { name: 'victim' } })).body.session_id;
  const attackSession = (await api2.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token: attackerTokens[0], body: { name: 'attack' } })).body.session_id;
  const invite = await api2.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${attackSession}/invite`, { token: attackerTokens[0], body: { role: 'editor' } });
  expect((await api2.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: attackerTokens[1], body: {} })).status).toBe(200);
  const joinToken = async (api: Api, token: string, session: string) => (await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${session}/join`, { token, body: {} })).body.join_token;

  const victim = await ChorusClient.connect(gw1, victimToken);
  sockets.push(victim);
  await victim.ok('join', { session_id: victimSession, peer_id: 'victim-1', join_token: await joinToken(api1, victimToken, victimSession) });
  await victim.ok('submit_op', { session_id: victimSession, doc_id: 'secret.txt', version: 0, op: ['victim text'], seq: 1 });

  const attackerSockets = [];
  for (let i = 0; i < 4; i++) attackerSockets.push({ token: attackerTokens[i % 2], joinToken: await joinToken(api2, attackerTokens[i % 2], attackSession), peerId: `attacker-${i}` });
  const linesBefore = new Map([...cluster.processes].map(([name, p]) => [name, p.lines.length]));
  const result = await runAttack({
    url: gw2,
    seed: rng.seed,
    socketCases: 600,
    sockets: attackerSockets,
    socketsPerUser: 2,
    targets: { ownSession: attackSession, victimSession, ownJoinToken: await joinToken(api2, attackerTokens[0], attackSession) },
    // Every operation aimed at the victim's session, and a sample of the rest, through the attackers' gateway.
    rest: { gapMs: 0, sample: 0.15, targets: { ownSession: attackSession, victimSession, victimUser: 'cl-victim', attackerToken: attackerTokens[1], badAuth: { garbage: 'Bearer garbage' } } },
    deadlineMs: 90_000,
    secrets: [victimToken],
  });
  const violations = [...result.violations];

  const victimDoc = await victim.ok('open_document', { session_id: victimSession, doc_id: 'secret.txt' });
  if (victimDoc.content !== 'victim text') violations.push({ label: 'victim', problem: 'document changed' });
  const reached = victim.pushes.filter((p) => JSON.stringify(p).includes('cl-attacker'));
  if (reached.length > 0) violations.push({ label: 'victim', problem: `${reached.length} pushes from attackers reached the victim` });
  for (const [name, p] of cluster.processes) {
    const errors = p.lines.slice(linesBefore.get(name) ?? 0).filter((l) => /"level":"(error|fatal)"/.test(l));
    if (errors.length > 0) violations.push({ label: name, problem: `${errors.length} error log lines, the first: ${errors[0].slice(0, 300)}` });
  }
  expect(result.unsent).toBe(0);
  expect(result.restRequests).toBeGreaterThan(20);
  expect(result.restSent).toBe(result.restRequests);
  expect(violations.length === 0 ? 'no violations' : `${violations.length} with FUZZ_SEED=${rng.seed}:\n${violations.slice(0, 15).map((v) => `  - ${v.label}: ${v.problem}`).join('\n')}`).toBe('no violations');
}, 240_000);
