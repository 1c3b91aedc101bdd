import { Logger } from '@nestjs/common';
import type { Identity, JoinGrant } from '@chorus/auth';
import { ChorusError } from '@chorus/protocol';
import { ALICE, BOB, sessionReplicas, type SessionReplicas } from '../testing/session-replicas';
import { SessionJanitor } from './janitor';
import { SessionService } from './session.service';

// A peer id belongs to one user within a session (session_peers): the first join claims it, the same user may
// join with it again, anyone else is refused — also when two users race for it on several replicas.

let replicas: SessionService[];
let env: SessionReplicas['env'];
let sessionWithBob: SessionReplicas['sessionWithBob'];
let cluster: SessionReplicas;
const alice = ALICE;
const bob = BOB;

const grant = (who: Identity, sessionId: string): JoinGrant => ({ ...who, session_id: sessionId, role: 'editor' });

async function refusal(p: Promise<unknown>): Promise<ChorusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ChorusError)) throw new Error(`expected a ChorusError, got ${String(err)}`);
  return err;
}

beforeAll(async () => {
  cluster = await sessionReplicas('peer_ownership');
  ({ replicas, env, sessionWithBob } = cluster);
});
afterAll(async () => {
  await cluster.close();
});

it("refuses another user's peer id with PERMISSION_DENIED naming peer_id, and records no peer_joined for it", async () => {
  const sid = await sessionWithBob();
  await replicas[0].connect(grant(alice, sid), 'alice-tab-1');
  const err = await refusal(replicas[1].connect(grant(bob, sid), 'alice-tab-1'));
  expect(err).toMatchObject({ code: 'PERMISSION_DENIED', details: { field: 'peer_id' } });
  expect(err.message).toMatch(/pick another peer_id/i);
  const joins = (await env.ds.query(`SELECT payload FROM session_events WHERE session_id = $1 AND type = 'peer_joined'`, [sid])) as Array<{ payload: { peer_id: string; user_id: string } }>;
  expect(joins.map((j) => [j.payload.peer_id, j.payload.user_id])).toEqual([['alice-tab-1', 'alice']]);
  // Bob with a peer id of his own is fine.
  await expect(replicas[1].connect(grant(bob, sid), 'bob-tab-1')).resolves.toMatchObject({ role: 'editor' });
});

it('lets the owner of a peer id join with it again (reconnect), on any replica', async () => {
  const sid = await sessionWithBob();
  for (const r of replicas) await expect(r.connect(grant(alice, sid), 'alice-tab-1')).resolves.toMatchObject({ role: 'owner' });
  const rows = (await env.ds.query(`SELECT peer_id, user_id FROM session_peers WHERE session_id = $1`, [sid])) as Array<{ peer_id: string; user_id: string }>;
  expect(rows).toEqual([{ peer_id: 'alice-tab-1', user_id: 'alice' }]);
});

it('the same peer id string in another session is another peer', async () => {
  const [s1, s2] = [await sessionWithBob(), await sessionWithBob()];
  await replicas[0].connect(grant(alice, s1), 'tab-1');
  await expect(replicas[1].connect(grant(bob, s2), 'tab-1')).resolves.toMatchObject({ role: 'editor' });
});

it('concurrent claims of one peer id by two users on three replicas: exactly one user wins, every time', async () => {
  for (let round = 0; round < 10; round++) {
    const sid = await sessionWithBob();
    const attempts = Array.from({ length: 6 }, (_, i) => replicas[i % 3].connect(grant(i % 2 === 0 ? alice : bob, sid), 'contested').then(
      () => ({ user: i % 2 === 0 ? 'alice' : 'bob', ok: true as const }),
      (err: unknown) => ({ user: i % 2 === 0 ? 'alice' : 'bob', ok: false as const, code: (err as ChorusError).code }),
    ));
    const results = await Promise.all(attempts);
    const winners = new Set(results.filter((r) => r.ok).map((r) => r.user));
    expect(winners.size).toBe(1);
    // The winner's every attempt succeeds (its own peer id); the loser's every attempt is refused.
    for (const r of results) expect(r.ok ? 'joined' : r.code).toBe(winners.has(r.user) ? 'joined' : 'PERMISSION_DENIED');
    const [owner] = (await env.ds.query(`SELECT user_id FROM session_peers WHERE session_id = $1 AND peer_id = 'contested'`, [sid])) as Array<{ user_id: string }>;
    expect(winners).toEqual(new Set([owner.user_id]));
  }
});

it("purging a session removes its peer claims with the session's other rows", async () => {
  const sid = await sessionWithBob();
  await replicas[0].connect(grant(alice, sid), 'alice-tab-1');
  await env.ds.query(`UPDATE sessions SET deleted_at = now() - interval '2 days' WHERE id = $1`, [sid]);
  await new SessionJanitor(env.ds, new Logger('peer-ownership.spec'), { intervalMs: 60_000, graceSeconds: 24 * 3600, auditRetentionS: 24 * 3600, batch: 100 }).runOnce();
  const left = (await env.ds.query(`SELECT count(*)::int AS n FROM session_peers WHERE session_id = $1`, [sid])) as Array<{ n: number }>;
  expect(left[0].n).toBe(0);
});

it('many joins at once, each with a new peer id, on three replicas: every one succeeds (no deadlock between the peer claim and the append)', async () => {
  // The claim inserts into session_peers, whose foreign key takes a KEY SHARE lock on the session row; the
  // append then locks that row. With FOR UPDATE there, two such joins deadlocked (seen by the fuzz's 20
  // concurrent attacker joins); FOR NO KEY UPDATE does not conflict with KEY SHARE.
  for (let round = 0; round < 5; round++) {
    const sid = await sessionWithBob();
    const joins = Array.from({ length: 12 }, (_, i) => replicas[i % 3].connect(grant(i % 2 === 0 ? alice : bob, sid), `tab-${round}-${i}`));
    const results = await Promise.allSettled(joins);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const seqs = results.map((r) => (r as PromiseFulfilledResult<{ event: { seq: number } }>).value.event.seq).sort((a, b) => a - b);
    expect(new Set(seqs).size).toBe(12);
  }
});
