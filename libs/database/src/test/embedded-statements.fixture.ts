// Run in its own process by prepared.spec.ts (PGlite cannot start inside Jest's VM): starts the embedded
// Postgres, holds three pooled connections at once and runs the same statement on each, named or unnamed
// (argv[2]), then one in a transaction. Prints one JSON line: {"ok":true} or {"ok":false,"error":"..."}.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { startEmbeddedPostgres } from '../embedded-postgres';
import { inTransaction, poolOf, prepared, runPrepared } from '../prepared';

const INSERT = prepared('embedded_fixture_insert', 'INSERT INTO t (n) SELECT unnest($1::int[]) RETURNING n');

async function main(): Promise<void> {
  const named = process.argv[2] === 'named';
  const dir = await mkdtemp(join(tmpdir(), 'chorus-embedded-'));
  const embedded = await startEmbeddedPostgres(dir);
  const ds = new DataSource({ type: 'postgres', url: embedded.url, extra: { max: 4 } });
  try {
    await ds.initialize();
    await ds.query('CREATE TABLE t (n int PRIMARY KEY)');
    const pool = poolOf(ds, { prepared: named });
    const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    try {
      for (const [i, client] of held.entries()) await runPrepared(client, INSERT, [[i]]);
    } finally {
      for (const client of held) client.release();
    }
    await inTransaction(pool, (client) => runPrepared(client, INSERT, [[10, 11]]));
    const rows = await runPrepared<{ n: number }>(pool, prepared('embedded_fixture_count', 'SELECT count(*)::int AS n FROM t'), []);
    console.log(JSON.stringify({ ok: rows[0].n === 5 }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, error: (err as Error).message }));
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await embedded.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
