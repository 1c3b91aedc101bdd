import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@chorus/testing';
import { inTransaction, poolOf, prepared, runPrepared } from './prepared';

const INSERT = prepared('prepared_spec_insert', 'INSERT INTO t (n) SELECT unnest($1::int[]) RETURNING n');
const COUNT = prepared('prepared_spec_count', 'SELECT count(*)::int AS n FROM t');

describe('prepared statements on the DataSource pool (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('database_prepared');
    ds = new DataSource({ type: 'postgres', url: db.url, extra: { max: 2 } });
    await ds.initialize();
    await ds.query('CREATE TABLE t (n int PRIMARY KEY)');
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  const count = async (): Promise<number> => (await runPrepared<{ n: number }>(poolOf(ds), COUNT, []))[0].n;

  it('runs a named statement again and again on every pooled connection, with its parameters', async () => {
    const pool = poolOf(ds);
    const batches = await Promise.all(Array.from({ length: 10 }, (_, i) => runPrepared<{ n: number }>(pool, INSERT, [[i * 2, i * 2 + 1]])));
    expect(batches.flat().map((r) => r.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await count()).toBe(20);
  });

  it('inTransaction commits what the work did, or rolls all of it back and rethrows', async () => {
    const before = await count();
    await inTransaction(poolOf(ds), async (client) => {
      await runPrepared(client, INSERT, [[100, 101]]);
    });
    expect(await count()).toBe(before + 2);
    await expect(
      inTransaction(poolOf(ds), async (client) => {
        await runPrepared(client, INSERT, [[102]]);
        await runPrepared(client, INSERT, [[100]]); // duplicate key
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await count()).toBe(before + 2);
    // The connection went back to the pool healthy: both connections still work.
    await Promise.all([count(), count(), inTransaction(poolOf(ds), (client) => runPrepared(client, COUNT, []))]);
  });

  it('survives the server terminating the backend mid-transaction: the work fails, the connection is dropped, the pool goes on', async () => {
    const pool = poolOf(ds);
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      const work = inTransaction(pool, async (client) => {
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
        const sleeping = client.query('SELECT pg_sleep(5)');
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await sleeping;
      });
      // Without the listener inTransaction holds, the client's 'error' event would be an uncaught exception.
      await expect(work).rejects.toThrow(/terminat/i);
      expect(await count()).toBeGreaterThanOrEqual(0);
      await inTransaction(pool, (client) => runPrepared(client, COUNT, []));
    } finally {
      await admin.end();
    }
  });

  it('refuses to declare one statement name with two texts', () => {
    expect(() => prepared('prepared_spec_count', 'SELECT 2')).toThrow(/declared twice/);
    expect(prepared('prepared_spec_count', 'SELECT count(*)::int AS n FROM t')).toEqual(COUNT);
  });

  it('refuses a DataSource that is not an initialized Postgres one', () => {
    const idle = new DataSource({ type: 'postgres', url: db.url });
    expect(() => poolOf(idle)).toThrow(/not an initialized Postgres/);
  });
});
