import type { Identity, JoinGrant } from '@chorus/auth';
import { ALICE, BOB, sessionReplicas, type SessionReplicas } from '../testing/session-replicas';
import { TransportContext } from '@chorus/transport';
import { SessionHandlers } from '../session.handlers';
import { SessionService } from './session.service';
import type { AgentService } from '../agents/agent.service';

// At-least-once delivery: the same transport request (same request id) may run twice — one after the other
// (a redelivery after its replica died past the commit) or at once (a stalled replica resumes while the one
// that claimed its request runs it). And a client resends a chat message after UNAVAILABLE. Each must append
// once. "Replicas" here are SessionServices on their own pools and group-commit logs: the races are real
// Postgres races.

let replicas: SessionService[];
let agents: AgentService[];
let env: SessionReplicas['env'];
let sessionWithBob: SessionReplicas['sessionWithBob'];
let cluster: SessionReplicas;
const alice = ALICE;
const bob = BOB;

const grant = (who: Identity, sessionId: string): JoinGrant => ({ ...who, session_id: sessionId, role: 'editor' });

async function events(sessionId: string, type: string): Promise<Array<{ seq: number; payload: Record<string, unknown> }>> {
  const rows = (await env.ds.query(`SELECT seq, payload FROM session_events WHERE session_id = $1 AND type = $2 ORDER BY seq`, [sessionId, type])) as Array<{ seq: string; payload: Record<string, unknown> }>;
  return rows.map((r) => ({ seq: Number(r.seq), payload: r.payload }));
}

beforeAll(async () => {
  cluster = await sessionReplicas('idempotent_appends');
  ({ replicas, agents, env, sessionWithBob } = cluster);
});
afterAll(async () => {
  await cluster.close();
});

describe('chat_message client_msg_id', () => {
  it('answers a resend with the original message (same seq) and stores it once', async () => {
    const sessionId = await sessionWithBob();
    const first = await replicas[0].chat(sessionId, bob, 'bob-tab', 'hello', { clientMsgId: 'm-1', requestId: 'r.1' });
    // The resend is a new request (new request id), from another connection of the same user.
    const again = await replicas[1].chat(sessionId, bob, 'bob-phone', 'hello', { clientMsgId: 'm-1', requestId: 'r.2' });
    expect(again).toEqual(first);
    expect(first.payload).toMatchObject({ message: 'hello', client_msg_id: 'm-1', peer_id: 'bob-tab' });
    expect(await events(sessionId, 'chat_message')).toEqual([{ seq: first.seq, payload: first.payload }]);
  });

  it('stores the same key once when two replicas handle it at the same moment', async () => {
    const sessionId = await sessionWithBob();
    for (let round = 0; round < 10; round++) {
      const key = `race-${round}`;
      const results = await Promise.all(replicas.map((r, i) => r.chat(sessionId, bob, 'bob-tab', `msg ${round}`, { clientMsgId: key, requestId: `r.${round}.${i}` })));
      expect(new Set(results.map((e) => e.seq)).size).toBe(1);
    }
    const stored = await events(sessionId, 'chat_message');
    expect(stored.map((e) => e.payload.client_msg_id)).toEqual(Array.from({ length: 10 }, (_, i) => `race-${i}`));
    // No seq was burnt by a duplicate: the stream has no gap.
    const all = (await env.ds.query(`SELECT seq FROM session_events WHERE session_id = $1 ORDER BY seq`, [sessionId])) as Array<{ seq: string }>;
    expect(all.map((r) => Number(r.seq))).toEqual(all.map((_, i) => i + 1));
  });

  it('keeps keys per sender: another user, or another session, with the same key is a new message', async () => {
    const sessionId = await sessionWithBob();
    const other = await sessionWithBob();
    const byBob = await replicas[0].chat(sessionId, bob, 'bob-tab', 'from bob', { clientMsgId: 'same' });
    const byAlice = await replicas[0].chat(sessionId, alice, 'alice-tab', 'from alice', { clientMsgId: 'same' });
    const elsewhere = await replicas[0].chat(other, bob, 'bob-tab', 'from bob', { clientMsgId: 'same' });
    expect(byAlice.seq).toBe(byBob.seq + 1);
    expect(byAlice.type === 'chat_message' && byAlice.payload.message).toBe('from alice');
    expect(elsewhere.session_id).toBe(other);
    expect((await events(sessionId, 'chat_message')).length).toBe(2);
  });

  it('dedupes a keyless chat by its transport request id (a redelivery), and never merges keyless resends', async () => {
    const sessionId = await sessionWithBob();
    const [a, b] = await Promise.all([replicas[0].chat(sessionId, bob, 'bob-tab', 'x', { requestId: 'req.7' }), replicas[1].chat(sessionId, bob, 'bob-tab', 'x', { requestId: 'req.7' })]);
    expect(b.seq).toBe(a.seq);
    const c = await replicas[0].chat(sessionId, bob, 'bob-tab', 'x', { requestId: 'req.8' });
    expect(c.seq).toBe(a.seq + 1);
    expect(c.payload).not.toHaveProperty('client_msg_id');
  });
});

