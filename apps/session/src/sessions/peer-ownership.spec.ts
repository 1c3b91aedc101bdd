import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Hs256Tokens, IdentityTokens, type Identity, type JoinGrant } from '@chorus/auth';
import { dataSourceOptions } from '@chorus/database';
import { MemoryFanout } from '@chorus/fanout';
import { ChorusError } from '@chorus/protocol';
import { SessionEventLog } from '../events/event-log';
import { SessionEventPublisher } from '../events/event-publisher';
import { SESSION_DATA_SOURCE } from '../persistence/session.data-source';
import { migratedSessionDatabase } from '../testing/session-db';
import { SessionJanitor } from './janitor';
import { participantsRepo } from './session.repository';
import { SessionService } from './session.service';

// A peer id belongs to one user within a session (session_peers): the first join claims it, the same user may
// join with it again, anyone else is refused — also when two users race for it on several replicas.

let env: Awaited<ReturnType<typeof migratedSessionDatabase>>;
const replicas: SessionService[] = [];
const extra: DataSource[] = [];
const logger = new Logger('peer-ownership.spec');

const alice: Identity = { user_id: 'alice', display_name: 'Alice', kind: 'human' };
const bob: Identity = { user_id: 'bob', display_name: 'Bob', kind: 'human' };

function serviceOn(ds: DataSource): SessionService {
  const tokens = new Hs256Tokens('a-test-secret-that-is-long-enough-0123456789');
  return new SessionService(ds, new SessionEventLog(ds), new IdentityTokens(tokens, tokens), { joinTokenTtlS: 60, publicUrl: 'http://localhost', defaultInviteTtlS: 3600 }, new SessionEventPublisher(new MemoryFanout(), 'test', logger));
}

const grant = (who: Identity, sessionId: string): JoinGrant => ({ ...who, session_id: sessionId, role: 'editor' });

async function sessionWithBob(): Promise<string> {
  const created = await replicas[0].create(alice, { name: 'peers' });
  await participantsRepo.upsert(env.ds, { session_id: created.session_id, ...bob, role: 'editor' });
  return created.session_id;
}

async function refusal(p: Promise<unknown>): Promise<ChorusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ChorusError)) throw new Error(`expected a ChorusError, got ${String(err)}`);
  return err;
}

beforeAll(async () => {
  env = await migratedSessionDatabase('peer_ownership');
  replicas.push(serviceOn(env.ds));
  for (let i = 0; i < 2; i++) {
    const ds = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, env.db.url, 4));
    await ds.initialize();
    extra.push(ds);
    replicas.push(serviceOn(ds));
  }
});
afterAll(async () => {
  await Promise.all(extra.map((ds) => ds.destroy()));
  await env.close();
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
  await new SessionJanitor(env.ds, logger, { intervalMs: 60_000, graceSeconds: 24 * 3600, batch: 100 }).runOnce();
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
