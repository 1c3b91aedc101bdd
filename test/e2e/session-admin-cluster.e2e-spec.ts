import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@chorus/database';
import { waitFor, type TestDatabase } from '@chorus/testing';
import type { InviteCreated, InviteView, SessionView } from '@chorus/protocol';
import type { RunningChorus } from '../../standalone/chorus';
import { SESSION_DATA_SOURCE } from '../../apps/session/src/persistence/session.data-source';
import { DEFAULT_JANITOR_OPTIONS, SessionJanitor } from '../../apps/session/src/sessions/janitor';
import { ChorusClient } from './support/chorus-client';
import { WsClient } from './support/ws-client';
import { Api, startTestNodes } from './support/stack';

// Issue 19 (part A): session management across two whole nodes sharing the real Postgres and Redis. Alice (the
// owner) works through node A; Vic (a viewer) has a Socket.IO socket on node B, Bob (an editor) a plain /ws
// connection on node A. Alice's PATCH reaches both open sockets as a durable session_updated; an invite
// addressed to Bob is refused for Carol; refusals and lock changes are in the JSONL audit export; a deleted
// session's audit stays for the configured retention, then the purge job removes it.

const RETENTION_S = 2;
const nodes: RunningChorus[] = [];
const closers: Array<() => void> = [];
let db: TestDatabase;
let janitorDs: DataSource;

beforeAll(async () => {
  const started = await startTestNodes('session_admin', { SESSION_AUDIT_RETENTION_S: String(RETENTION_S) });
  nodes.push(...started.nodes);
  db = started.db;
  janitorDs = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, db.url, 2));
  await janitorDs.initialize();
}, 60_000);
afterAll(async () => {
  closers.forEach((close) => close());
  await janitorDs?.destroy();
  for (const n of nodes) await n.stop();
  await db?.drop();
});

const sessions = '/api/v1/collaboration/sessions';

