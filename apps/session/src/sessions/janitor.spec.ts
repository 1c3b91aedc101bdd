import { Logger } from '@nestjs/common';
import { migratedSessionDatabase } from '../testing/session-db';
import { SessionJanitor } from './janitor';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@chorus/database';
import { SESSION_DATA_SOURCE } from '../persistence/session.data-source';

let env: Awaited<ReturnType<typeof migratedSessionDatabase>>;
const replicas: DataSource[] = [];

beforeAll(async () => {
  env = await migratedSessionDatabase('janitor');
  for (let i = 0; i < 3; i++) {
    const ds = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, env.db.url, 2));
    await ds.initialize();
    replicas.push(ds);
  }
});
afterAll(async () => {
  await Promise.all(replicas.map((ds) => ds.destroy()));
  await env.close();
});

async function count(sql: string): Promise<number> {
  return Number(((await env.ds.query(sql)) as Array<{ n: string }>)[0].n);
}

it('removes expired and deleted sessions and dead invites once, with 3 replicas running at the same moment', async () => {
  const ds = env.ds;
  const ids = (await ds.query(`
    INSERT INTO sessions (name, owner_id, expires_at, deleted_at) VALUES
      ('expired long ago', 'u', now() - interval '2 days', NULL),
      ('deleted long ago', 'u', NULL, now() - interval '2 days'),
      ('expired just now', 'u', now() - interval '1 minute', NULL),
      ('alive', 'u', now() + interval '1 day', NULL)
    RETURNING id, name`)) as Array<{ id: string; name: string }>;
  const alive = ids.find((r) => r.name === 'alive')?.id;
  await ds.query(
    `INSERT INTO invites (session_id, code, token_hash, role, created_by, expires_at) VALUES
       ($1, 'AAAAAA', 'h1', 'viewer', 'u', now() - interval '3 days'),
       ($1, 'BBBBBB', 'h2', 'viewer', 'u', now() + interval '3 days')`,
    [alive],
  );
  const janitors = replicas.map((r) => new SessionJanitor(r, new Logger('test'), { intervalMs: 60_000, graceSeconds: 24 * 3600, auditRetentionS: 24 * 3600, batch: 1 }));
  const results = await Promise.all(janitors.map((j) => j.runOnce()));
  const ran = results.filter((r) => r !== null);
  // Whoever ran, the rows went exactly once in total (a replica that found the lock taken reports null).
  const totals = ran.reduce((a, r) => ({ sessions: a.sessions + (r?.sessions ?? 0), invites: a.invites + (r?.invites ?? 0) }), { sessions: 0, invites: 0 });
  const again = await janitors[0].runOnce();
  expect({ sessions: totals.sessions + (again?.sessions ?? 0), invites: totals.invites + (again?.invites ?? 0) }).toEqual({ sessions: 2, invites: 1 });
  expect(await count(`SELECT count(*) AS n FROM sessions`)).toBe(2);
  expect(await count(`SELECT count(*) AS n FROM invites`)).toBe(1);
});
