import { Logger } from '@nestjs/common';
import { loadConfig } from '@chorus/config';
import { createTestDatabase, testRedisUrl, uniqueRedisPrefix, waitFor, type TestDatabase } from '@chorus/testing';
import type { InviteCreated, SessionView } from '@chorus/protocol';
import { startChorus, type RunningChorus } from '../../standalone/chorus';
import { CaptureLogger } from './support/capture-logger';
import { ChorusClient } from './support/chorus-client';
import { Api, TEST_JWT_SECRET } from './support/stack';

// Issue 19, the rest of the audit trail: REST routes answered with a call to the conflict service (documents,
// versions, conflicts) audit their refusals (apps/gateway http/rest-refusals.ts). A viewer refused by a path rule
// on a document's history and on the conflicts of a hidden file, a viewer refused saving a version, an agent
// refused by its read-only rule: each is an `access_refused` line of the JSONL export, with who, what and why.
// An identical refusal repeated within the collapse window is recorded once; answers that are not refusals
// (NOT_FOUND, a stranger) are not recorded. Members see the live push without the path (docs/authorization.md).

let node: RunningChorus;
let db: TestDatabase;
const closers: Array<() => void> = [];

beforeAll(async () => {
  db = await createTestDatabase('rest_refusals');
  const logs = new CaptureLogger();
  Logger.overrideLogger(logs);
  const config = loadConfig('standalone', {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'warn',
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: uniqueRedisPrefix('rest_refusals'),
  });
  node = await startChorus(config, logs);
}, 60_000);
afterAll(async () => {
  closers.forEach((close) => close());
  await node?.stop();
  await db?.drop();
});

const sessions = '/api/v1/collaboration/sessions';
type Line = { seq: number; type: string; actor: string; payload: Record<string, unknown> };

it('audits refused REST document and conflict actions (who, what, why), once per window, and nothing else', async () => {
  const url = `http://127.0.0.1:${node.port}`;
  const api = new Api(url);
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
    const hidden = await api.request('GET', `${doc('secret/keys.md')}/history`, { token: vic });
    expect({ status: hidden.status, code: hidden.body.code, rule: hidden.body.rule }).toEqual({ status: 403, code: 'PERMISSION_DENIED', rule: 'secrets-hidden' });
  }
  // The conflicts of the hidden file: refused too (a conflict route).
  const conflicts = await api.request('GET', `${sessions}/${sid}/conflicts?doc_id=${encodeURIComponent('secret/keys.md')}`, { token: vic });
  expect({ status: conflicts.status, code: conflicts.body.code, rule: conflicts.body.rule }).toEqual({ status: 403, code: 'PERMISSION_DENIED', rule: 'secrets-hidden' });
  // A viewer may not save a version (role), an agent may not save one of a file its rule makes read-only.
  const vicSave = await api.request('POST', `${doc('notes/plan.md')}/versions`, { token: vic, body: {} });
  expect({ status: vicSave.status, code: vicSave.body.code }).toEqual({ status: 403, code: 'PERMISSION_DENIED' });
  const botSave = await api.request('POST', `${doc('infra/main.tf')}/versions`, { token: agent.access_token, body: { label: 'nope' } });
  expect({ status: botSave.status, code: botSave.body.code, rule: botSave.body.rule }).toEqual({ status: 403, code: 'PERMISSION_DENIED', rule: 'infra-readonly-agents' });
  // Not refusals, not recorded: the whole conflict list, a version ahead of head (CONFLICT), a stranger (NOT_FOUND).
  expect((await api.request('GET', `${sessions}/${sid}/conflicts`, { token: vic })).status).toBe(200);
  expect((await api.request('GET', `${doc('notes/plan.md')}/versions/3`, { token: vic })).status).toBe(409); // ahead of head
  expect((await api.request('GET', `${doc('secret/keys.md')}/history`, { token: carol })).status).toBe(404);

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
}, 60_000);
