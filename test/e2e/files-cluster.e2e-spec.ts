import { waitFor } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { edgeAgent } from './support/edge-agent';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';
import { WsClient } from './support/ws-client';

// Issue #19 part B on two gateways, as deployed (separate processes, the Redis Streams transport, real Postgres
// and Redis): a path rule makes infra/main.tf read-only for an agent (its submit_op refused naming the rule, an
// editor's accepted, the change live on the other gateway); two editors overlap, one resolves with `merged`, both
// see `conflict_resolved` and the merged text; close_document stops op pushes (over /ws) and reopening resumes.

let cluster: ProcessCluster;
let people: People;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  // Idle after 1.5 s without activity (default 60 s), so the idle transition can be watched.
  cluster = await startProcessCluster('files_cluster', { gateways: 2, replicas: 1, extraEnv: { PRESENCE_IDLE_AFTER_MS: '1500' } });
  people = await setUpSession(cluster.gateways[0], 'files');
}, 180_000);
afterAll(async () => {
  for (const c of open) c.close();
  await cluster?.stop();
});

const base = () => `/api/v1/collaboration/sessions/${people.sessionId}`;

it('a path rule makes infra/** read-only for agents: refused naming the rule, an editor accepted, lifted live', async () => {
  const [gw1, gw2] = cluster.gateways;
  const api = new Api(gw1);
  const session_id = people.sessionId;
  const agent = await edgeAgent(gw1, people, 'terraform-bot');
  const bot = await WsClient.connect(gw2, agent.token);
  const bob = await ChorusClient.connect(gw1, people.bob.token);
  open.push(bot, bob);
  expect(await bot.request({ type: 'join', session_id, peer_id: 'bot-ws', join_token: await agent.joinToken() })).toMatchObject({ type: 'joined' });
  await bob.ok('join', { session_id, peer_id: 'bob-rules', join_token: await people.bob.joinToken() });
  const doc = { session_id, doc_id: 'infra/main.tf' };

  // Only owners and admins set rules.
  const rule = { name: 'infra-readonly-agents', pattern: 'infra/**', role: 'agent', access: 'read' };
  expect((await api.request('PUT', `${base()}/file-rules`, { token: people.bob.token, body: { rules: [rule] } })).status).toBe(403);
  const set = await api.request<{ version: number; rules: unknown[] }>('PUT', `${base()}/file-rules`, { token: people.alice.token, body: { rules: [rule] } });
  expect(set.status).toBe(200);
  expect(set.body).toMatchObject({ version: 1, rules: [rule] });
  // The durable event reaches members on both gateways.
  await bot.next((f) => f.type === 'session_event' && f.event_type === 'file_rules_updated');
  await bob.waitForPush('session_event', (e) => e.event_type === 'file_rules_updated');
  expect((await new Api(gw2).request('GET', `${base()}/file-rules`, { token: people.bob.token })).body).toMatchObject({ version: 1, rules: [rule] });

  // The agent may read the file, not edit or lock it; the editor may.
  expect(await bot.request({ type: 'open_document', ...doc })).toMatchObject({ type: 'document', version: 0 });
  const refused = await bot.request({ type: 'submit_op', ...doc, version: 0, op: ['resource "x" {}'], seq: 1 });
  expect(refused).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', rule: 'infra-readonly-agents', field: 'doc_id' });
  expect((refused as { message: string }).message).toContain('File rule "infra-readonly-agents"');
  expect(await bot.request({ type: 'lock_file', ...doc })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', rule: 'infra-readonly-agents' });
  expect(await bot.request({ type: 'submit_op', session_id, doc_id: 'src/main.rs', version: 0, op: ['fn main() {}'], seq: 2 })).toMatchObject({ type: 'op_ack', version: 1 });
  expect(await bob.ok('submit_op', { ...doc, version: 0, op: ['terraform {}\n'], seq: 1 })).toMatchObject({ type: 'op_ack', version: 1 });

  // Lifting the rule takes effect on the agent's gateway as soon as the event arrives there.
  expect((await api.request('PUT', `${base()}/file-rules`, { token: people.alice.token, body: { rules: [] } })).body).toMatchObject({ version: 2, rules: [] });
  await bot.next((f) => f.type === 'session_event' && f.event_type === 'file_rules_updated' && (f.payload as { version: number }).version === 2);
  expect(await bot.request({ type: 'submit_op', ...doc, version: 1, op: [13, 'provider "aws" {}\n'], seq: 3 })).toMatchObject({ type: 'op_ack', version: 2 });

  // A rule that hides a file from editors also stops the pushes of a copy an editor has open already.
  const secret = { session_id, doc_id: 'secrets/key.txt' };
  await bob.ok('open_document', secret);
  const hidden = { name: 'secrets-hidden', pattern: 'secrets/**', role: 'editor', access: 'none' };
  expect((await api.request('PUT', `${base()}/file-rules`, { token: people.alice.token, body: { rules: [hidden] } })).body).toMatchObject({ version: 3 });
  await bob.waitForPush('session_event', (e) => e.event_type === 'file_rules_updated' && e.payload.version === 3);
  expect(await bob.request('open_document', secret)).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED', rule: 'secrets-hidden' });
  // One publisher (the agent's gateway) in order: the sentinel's op arrives after the hidden file's would have.
  expect(await bot.request({ type: 'submit_op', ...secret, version: 0, op: ['k3y'], seq: 4 })).toMatchObject({ type: 'op_ack', version: 1 });
  expect(await bot.request({ type: 'submit_op', ...doc, version: 2, op: ['# sentinel\n'], seq: 5 })).toMatchObject({ type: 'op_ack', version: 3 });
  await bob.waitForPush('op', (o) => o.doc_id === doc.doc_id && o.version === 3);
  expect(bob.of('op').filter((o) => o.doc_id === secret.doc_id)).toEqual([]);
}, 60_000);

it('two editors overlap; one resolves with merged: both see conflict_resolved and the merged text (audited)', async () => {
  const [gw1, gw2] = cluster.gateways;
  const session_id = people.sessionId;
  const alice = await ChorusClient.connect(gw1, people.alice.token);
  const bob = await ChorusClient.connect(gw2, people.bob.token);
  open.push(alice, bob);
  await alice.ok('join', { session_id, peer_id: 'alice-c', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id, peer_id: 'bob-c', join_token: await people.bob.joinToken() });
  const doc = { session_id, doc_id: 'notes/plan.md' };
  await alice.ok('open_document', doc);
  await bob.ok('open_document', doc);
  await alice.ok('submit_op', { ...doc, version: 0, op: ['hello world!'], seq: 1 });
  await bob.waitForPush('op', (o) => o.doc_id === doc.doc_id && o.version === 1);

  // Both replace "world" at version 1: bob first, alice's op overlaps it.
  await bob.ok('submit_op', { ...doc, version: 1, op: [6, { d: 5 }, 'there'], seq: 1 });
  await alice.ok('submit_op', { ...doc, version: 1, op: [6, { d: 5 }, 'earth'], seq: 2 });
  const detected = await bob.waitForPush('conflict_detected', (c) => c.doc_id === doc.doc_id);
  expect(detected).toMatchObject({ version: 3, base_version: 1, peer_id: 'alice-c', peers: ['alice-c', 'bob-c'] });
  expect(detected.conflict_id).toEqual(expect.any(String));
  expect((await alice.waitForPush('conflict_detected', (c) => c.doc_id === doc.doc_id)).conflict_id).toBe(detected.conflict_id);

  const api = new Api(gw1);
  const listed = await api.request<{ conflicts: Array<Record<string, unknown>> }>('GET', `${base()}/conflicts?state=open&doc_id=${encodeURIComponent(doc.doc_id)}`, { token: people.alice.token });
  expect(listed.status).toBe(200);
  expect(listed.body.conflicts).toHaveLength(1);
  const conflict = listed.body.conflicts[0];
  expect(conflict).toMatchObject({ conflict_id: detected.conflict_id, state: 'open', mine_text: 'earth', theirs_text: 'there', user_id: 'alice-files', overlapped_versions: [2], resolution: null });
  expect(['earththere', 'thereearth']).toContain(conflict.merged_text);

  // Bob resolves with his own merge of the two; the op reaches both editors, the notice too.
  const resolved = await bob.ok('resolve_conflict', { session_id, conflict_id: detected.conflict_id as string, strategy: 'merged', text: 'wide world' });
  expect(resolved).toMatchObject({ type: 'conflict_resolved', conflict_id: detected.conflict_id, strategy: 'merged', text: 'wide world', version: 4, resolved_by: 'bob-files', peer_id: 'bob-c' });
  expect(await alice.waitForPush('conflict_resolved', (r) => r.conflict_id === detected.conflict_id)).toMatchObject({ text: 'wide world', version: 4 });
  for (const c of [alice, bob]) await c.waitForPush('op', (o) => o.doc_id === doc.doc_id && o.version === 4);
  for (const c of [alice, bob]) expect((await c.ok('open_document', doc)).content).toBe('hello wide world!');

  // Resolved once: the second attempt is refused; the list and the audit trail show it.
  expect(await alice.request('resolve_conflict', { session_id, conflict_id: detected.conflict_id as string, strategy: 'keep_mine' })).toMatchObject({ type: 'error', code: 'CONFLICT' });
  const done = await api.request<{ conflicts: Array<Record<string, unknown>> }>('GET', `${base()}/conflicts?state=resolved`, { token: people.bob.token });
  expect(done.body.conflicts.find((c) => c.conflict_id === detected.conflict_id)).toMatchObject({ state: 'resolved', resolution: { strategy: 'merged', text: 'wide world', resolved_by: 'bob-files', version: 4 } });
  expect((await api.request<{ conflicts: unknown[] }>('GET', `${base()}/conflicts?state=open&doc_id=${encodeURIComponent(doc.doc_id)}`, { token: people.bob.token })).body.conflicts).toEqual([]);
  await alice.waitForPush('session_event', (e) => e.event_type === 'conflict_resolved' && e.payload.conflict_id === detected.conflict_id);
  const history = await api.request<{ events: Array<{ type: string; actor: string; payload: Record<string, unknown> }> }>('GET', `${base()}/history?limit=1000`, { token: people.alice.token });
  expect(history.body.events.filter((e) => e.type === 'conflict_resolved')).toEqual([expect.objectContaining({ actor: 'bob-files', payload: expect.objectContaining({ conflict_id: detected.conflict_id, strategy: 'merged', version: 4 }) })]);
}, 60_000);

it('close_document stops op pushes to that connection (over /ws); reopening resumes them', async () => {
  const [gw1, gw2] = cluster.gateways;
  const session_id = people.sessionId;
  const alice = await WsClient.connect(gw1, people.alice.token);
  const bob = await ChorusClient.connect(gw2, people.bob.token);
  open.push(alice, bob);
  await alice.request({ type: 'join', session_id, peer_id: 'alice-close', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id, peer_id: 'bob-close', join_token: await people.bob.joinToken() });
  const closing = { session_id, doc_id: 'docs/closing.md' };
  const sentinel = { session_id, doc_id: 'docs/sentinel.md' };
  for (const d of [closing, sentinel]) expect(await alice.request({ type: 'open_document', ...d })).toMatchObject({ type: 'document' });

  await bob.ok('submit_op', { ...closing, version: 0, op: ['one'], seq: 1 });
  await alice.next((f) => f.type === 'op' && f.doc_id === closing.doc_id && f.version === 1);
  expect(await alice.request({ type: 'close_document', doc_id: closing.doc_id })).toMatchObject({ type: 'document_closed', doc_id: closing.doc_id, session_ids: [session_id] });
  expect(await alice.request({ type: 'close_document', ...closing })).toMatchObject({ type: 'document_closed', session_ids: [] });

  // One publisher (bob's gateway) publishes in order: once the sentinel's op arrived, the closed one's would have.
  await bob.ok('submit_op', { ...closing, version: 1, op: [3, ' two'], seq: 2 });
  await bob.ok('submit_op', { ...sentinel, version: 0, op: ['s'], seq: 3 });
  await alice.next((f) => f.type === 'op' && f.doc_id === sentinel.doc_id);
  expect(alice.of('op').filter((o) => o.doc_id === closing.doc_id).map((o) => o.version)).toEqual([1]);

  expect(await alice.request({ type: 'open_document', ...closing })).toMatchObject({ type: 'document', version: 2, content: 'one two' });
  await bob.ok('submit_op', { ...closing, version: 2, op: [7, ' three'], seq: 4 });
  await alice.next((f) => f.type === 'op' && f.doc_id === closing.doc_id && f.version === 3);
  await waitFor('no duplicate op', () => alice.of('op').filter((o) => o.doc_id === closing.doc_id).length === 2);
}, 60_000);

it('presence pushes the move to idle, and back when the peer is active again, to the rest of the session', async () => {
  const [gw1, gw2] = cluster.gateways;
  const session_id = people.sessionId;
  const alice = await WsClient.connect(gw1, people.alice.token);
  const bob = await ChorusClient.connect(gw2, people.bob.token);
  open.push(alice, bob);
  await alice.request({ type: 'join', session_id, peer_id: 'alice-idle', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id, peer_id: 'bob-idle', join_token: await people.bob.joinToken() });
  // 1.5 s without activity, then at most one 5 s heartbeat of bob's gateway.
  await alice.next((f) => f.type === 'presence_batch' && f.peers.some((p) => p.peer_id === 'bob-idle' && p.status === 'idle'), 20_000);
  const idleAt = alice.frames.length;
  await bob.ok('typing', { session_id, doc_id: 'notes/plan.md' });
  await waitFor('bob online again', () => alice.frames.slice(idleAt).some((f) => f.type === 'presence_batch' && f.peers.some((p) => p.peer_id === 'bob-idle' && p.status === 'online')), { timeoutMs: 20_000 });
}, 60_000);
