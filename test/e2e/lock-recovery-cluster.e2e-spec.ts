import { startTsProcess } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession } from './support/scenario';

// `joined.locks` when the conflict service cannot answer (separate processes: 1 gateway, 1 replica of each
// service, real Postgres and Redis): the join still succeeds — chat and presence do not need the locks — but
// without `locks` (which tells the client to learn each document's lock on open), logged and counted on the
// gateway, never silently empty. A conflict replica started again lists the lock, which is durable.

let cluster: ProcessCluster;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster('lock_joined_down', { gateways: 1, replicas: 1, extraEnv: { ADMIN_PORT: '0' } });
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

it('joins without locks while no conflict replica answers (logged, counted), and lists them again once one does', async () => {
  const [url] = cluster.gateways;
  const people = await setUpSession(url, 'lock_joined_down');
  const session_id = people.sessionId;
  const alice = await ChorusClient.connect(url, people.alice.token);
  clients.push(alice);
  await alice.ok('join', { session_id, peer_id: 'alice-tab', join_token: await people.alice.joinToken() });
  const locked = await alice.ok('lock_file', { session_id, doc_id: 'Cargo.toml', ttl_ms: 600_000 });

  await cluster.processes.get('conflict-1')?.stop('SIGKILL');
  const bob = await ChorusClient.connect(url, people.bob.token);
  clients.push(bob);
  const joinToken = await people.bob.joinToken();
  const asked = performance.now();
  const joined = await bob.request('join', { session_id, peer_id: 'bob-tab', join_token: joinToken }, 30_000);
  // Answered by the 1 s bound on the lock read, not the 10 s transport deadline (generous margin for this machine).
  expect(performance.now() - asked).toBeLessThan(7_000);
  expect(joined).toMatchObject({ type: 'joined', session_id, peer_id: 'bob-tab', recovered: true });
  expect(joined).not.toHaveProperty('locks');
  expect(joined).not.toHaveProperty('locks_truncated');
  const gateway = cluster.processes.get('gateway-1');
  expect(gateway?.lines.some((l) => l.includes(`Session ${session_id}: joined without locks (locks.list failed:`))).toBe(true);
  expect(await (await fetch(`${cluster.admins[0]}/metrics`)).text()).toMatch(/^chorus_ws_join_locks_unavailable_total\{[^}]*\} 1$/m);

  const replacement = startTsProcess('apps/conflict/src/main.ts', { ...cluster.env, LOG_LEVEL: 'log', NODE_ID: 'conflict-2' });
  cluster.processes.set('conflict-2', replacement);
  await replacement.waitForLine(/listening on http:\/\//, 60_000);
  const later = await ChorusClient.connect(url, people.bob.token);
  clients.push(later);
  const rejoined = await later.ok('join', { session_id, peer_id: 'bob-laptop', join_token: await people.bob.joinToken() });
  expect(rejoined.locks).toEqual([{ doc_id: 'Cargo.toml', holder_id: 'alice-lock_joined_down', peer_id: 'alice-tab', expires_at: locked.expires_at }]);
});