describe('one append per transport request', () => {
  it('session.connect delivered twice (at once, then again) appends one peer_joined', async () => {
    const sessionId = await sessionWithBob();
    const [a, b] = await Promise.all([replicas[0].connect(grant(bob, sessionId), 'bob-tab', 'gw.1'), replicas[1].connect(grant(bob, sessionId), 'bob-tab', 'gw.1')]);
    const c = await replicas[2].connect(grant(bob, sessionId), 'bob-tab', 'gw.1');
    expect(b.event).toEqual(a.event);
    expect(c.event).toEqual(a.event);
    expect(c.participants.map((p) => p.user_id).sort()).toEqual(['alice', 'bob']);
    expect((await events(sessionId, 'peer_joined')).map((e) => e.seq)).toEqual([a.event.seq]);
    // A new request (a real rejoin) is a new event.
    const rejoin = await replicas[0].connect(grant(bob, sessionId), 'bob-tab', 'gw.2');
    expect(rejoin.event.seq).toBe(a.event.seq + 1);
  });

  it('session.disconnect delivered twice appends one peer_left', async () => {
    const sessionId = await sessionWithBob();
    const [a, b] = await Promise.all([
      replicas[0].disconnect(sessionId, 'bob', 'bob-tab', 'expired', { requestId: 'presence.1' }),
      replicas[1].disconnect(sessionId, 'bob', 'bob-tab', 'expired', { requestId: 'presence.1' }),
    ]);
    const c = await replicas[2].disconnect(sessionId, 'bob', 'bob-tab', 'expired', { requestId: 'presence.1' });
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect((await events(sessionId, 'peer_left')).length).toBe(1);
  });

  it('a lease expiry retried in new transport requests (its expiry_key) appends one peer_left', async () => {
    const sessionId = await sessionWithBob();
    const expiryKey = `${sessionId}/bob-tab/1764900000000`;
    const a = await replicas[0].disconnect(sessionId, 'bob', 'bob-tab', 'expired', { requestId: 'presence.7', expiryKey });
    const b = await replicas[1].disconnect(sessionId, 'bob', 'bob-tab', 'expired', { requestId: 'presence.8', expiryKey });
    expect(b).toEqual(a);
    // Another expiry of the same peer (a later lease) is another leave.
    const later = await replicas[2].disconnect(sessionId, 'bob', 'bob-tab', 'expired', { requestId: 'presence.9', expiryKey: `${sessionId}/bob-tab/1764900099000` });
    expect(later?.seq).toBe((a?.seq ?? 0) + 1);
    expect((await events(sessionId, 'peer_left')).length).toBe(2);
  });

  it('invite.create delivered twice creates one invite and answers the same reply (code and working token)', async () => {
    const sessionId = await sessionWithBob();
    const body = { role: 'viewer' as const, max_uses: 3 };
    const [a, b] = await Promise.all([replicas[0].createInvite(alice, sessionId, body, 'rest.1'), replicas[1].createInvite(alice, sessionId, body, 'rest.1')]);
    const c = await replicas[2].createInvite(alice, sessionId, body, 'rest.1');
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const invites = (await env.ds.query(`SELECT id FROM invites WHERE session_id = $1`, [sessionId])) as unknown[];
    expect(invites.length).toBe(1);
    expect((await events(sessionId, 'invite_created')).length).toBe(1);
    // The replayed token is the real one: redeeming it works.
    const carol: Identity = { user_id: 'carol', display_name: 'Carol', kind: 'human' };
    await expect(replicas[0].redeemInvite(carol, c.token, undefined)).resolves.toMatchObject({ role: 'viewer', session_id: sessionId });
    // Another request is another invite, with another token.
    const d = await replicas[0].createInvite(alice, sessionId, body, 'rest.2');
    expect(d.invite_id).not.toBe(a.invite_id);
    expect(d.token).not.toBe(a.token);
  });
});

describe('the transport handlers key appends by the request id', () => {
  // What the transport hands a handler on a first delivery and on a redelivery after a claim (same request id).
  const delivery = (pattern: string, requestId: string, deliveryCount: number): TransportContext =>
    new TransportContext({ pattern, requestId, deliveryCount, consumer: `session-${deliveryCount}:abcd`, kind: 'request' });

  it('connect, disconnect, chat and invite.create redelivered after a claim append once each', async () => {
    const sessionId = await sessionWithBob();
    const first = new SessionHandlers(replicas[0], agents[0]);
    const claimer = new SessionHandlers(replicas[1], agents[1]);
    const connect = { grant: grant(bob, sessionId), peer_id: 'bob-tab' };
    expect((await claimer.connect(connect, delivery('session.connect', 'c.1', 2))).event).toEqual((await first.connect(connect, delivery('session.connect', 'c.1', 1))).event);
    const chat = { session_id: sessionId, user: bob, peer_id: 'bob-tab', message: 'hi' };
    expect(await claimer.chat(chat, delivery('session.chat', 'c.2', 2))).toEqual(await first.chat(chat, delivery('session.chat', 'c.2', 1)));
    const disconnect = { session_id: sessionId, user_id: 'bob', peer_id: 'bob-tab', reason: 'disconnected' as const };
    expect(await claimer.disconnect(disconnect, delivery('session.disconnect', 'c.3', 2))).toEqual(await first.disconnect(disconnect, delivery('session.disconnect', 'c.3', 1)));
    const invite = { actor: alice, session_id: sessionId, body: { role: 'editor' as const } };
    expect(await claimer.createInvite(invite, delivery('invite.create', 'c.4', 2))).toEqual(await first.createInvite(invite, delivery('invite.create', 'c.4', 1)));
    const stored = (await env.ds.query(`SELECT type FROM session_events WHERE session_id = $1 ORDER BY seq`, [sessionId])) as Array<{ type: string }>;
    expect(stored.map((r) => r.type)).toEqual(['session_created', 'peer_joined', 'chat_message', 'peer_left', 'invite_created']);
  });
});
