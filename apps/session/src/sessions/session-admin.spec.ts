import { Logger } from '@nestjs/common';
import { Hs256Tokens, IdentityTokens, type Identity } from '@chorus/auth';
import { outboundCodec, type OutboundMessage } from '@chorus/contracts';
import { MemoryFanout } from '@chorus/fanout';
import { ChorusError } from '@chorus/protocol';
import { SessionEventLog } from '../events/event-log';
import { SessionEventPublisher } from '../events/event-publisher';
import { migratedSessionDatabase } from '../testing/session-db';
import { AuditTrail } from './audit-trail';
import { SessionJanitor } from './janitor';
import { SessionAdminService } from './session-admin.service';
import { SessionService } from './session.service';

// Session management against the real Postgres: PATCH and its session_updated event, addressed and permanent
// invites, refusals in the audit trail, discovery paging and search, the per-user caps, templates, and the audit
// retention of a deleted session.

const ALICE: Identity = { user_id: 'alice', display_name: 'Alice', kind: 'human' };
const BOB: Identity = { user_id: 'bob', display_name: 'Bob', kind: 'human' };
const CAROL: Identity = { user_id: 'carol', display_name: 'Carol', kind: 'human' };

let env: Awaited<ReturnType<typeof migratedSessionDatabase>>;
let sessions: SessionService;
let admin: SessionAdminService;
let published: OutboundMessage[];

beforeAll(async () => {
  env = await migratedSessionDatabase('session_admin');
  const logger = new Logger('session-admin.spec');
  const fanout = new MemoryFanout<OutboundMessage>(outboundCodec, (reason) => logger.error(`fan-out drop: ${reason}`));
  published = [];
  // Every message handed to the fan-out, recorded (a subscriber of every session would need their ids up front).
  const publish = fanout.publish.bind(fanout);
  fanout.publish = async (sessionId: string, m: OutboundMessage) => {
    published.push(m);
    return publish(sessionId, m);
  };
  const publisher = new SessionEventPublisher(fanout, 'test', logger);
  const log = new SessionEventLog(env.ds, { logger });
  const audit = new AuditTrail(log, publisher, logger);
  const tokens = new Hs256Tokens('a-test-secret-that-is-long-enough-0123456789');
  sessions = new SessionService(
    env.ds,
    log,
    new IdentityTokens(tokens, tokens),
    { joinTokenTtlS: 60, publicUrl: 'http://localhost', defaultInviteTtlS: 3600, caps: { createdPerDay: 1000, openPerUser: 1000 } },
    publisher,
    audit,
  );
  admin = new SessionAdminService(env.ds, log, publisher, audit);
});
afterAll(async () => {
  await env.close();
});

async function rejection(p: Promise<unknown>): Promise<ChorusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ChorusError)) throw new Error(`expected a ChorusError, got ${String(err)}`);
  return err;
}

async function auditTypes(sessionId: string): Promise<Array<{ type: string; payload: Record<string, unknown> }>> {
  return (await admin.auditPage(ALICE, sessionId, { format: 'jsonl', after_seq: 0 })).events as never;
}

it('updates a session by owner or admin, records session_updated with the new values, refuses an editor (audited)', async () => {
  const { session_id: sid } = await sessions.create(ALICE, { name: 'before' });
  const bobInvite = await sessions.createInvite(ALICE, sid, { role: 'editor' });
  await sessions.redeemInvite(BOB, bobInvite.code, undefined);

  const updated = await admin.update(ALICE, sid, { name: 'after', settings: { theme: 'dark' }, is_public: true, password: 'hunter22', max_participants: 7, expires_in_s: 3600, project_path: '/repo' });
  expect(updated).toMatchObject({ name: 'after', settings: { theme: 'dark' }, is_public: true, has_password: true, max_participants: 7, project_path: '/repo', my_role: 'owner' });
  expect(updated.expires_at).not.toBeNull();
  const event = published.find((m) => m.kind === 'event' && m.event.type === 'session_updated' && m.event.session_id === sid);
  expect(event).toMatchObject({ event: { actor: 'alice', payload: { changes: { name: 'after', is_public: true, has_password: true, max_participants: 7 } } } });

  // Clearing the password and the expiry; the same values again change nothing and append nothing.
  const cleared = await admin.update(ALICE, sid, { password: null, expires_in_s: null });
  expect(cleared).toMatchObject({ has_password: false, expires_at: null });
  const before = (await auditTypes(sid)).length;
  await admin.update(ALICE, sid, { name: 'after' });
  expect((await auditTypes(sid)).length).toBe(before);

  const refused = await rejection(admin.update(BOB, sid, { name: 'mine now' }));
  expect(refused.code).toBe('PERMISSION_DENIED');
  const trail = await auditTypes(sid);
  expect(trail[trail.length - 1]).toMatchObject({ type: 'access_refused', payload: { user_id: 'bob', action: 'session.update', code: 'PERMISSION_DENIED' } });
  // A viewer cannot read the audit; the editor's refusal to read it is itself recorded.
  expect((await rejection(admin.auditPage(BOB, sid, { format: 'jsonl', after_seq: 0 }))).code).toBe('PERMISSION_DENIED');
});

