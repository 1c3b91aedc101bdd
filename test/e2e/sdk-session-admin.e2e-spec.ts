import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChorusClient, ChorusError, ChorusRest, sessionUpdateOf, type SessionChanges } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { startTestStack, type TestStack } from './support/stack';

// The SDK surface of session management (docs/session-admin.md runs this example): change a session and see it
// live, invite one user, a permanent link, discovery, templates and the audit trail. One whole stack in one
// process on the real Postgres.

let stack: TestStack;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  // In-process transport and fan-out (what `npm start` runs); the two-node Redis case is session-admin-cluster.
  stack = await startTestStack('sdk_session_admin');
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

async function client(userId: string, name: string): Promise<ChorusClient> {
  const token = await ChorusRest.devToken(stack.url, { user_id: userId, display_name: name });
  const c = new ChorusClient({ url: stack.url, token, peerId: `${userId}-sdk` });
  clients.push(c);
  return c;
}

it('manages a session through client.admin', async () => {
  const alice = await client('alice-sa', 'Alice');
  const bob = await client('bob-sa', 'Bob');
  const carol = await client('carol-sa', 'Carol');

  // --- the example of docs/session-admin.md ---
  const template = await alice.admin.createTemplate({ name: 'Review', settings: { theme: 'dark' }, is_public: true, channels: ['x-review'] });
  const session = await alice.admin.createFromTemplate(template.template_id, { name: 'Review: parser' });
  const invite = await alice.admin.inviteUser(session.session_id, 'bob-sa', { role: 'editor' }); // only Bob can redeem it
  await bob.rest.redeemInvite(invite.code);
  const bobSession = bob.session(session.session_id);
  const seen: SessionChanges[] = [];
  bobSession.on('event', (e) => {
    const changes = sessionUpdateOf(e);
    if (changes) seen.push(changes);
  });
  await bobSession.join();
  await alice.admin.updateSession(session.session_id, { name: 'Review: parser v2', max_participants: 5 });
  const names: string[] = [];
  for await (const s of carol.admin.discoverAll({ q: 'review' })) names.push(s.name); // public sessions by name
  const trail = await alice.admin.audit(session.session_id); // every event, refusals included
  // --- end of the example ---

  expect(names).toEqual(['Review: parser v2']);
  expect(session).toMatchObject({ settings: { theme: 'dark', channels: ['x-review'] }, is_public: true });
  await waitFor('Bob sees session_updated', () => seen.length === 1);
  expect(seen[0]).toEqual({ name: 'Review: parser v2', max_participants: 5 });
  expect(trail.map((e) => e.type)).toContain('session_updated');
  const found = [];
  for await (const s of carol.admin.discoverAll({ q: 'PARSER v2', limit: 1 })) found.push(s.session_id);
  expect(found).toEqual([session.session_id]);

  // Carol cannot redeem Bob's invite; a permanent link has no expiry and can be revoked.
  const refused = await carol.rest.redeemInvite(invite.token).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(ChorusError);
  expect((refused as ChorusError).code).toBe('PERMISSION_DENIED');
  const link = await alice.admin.permanentLink(session.session_id, { role: 'viewer' });
  expect(link.expires_at).toBeNull();
  expect((await alice.admin.listInvites(session.session_id)).map((i) => i.invite_id)).toEqual(expect.arrayContaining([invite.invite_id, link.invite_id]));
  await alice.admin.revokeInvite(session.session_id, link.invite_id);
  expect(((await carol.rest.redeemInvite(link.code).catch((e: unknown) => e)) as ChorusError).code).toBe('NOT_FOUND');
  const refusals = (await alice.admin.audit(session.session_id)).filter((e) => e.type === 'access_refused');
  expect(refusals.map((e) => e.payload)).toEqual([expect.objectContaining({ user_id: 'carol-sa', action: 'invite.redeem' })]);

  // Locks are audited in-process too (the conflict service reaches the session service on the in-process transport).
  const doc = await bobSession.document('src/lexer.rs');
  await doc.lockFile(1_000);
  await doc.unlockFile();
  await waitFor('the lock changes in the trail', async () => {
    const kinds = (await alice.admin.audit(session.session_id)).filter((e) => e.type === 'file_lock_acquired' || e.type === 'file_lock_released');
    return kinds.length === 2 ? kinds : undefined;
  });
  expect((await alice.admin.audit(session.session_id)).filter((e) => e.type === 'file_lock_released').map((e) => e.payload)).toEqual([{ doc_id: 'src/lexer.rs', holder_id: 'bob-sa', by: 'bob-sa', reason: 'released' }]);

  // Templates: updated, listed, deleted; private to their owner.
  expect(await alice.admin.updateTemplate(template.template_id, { description: 'code review' })).toMatchObject({ description: 'code review', name: 'Review' });
  expect(((await bob.admin.getTemplate(template.template_id).catch((e: unknown) => e)) as ChorusError).code).toBe('NOT_FOUND');
  await alice.admin.deleteTemplate(template.template_id);
  expect(await alice.admin.listTemplates()).toEqual([]);
});

it('joins a password-protected public session with its password', async () => {
  const olive = await client('olive-pw', 'Olive');
  const dora = await client('dora-pw', 'Dora');
  const { session_id } = await olive.rest.createSession({ name: 'Locked review', is_public: true, password: 'sesame-42' });

  // --- the password example of docs/client.md ---
  const wrong = await dora.rest.joinToken(session_id, 'open-sesame').catch((e: unknown) => e); // PERMISSION_DENIED
  const locked = dora.session(session_id, { password: 'sesame-42' }); // sent with every join token request
  await locked.join();                       // a newcomer joins a public session as a viewer
  // --- end of the password example ---

  expect(wrong).toBeInstanceOf(ChorusError);
  expect({ code: (wrong as ChorusError).code, message: (wrong as ChorusError).message }).toEqual({ code: 'PERMISSION_DENIED', message: 'Wrong session password.' });
  expect(locked.state).toBe('joined');
  expect(locked.participants.map((p) => [p.user_id, p.role]).sort()).toEqual([['dora-pw', 'viewer']]);
  // A participant now: later join tokens need no password.
  expect((await dora.rest.joinToken(session_id)).role).toBe('viewer');
});

it('is the password example docs/client.md shows, line for line', () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'client.md'), 'utf8');
  const example = /<!-- tested: sdk-session-admin password -->\n```ts\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const source = readFileSync(__filename, 'utf8');
  const lines = example.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  expect(lines.length).toBe(3);
  for (const line of lines) expect({ line, inTest: source.includes(line) }).toEqual({ line, inTest: true });
});

it('is the example docs/session-admin.md shows, line for line', () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'session-admin.md'), 'utf8');
  const example = /## SDK[\s\S]*?```ts\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const source = readFileSync(__filename, 'utf8');
  const lines = example.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(5);
  for (const line of lines) expect({ line, inTest: source.includes(line) }).toEqual({ line, inTest: true });
});