it('pushes session_updated to open sockets on both transports, refuses an addressed invite to others, audits refusals and locks, and keeps a deleted session’s audit for the retention period', async () => {
  const [a, b] = nodes.map((n) => new Api(`http://127.0.0.1:${n.port}`));
  const [urlA, urlB] = nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const alice = await a.devToken('alice', 'Alice');
  const bob = await a.devToken('bob', 'Bob');
  const carol = await b.devToken('carol', 'Carol');
  const vic = await b.devToken('vic', 'Vic');

  const sid = (await a.request<SessionView>('POST', sessions, { token: alice, body: { name: 'admin e2e', settings: { theme: 'light' } } })).body.session_id;
  // An invite addressed to Bob: Carol (on the other node) is refused, Bob redeems it.
  const forBob = (await a.request<InviteCreated>('POST', `${sessions}/${sid}/invite`, { token: alice, body: { role: 'editor', user_id: 'bob' } })).body;
  expect(forBob.user_id).toBe('bob');
  const carolTry = await b.request('POST', `/api/v1/collaboration/invites/${forBob.code}/redeem`, { token: carol, body: {} });
  expect({ status: carolTry.status, code: carolTry.body.code }).toEqual({ status: 403, code: 'PERMISSION_DENIED' });
  expect((await a.request('POST', `/api/v1/collaboration/invites/${forBob.code}/redeem`, { token: bob, body: {} })).status).toBe(200);
  // A permanent viewer link for Vic.
  const link = (await a.request<InviteCreated>('POST', `${sessions}/${sid}/invite`, { token: alice, body: { role: 'viewer', permanent: true } })).body;
  expect(link.expires_at).toBeNull();
  expect((await b.request('POST', `/api/v1/collaboration/invites/${link.token}/redeem`, { token: vic, body: {} })).status).toBe(200);
  const listed = (await b.request<InviteView[]>('GET', `${sessions}/${sid}/invites`, { token: alice })).body;
  expect(listed.map((i) => [i.invite_id, i.user_id, i.uses])).toEqual(expect.arrayContaining([[forBob.invite_id, 'bob', 1], [link.invite_id, null, 1]]));

  const joinToken = async (api: Api, token: string) => (await api.request<{ join_token: string }>('POST', `${sessions}/${sid}/join`, { token, body: {} })).body.join_token;
  const vicSocket = await ChorusClient.connect(urlB, vic);
  closers.push(() => vicSocket.close());
  await vicSocket.ok('join', { session_id: sid, peer_id: 'vic-tab', join_token: await joinToken(b, vic) });
  const bobWs = await WsClient.connect(urlA, bob);
  closers.push(() => bobWs.close());
  expect(await bobWs.request({ type: 'join', session_id: sid, peer_id: 'bob-ws', join_token: await joinToken(a, bob) })).toMatchObject({ type: 'joined' });
  const aliceSocket = await ChorusClient.connect(urlA, alice);
  closers.push(() => aliceSocket.close());
  await aliceSocket.ok('join', { session_id: sid, peer_id: 'alice-tab', join_token: await joinToken(a, alice) });

  // The owner changes settings (node A): both open sockets see the durable event, with the new values.
  const patched = await a.request<SessionView>('PATCH', `${sessions}/${sid}`, { token: alice, body: { name: 'admin e2e (renamed)', settings: { theme: 'dark' }, password: 'sesame-42', max_participants: 10 } });
  expect(patched.status).toBe(200);
  expect(patched.body).toMatchObject({ name: 'admin e2e (renamed)', settings: { theme: 'dark' }, has_password: true, max_participants: 10 });
  const changes = { name: 'admin e2e (renamed)', settings: { theme: 'dark' }, has_password: true, max_participants: 10 };
  const seen = await vicSocket.waitForPush('session_event', (m) => m.event_type === 'session_updated');
  expect(seen).toMatchObject({ session_id: sid, actor: 'alice', payload: { changes } });
  const seenWs = await bobWs.next((f) => f.type === 'session_event' && f.event_type === 'session_updated');
  expect(seenWs).toMatchObject({ seq: seen.seq, payload: { changes } });
  // A viewer may not change the session (node B): 403, recorded.
  const vicPatch = await b.request('PATCH', `${sessions}/${sid}`, { token: vic, body: { name: 'vic was here' } });
  expect({ status: vicPatch.status, code: vicPatch.body.code }).toEqual({ status: 403, code: 'PERMISSION_DENIED' });

  // Refused socket actions are audited (Socket.IO on node B); a lock taken (/ws on node A) and broken by the owner too.
  expect(await vicSocket.request('submit_op', { session_id: sid, doc_id: 'infra/main.tf', version: 0, op: ['x'], seq: 1 })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  expect(await vicSocket.request('lock_file', { session_id: sid, doc_id: 'infra/main.tf' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  expect(await bobWs.request({ type: 'lock_file', session_id: sid, doc_id: 'main.txt', ttl_ms: 60_000 })).toMatchObject({ type: 'file_locked', holder_id: 'bob' });
  expect(await aliceSocket.ok('unlock_file', { session_id: sid, doc_id: 'main.txt', force: true })).toMatchObject({ type: 'file_unlocked', reason: 'broken' });
  // A lock left to lapse: the conflict service's expiry job records it (by `system`) before its push.
  expect(await bobWs.request({ type: 'lock_file', session_id: sid, doc_id: 'notes.md', ttl_ms: 1_000 })).toMatchObject({ type: 'file_locked' });
  await vicSocket.waitForPush('file_unlocked', (m) => m.doc_id === 'notes.md' && m.reason === 'expired', 15_000);
  await waitFor('the expiry in the audit trail', async () => {
    const page = await a.request<{ events: Array<{ type: string; payload: Record<string, unknown> }> }>('GET', `${sessions}/${sid}/audit?format=json`, { token: alice });
    return page.body.events.some((e) => e.type === 'file_lock_released' && e.payload.reason === 'expired');
  }, { timeoutMs: 15_000 });

  // The export (JSON Lines) from the other node: every line one event, in seq order, the refusals with who/what/why.
  type Line = { seq: number; type: string; actor: string; payload: Record<string, unknown> };
  // Socket refusals are recorded before their answer unless the session service is slow (then soon after): read
  // the export until the last of them is there.
  const lines = await waitFor('the export with every refusal', async () => {
    const exported = await fetch(`${urlB}${sessions}/${sid}/audit?format=jsonl`, { headers: { authorization: `Bearer ${alice}` } });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const parsed = (await exported.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    return parsed.filter((l) => l.type === 'access_refused').length >= 4 ? parsed : undefined;
  }, { timeoutMs: 15_000 });
  expect(lines.map((l) => l.seq)).toEqual([...lines.map((l) => l.seq)].sort((x, y) => x - y));
  const refusals = lines.filter((l) => l.type === 'access_refused').map((l) => l.payload);
  expect(refusals).toEqual([
    { user_id: 'carol', action: 'invite.redeem', code: 'PERMISSION_DENIED', reason: expect.stringContaining('addressed to another user'), resource: forBob.invite_id },
    { user_id: 'vic', action: 'session.update', code: 'PERMISSION_DENIED', reason: expect.any(String) },
    { user_id: 'vic', action: 'submit_op', code: 'PERMISSION_DENIED', reason: expect.any(String), resource: 'infra/main.tf' },
    { user_id: 'vic', action: 'lock_file', code: 'PERMISSION_DENIED', reason: expect.any(String), resource: 'infra/main.tf' },
  ]);
  expect(lines.filter((l) => l.type === 'file_lock_acquired' || l.type === 'file_lock_released').map((l) => [l.type, l.payload])).toEqual([
    ['file_lock_acquired', expect.objectContaining({ doc_id: 'main.txt', holder_id: 'bob', peer_id: 'bob-ws' })],
    ['file_lock_released', { doc_id: 'main.txt', holder_id: 'bob', by: 'alice', reason: 'broken' }],
    ['file_lock_acquired', expect.objectContaining({ doc_id: 'notes.md', holder_id: 'bob' })],
    ['file_lock_released', { doc_id: 'notes.md', holder_id: 'bob', by: 'system', reason: 'expired' }],
  ]);
  expect(lines.find((l) => l.type === 'session_updated')).toMatchObject({ actor: 'alice', payload: { changes } });
  // Only owners and admins export (Vic's try is itself recorded).
  expect((await b.request('GET', `${sessions}/${sid}/audit?format=json`, { token: vic })).status).toBe(403);

  // Retention: deleted, the session is gone for everyone, but its audit stays (for its owner) for the period…
  expect((await a.request('DELETE', `${sessions}/${sid}`, { token: alice })).status).toBe(200);
  expect((await b.request('GET', `${sessions}/${sid}`, { token: alice })).status).toBe(404);
  const retentionS = nodes[0].runtime.config.sessions.auditRetentionS;
  expect(retentionS).toBe(RETENTION_S);
  const janitor = new SessionJanitor(janitorDs, new Logger('retention'), { ...DEFAULT_JANITOR_OPTIONS, auditRetentionS: retentionS });
  await janitor.runOnce();
  const kept = await b.request('GET', `${sessions}/${sid}/audit?format=json`, { token: alice });
  expect(kept.status).toBe(200);
  const keptEvents = kept.body.events as Array<{ type: string; payload: Record<string, unknown> }>;
  expect(keptEvents.map((e) => e.type)).toEqual([...lines.map((l) => l.type), 'access_refused', 'session_deleted']);
  expect(keptEvents[keptEvents.length - 2].payload).toMatchObject({ user_id: 'vic', action: 'audit.read' });
  // …then the purge job removes it with the session.
  await waitFor('the purge after the retention period', async () => {
    await janitor.runOnce();
    const [{ n }] = (await janitorDs.query(`SELECT count(*) AS n FROM session_events WHERE session_id = $1`, [sid])) as Array<{ n: string }>;
    return Number(n) === 0;
  }, { timeoutMs: 15_000, intervalMs: 200 });
  expect((await a.request('GET', `${sessions}/${sid}/audit?format=json`, { token: alice })).status).toBe(404);
}, 60_000);
