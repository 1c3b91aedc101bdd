import * as Y from 'yjs';
import { ChorusClient as Sdk } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { waitFor, type TestDatabase } from '@chorus/testing';
import type { InviteCreated, SessionView } from '@chorus/protocol';
import type { RunningChorus } from '../../standalone/chorus';
import { ChorusClient } from './support/chorus-client';
import { Api, startTestNodes } from './support/stack';

// Issue 19, the rest of the audit trail, on two whole nodes sharing the real Postgres and Redis: REST routes
// answered with a call to the conflict service (documents, versions, conflicts) audit their refusals (apps/gateway
// http/rest-refusals.ts). A viewer refused by a path rule on a document's history and on the conflicts of a
// hidden file, a viewer refused saving a version, an agent refused by its read-only rule (all through node B):
// each is an `access_refused` line of the JSONL export (node A), with who, what and why. An identical refusal
// repeated within the collapse window is recorded once; answers that are not refusals (CONFLICT, a stranger's
// NOT_FOUND) are not recorded. Members see the live push without the path (docs/authorization.md), and a list
// (conflicts, Yjs documents) leaves out what a rule hides from its reader.

let nodes: RunningChorus[] = [];
let db: TestDatabase;
const closers: Array<() => void> = [];

beforeAll(async () => {
  ({ nodes, db } = await startTestNodes('rest_refusals'));
}, 60_000);
afterAll(async () => {
  closers.forEach((close) => close());
  for (const n of nodes) await n.stop();
  await db?.drop();
});

const sessions = '/api/v1/collaboration/sessions';
type Line = { seq: number; type: string; actor: string; payload: Record<string, unknown> };