it('treats a redelivered PATCH or template.create (same transport request id) as the first one', async () => {
  const { session_id: sid } = await sessions.create(ALICE, { name: 'redelivery' });
  const first = await admin.update(ALICE, sid, { expires_in_s: 3600, password: 'open-sesame' }, 'req-patch-1');
  const count = (await auditTypes(sid)).filter((e) => e.type === 'session_updated').length;
  const again = await admin.update(ALICE, sid, { expires_in_s: 3600, password: 'open-sesame' }, 'req-patch-1');
  expect(again.expires_at).toBe(first.expires_at);
  expect((await auditTypes(sid)).filter((e) => e.type === 'session_updated').length).toBe(count);
  const t1 = await admin.createTemplate(ALICE, { name: 'once' }, 'req-template-1');
  const t2 = await admin.createTemplate(ALICE, { name: 'once' }, 'req-template-1');
  expect(t2.template_id).toBe(t1.template_id);
  await admin.deleteTemplate(ALICE, t1.template_id);
});

it('lets only the addressee redeem an addressed invite; permanent invites never expire; managers list invites', async () => {
  const { session_id: sid } = await sessions.create(ALICE, { name: 'invites' });
  const forBob = await sessions.createInvite(ALICE, sid, { role: 'editor', user_id: 'bob' });
  expect(forBob.user_id).toBe('bob');
  const refused = await rejection(sessions.redeemInvite(CAROL, forBob.code, undefined));
  expect(refused.code).toBe('PERMISSION_DENIED');
  expect(await sessions.redeemInvite(BOB, forBob.token, undefined)).toMatchObject({ role: 'editor' });

  const permanent = await sessions.createInvite(ALICE, sid, { role: 'viewer', permanent: true });
  expect(permanent.expires_at).toBeNull();
  expect(await sessions.redeemInvite(CAROL, permanent.code, undefined)).toMatchObject({ role: 'viewer' });

  const listed = await admin.listInvites(ALICE, sid);
  expect(listed.map((i) => ({ id: i.invite_id, user_id: i.user_id, expires_at: i.expires_at, uses: i.uses }))).toEqual(
    expect.arrayContaining([
      { id: forBob.invite_id, user_id: 'bob', expires_at: forBob.expires_at, uses: 1 },
      { id: permanent.invite_id, user_id: null, expires_at: null, uses: 1 },
    ]),
  );
  await sessions.revokeInvite(ALICE, sid, permanent.invite_id);
  expect((await admin.listInvites(ALICE, sid)).find((i) => i.invite_id === permanent.invite_id)?.revoked_at).not.toBeNull();
  expect((await rejection(sessions.redeemInvite({ user_id: 'dave', display_name: 'Dave', kind: 'human' }, permanent.code, undefined))).code).toBe('NOT_FOUND');
  // Bob (an editor) may not list invites: refused and audited.
  expect((await rejection(admin.listInvites(BOB, sid))).code).toBe('PERMISSION_DENIED');

  const trail = await auditTypes(sid);
  expect(trail.filter((e) => e.type === 'access_refused').map((e) => e.payload)).toEqual([
    { user_id: 'carol', action: 'invite.redeem', code: 'PERMISSION_DENIED', reason: expect.stringContaining('addressed to another user'), resource: forBob.invite_id },
    { user_id: 'bob', action: 'invite.list', code: 'PERMISSION_DENIED', reason: expect.any(String) },
  ]);
});

it('discovers public sessions newest first, by name, page by page with a cursor', async () => {
  const names = ['Rust parser', 'rust lexer', 'Go runtime', 'RUST borrowck', 'private rust'];
  for (const name of names) await sessions.create(ALICE, { name, is_public: name !== 'private rust' });
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10; pages++) {
    const page = await admin.discover(CAROL, { q: 'rust', limit: 2, ...(cursor !== undefined ? { cursor } : {}) });
    seen.push(...page.sessions.map((s) => s.name));
    expect(page.sessions.every((s) => s.my_role === null)).toBe(true);
    if (page.next_cursor === null) break;
    cursor = page.next_cursor;
  }
  expect(seen).toEqual(['RUST borrowck', 'rust lexer', 'Rust parser']);
  expect((await rejection(admin.discover(CAROL, { cursor: 'bm90IGEgY3Vyc29y', limit: 2 }))).details.field).toBe('cursor');
  // LIKE metacharacters are text, not wildcards.
  expect((await admin.discover(CAROL, { q: '%', limit: 10 })).sessions).toEqual([]);
});