it('audits refused REST document and conflict actions (who, what, why), once per window, and nothing else; lists leave out hidden files', async () => {
  const [url, urlB] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const api = new Api(url);
  const b = new Api(urlB);
  const alice = await api.devToken('alice', 'Alice');
  const vic = await api.devToken('vic', 'Vic');
  const carol = await api.devToken('carol', 'Carol');
  const sid = (await api.request<SessionView>('POST', sessions, { token: alice, body: { name: 'rest refusals' } })).body.session_id;
  const link = (await api.request<InviteCreated>('POST', `${sessions}/${sid}/invite`, { token: alice, body: { role: 'viewer' } })).body;
  expect((await api.request('POST', `/api/v1/collaboration/invites/${link.code}/redeem`, { token: vic, body: {} })).status).toBe(200);
  const agent = (await api.request<{ agent_id: string; access_token: string }>('POST', `${sessions}/${sid}/agents`, { token: alice, body: { name: 'terraform-bot' } })).body;
  const rules = [
    { name: 'secrets-hidden', pattern: 'secret/**', role: 'viewer', access: 'none' },
    { name: 'infra-readonly-agents', pattern: 'infra/**', role: 'agent', access: 'read' },
  ];
  expect((await api.request('PUT', `${sessions}/${sid}/file-rules`, { token: alice, body: { rules } })).status).toBe(200);
  // Vic watches the session live: the refusal pushes must not show him the hidden path.
  const vicSocket = await ChorusClient.connect(url, vic);
  closers.push(() => vicSocket.close());
  const join = (await api.request<{ join_token: string }>('POST', `${sessions}/${sid}/join`, { token: vic, body: {} })).body.join_token;
  await vicSocket.ok('join', { session_id: sid, peer_id: 'vic-tab', join_token: join });

  const doc = (path: string) => `${sessions}/${sid}/documents/${encodeURIComponent(path)}`;
  // A hidden file's history, twice: refused naming the rule both times, recorded once.
  for (let i = 0; i < 2; i++) {
    const hidden = await b.request('GET', `${doc('secret/keys.md')}/history`, { token: vic });
    expect({ status: hidden.status, code: hidden.body.code, rule: hidden.body.rule }).toEqual({ status: 403, code: 'PERMISSION_DENIED', rule: 'secrets-hidden' });
  }
  // The conflicts of the hidden file: refused too (a conflict route).
  const conflicts = await b.request('GET', `${sessions}/${sid}/conflicts?doc_id=${encodeURIComponent('secret/keys.md')}`, { token: vic });
  expect({ status: conflicts.status, code: conflicts.body.code, rule: conflicts.body.rule }).toEqual({ status: 403, code: 'PERMISSION_DENIED', rule: 'secrets-hidden' });
  // A viewer may not save a version (role), an agent may not save one of a file its rule makes read-only.
  const vicSave = await b.request('POST', `${doc('notes/plan.md')}/versions`, { token: vic, body: {} });
  expect({ status: vicSave.status, code: vicSave.body.code }).toEqual({ status: 403, code: 'PERMISSION_DENIED' });
  const botSave = await b.request('POST', `${doc('infra/main.tf')}/versions`, { token: agent.access_token, body: { label: 'nope' } });
  expect({ status: botSave.status, code: botSave.body.code, rule: botSave.body.rule }).toEqual({ status: 403, code: 'PERMISSION_DENIED', rule: 'infra-readonly-agents' });
  // Not refusals, not recorded: the whole conflict list, a version ahead of head (CONFLICT), a stranger (NOT_FOUND).
  expect((await b.request('GET', `${sessions}/${sid}/conflicts`, { token: vic })).status).toBe(200);
  expect((await b.request('GET', `${doc('notes/plan.md')}/versions/3`, { token: vic })).status).toBe(409); // ahead of head
  expect((await b.request('GET', `${doc('secret/keys.md')}/history`, { token: carol })).status).toBe(404);

  const refusals = await waitFor('the export with every REST refusal', async () => {
    const exported = await fetch(`${url}${sessions}/${sid}/audit?format=jsonl`, { headers: { authorization: `Bearer ${alice}` } });
    expect(exported.status).toBe(200);
    const lines = (await exported.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    const refused = lines.filter((l) => l.type === 'access_refused');
    return refused.length >= 4 ? refused : undefined;
  }, { timeoutMs: 15_000 });
  expect(refusals.map((l) => [l.actor, l.payload])).toEqual([
    ['vic', { user_id: 'vic', action: 'document.history', code: 'PERMISSION_DENIED', reason: expect.stringContaining('File rule "secrets-hidden"'), resource: 'secret/keys.md' }],
    ['vic', { user_id: 'vic', action: 'conflicts.list', code: 'PERMISSION_DENIED', reason: expect.stringContaining('File rule "secrets-hidden"'), resource: 'secret/keys.md' }],
    ['vic', { user_id: 'vic', action: 'yjs.save_version', code: 'PERMISSION_DENIED', reason: expect.stringContaining('Role "viewer"'), resource: 'notes/plan.md' }],
    [agent.agent_id, { user_id: agent.agent_id, action: 'yjs.save_version', code: 'PERMISSION_DENIED', reason: expect.stringContaining('File rule "infra-readonly-agents"'), resource: 'infra/main.tf' }],
  ]);
  // What members see of them (Vic's own socket, his REST history): who, what, why, but not the hidden path.
  const pushed = await vicSocket.waitForPush('session_event', (m) => m.event_type === 'access_refused' && m.payload.action === 'conflicts.list');
  expect(pushed.payload).toEqual({ user_id: 'vic', action: 'conflicts.list', code: 'PERMISSION_DENIED', reason: expect.stringContaining('File rule "secrets-hidden"') });
  expect(JSON.stringify(vicSocket.of('session_event').filter((m) => m.event_type === 'access_refused'))).not.toContain('secret/keys.md');
  const history = await api.request<{ events: Line[] }>('GET', `${sessions}/${sid}/history?limit=1000`, { token: vic });
  const seen = history.body.events.filter((e) => e.type === 'access_refused');
  expect(seen.map((e) => e.seq)).toEqual(refusals.map((l) => l.seq));
  expect(seen.map((e) => e.payload.resource)).toEqual([undefined, undefined, undefined, undefined]);
  expect(JSON.stringify(seen)).not.toContain('secret/keys.md');
  // The refused request's secrets never reach the trail: no token in any line.
  const text = await (await fetch(`${url}${sessions}/${sid}/audit?format=jsonl`, { headers: { authorization: `Bearer ${alice}` } })).text();
  for (const token of [vic, agent.access_token, alice]) expect(text).not.toContain(token);

  // A conflict in a hidden file: the owner and an editor overlap in secret/plan.md; the owner's list shows it,
  // the viewer's list (200, not a refusal) leaves it out — its text is the file's.
  const bob = await api.devToken('bob', 'Bob');
  const editorInvite = (await api.request<InviteCreated>('POST', `${sessions}/${sid}/invite`, { token: alice, body: { role: 'editor' } })).body;
  expect((await api.request('POST', `/api/v1/collaboration/invites/${editorInvite.code}/redeem`, { token: bob, body: {} })).status).toBe(200);
  const editors = await Promise.all(
    [alice, bob].map(async (token, i) => {
      const socket = await ChorusClient.connect(url, token);
      closers.push(() => socket.close());
      const joinToken = (await api.request<{ join_token: string }>('POST', `${sessions}/${sid}/join`, { token, body: {} })).body.join_token;
      await socket.ok('join', { session_id: sid, peer_id: `editor-${i}`, join_token: joinToken });
      return socket;
    }),
  );
  const [aliceSocket, bobSocket] = editors;
  const plan = { session_id: sid, doc_id: 'secret/plan.md' };
  for (const socket of editors) await socket.ok('open_document', plan);
  await aliceSocket.ok('submit_op', { ...plan, version: 0, op: ['hello world!'], seq: 1 });
  await bobSocket.waitForPush('op', (o) => o.doc_id === plan.doc_id && o.version === 1);
  await bobSocket.ok('submit_op', { ...plan, version: 1, op: [6, { d: 5 }, 'there'], seq: 1 });
  await aliceSocket.ok('submit_op', { ...plan, version: 1, op: [6, { d: 5 }, 'earth'], seq: 2 });
  await aliceSocket.waitForPush('conflict_detected', (c) => c.doc_id === plan.doc_id);
  type Conflicts = { conflicts: Array<{ doc_id: string }> };
  expect((await api.request<Conflicts>('GET', `${sessions}/${sid}/conflicts`, { token: alice })).body.conflicts.map((c) => c.doc_id)).toEqual(['secret/plan.md']);
  const vicList = await api.request<Conflicts>('GET', `${sessions}/${sid}/conflicts`, { token: vic });
  expect({ status: vicList.status, conflicts: vicList.body.conflicts }).toEqual({ status: 200, conflicts: [] });

  // The same for the Yjs documents: two made by Alice's SDK provider, the hidden one left out of Vic's list.
  const sdk = new Sdk({ url, token: alice, peerId: 'alice-sdk' });
  closers.push(() => sdk.close());
  await sdk.connect();
  const session = sdk.session(sid);
  await session.join();
  for (const docId of ['secret/design.md', 'notes/open.md']) {
    const provider = new YjsProvider(session, docId, new Y.Doc());
    closers.unshift(() => void provider.destroy());
    await provider.connect();
  }
  type YjsList = { doc_ids: string[] };
  const aliceDocs = await waitFor('both Yjs documents stored', async () => {
    const listed = (await api.request<YjsList>('GET', `${sessions}/${sid}/yjs-documents`, { token: alice })).body.doc_ids;
    return listed.length === 2 ? listed : undefined;
  }, { timeoutMs: 10_000 });
  expect([...aliceDocs].sort()).toEqual(['notes/open.md', 'secret/design.md']);
  expect((await api.request<YjsList>('GET', `${sessions}/${sid}/yjs-documents`, { token: vic })).body.doc_ids).toEqual(['notes/open.md']);
}, 60_000);