it('caps sessions created per day and open sessions per user', async () => {
  const capped = new SessionService(env.ds, new SessionEventLog(env.ds), new IdentityTokens(new Hs256Tokens('a-test-secret-that-is-long-enough-0123456789'), new Hs256Tokens('a-test-secret-that-is-long-enough-0123456789')), {
    joinTokenTtlS: 60,
    publicUrl: 'http://localhost',
    defaultInviteTtlS: 3600,
    caps: { createdPerDay: 3, openPerUser: 2 },
  }, new SessionEventPublisher(new MemoryFanout<OutboundMessage>(outboundCodec, () => undefined), 'test', new Logger('caps')));
  const erin: Identity = { user_id: 'erin', display_name: 'Erin', kind: 'human' };
  // Racing creates on one replica's pool still serialise on the owner lock: exactly two pass the open cap.
  const results = await Promise.allSettled([1, 2, 3].map((i) => capped.create(erin, { name: `e${i}` })));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
  const open = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  expect(open.reason).toMatchObject({ code: 'CONFLICT' });
  const first = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ session_id: string }>).value.session_id;
  await capped.delete(erin, first);
  await capped.create(erin, { name: 'e4' });
  const perDay = await rejection(capped.create(erin, { name: 'e5' }));
  expect(perDay.code).toBe('RATE_LIMITED');
  expect(perDay.details.retry_after_ms).toBeGreaterThan(0);
});

it('creates sessions from a template; templates are private to their owner', async () => {
  const template = await admin.createTemplate(ALICE, {
    name: 'Pairing',
    settings: { theme: 'light', tabs: 2 },
    is_public: true,
    max_participants: 4,
    default_roles: [{ user_id: 'bob', role: 'editor', display_name: 'Bob' }],
    channels: ['x-build'],
    file_permissions: [{ pattern: 'infra/**', role: 'agent', access: 'read' }],
  });
  expect((await admin.listTemplates(ALICE)).map((t) => t.template_id)).toEqual([template.template_id]);
  expect((await rejection(admin.getTemplate(BOB, template.template_id))).code).toBe('NOT_FOUND');
  const renamed = await admin.updateTemplate(ALICE, template.template_id, { description: 'two people, one file' });
  expect(renamed).toMatchObject({ name: 'Pairing', description: 'two people, one file', max_participants: 4 });

  const created = await sessions.create(ALICE, { name: 'from template', template_id: template.template_id, settings: { tabs: 4 } });
  expect(created).toMatchObject({ is_public: true, max_participants: 4, participant_count: 2, settings: { theme: 'light', tabs: 4, channels: ['x-build'], file_permissions: [{ pattern: 'infra/**', role: 'agent', access: 'read' }] } });
  expect((await sessions.participants(ALICE, created.session_id)).map((p) => [p.user_id, p.role])).toEqual(expect.arrayContaining([['alice', 'owner'], ['bob', 'editor']]));
  expect((await rejection(sessions.create(BOB, { name: 'not mine', template_id: template.template_id }))).code).toBe('NOT_FOUND');
  await admin.deleteTemplate(ALICE, template.template_id);
  expect(await admin.listTemplates(ALICE)).toEqual([]);
});

it('keeps a deleted session’s audit trail for the retention period, exportable by its owner, then purges it', async () => {
  const { session_id: sid } = await sessions.create(ALICE, { name: 'retained' });
  await sessions.delete(ALICE, sid);
  expect((await rejection(sessions.get(ALICE, sid))).code).toBe('NOT_FOUND');
  const janitor = (retentionS: number) => new SessionJanitor(env.ds, new Logger('retention'), { intervalMs: 60_000, graceSeconds: 1, auditRetentionS: retentionS, batch: 100 });
  // Within the retention: kept, and the owner still exports it (the deletion is its last event).
  await janitor(3600).runOnce();
  const kept = await admin.auditPage(ALICE, sid, { format: 'jsonl', after_seq: 0 });
  expect(kept.events.map((e) => e.type)).toEqual(['session_created', 'session_deleted']);
  // Past it (the deletion moved an hour back): purged with the session.
  await env.ds.query(`UPDATE sessions SET deleted_at = now() - interval '2 hours' WHERE id = $1`, [sid]);
  await janitor(3600).runOnce();
  expect(Number(((await env.ds.query(`SELECT count(*) AS n FROM session_events WHERE session_id = $1`, [sid])) as Array<{ n: string }>)[0].n)).toBe(0);
  expect((await rejection(admin.auditPage(ALICE, sid, { format: 'jsonl', after_seq: 0 }))).code).toBe('NOT_FOUND');
});
