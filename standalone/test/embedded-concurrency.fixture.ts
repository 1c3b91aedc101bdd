// Run in its own process by embedded-database.spec.ts: the embedded Postgres exactly as `npm start` gets it
// (createRuntime for role standalone, no DATABASE_URL), with two pools of runtime.dbPoolMax connections like the
// session and conflict apps. Many concurrent clients mix succeeding and failing statements and transactions;
// each statement carries a unique token that its own answer must contain. Then two connections check that
// transactions are isolated. Prints one JSON line: {"report": {...}}.
import { randomBytes } from 'node:crypto';
import { DataSource, type QueryRunner } from 'typeorm';
import { loadConfig } from '@chorus/config';
import { dataSourceOptions } from '@chorus/database';
import { createRuntime } from '@chorus/runtime';
import { withDeadline } from '@chorus/testing';

const CLIENTS = 24;
const ROUNDS = 60;
/** A wedged database must end the run with a report (rounds not reached count as wrong), never hang it. */
const BUDGET_MS = 60_000;

interface Report {
  answers: number;
  wrong: number;
  examples: string[];
  rowLockBlocksOtherConnection: boolean;
  /** What each isolation step saw, for the reader of a failure. */
  isolation: string[];
  uncommittedRowHiddenFromOtherConnection: boolean;
  poolMax: number;
}

function codeOf(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

function textOf(err: unknown): string {
  const e = err as { message?: string; detail?: string };
  return `${e.message ?? String(err)} ${e.detail ?? ''}`;
}

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  const config = loadConfig('standalone', { CHORUS_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PORT: '0' });
  const runtime = await createRuntime(config);
  const url = runtime.databaseUrl as string;
  const apps = ['session', 'conflict'].map((app) => new DataSource(dataSourceOptions({ app, entities: [], migrations: [] }, url, runtime.dbPoolMax)));
  const report: Report = { answers: 0, wrong: 0, examples: [], isolation: [], rowLockBlocksOtherConnection: false, uncommittedRowHiddenFromOtherConnection: false, poolMax: runtime.dbPoolMax };
  try {
    for (const ds of apps) await ds.initialize();
    await apps[0].query('CREATE TABLE IF NOT EXISTS probe (token text PRIMARY KEY)');
    await apps[0].query(`INSERT INTO probe (token) VALUES ('locked') ON CONFLICT DO NOTHING`);
    await isolation(apps, report);

    const check = (ok: boolean, what: string): void => {
      report.answers++;
      if (ok) return;
      report.wrong++;
      if (report.examples.length < 5) report.examples.push(what);
    };
    // Every statement gets a deadline: a wedged pool must show up as wrong answers, not as a hung test.
    const q = <T>(p: Promise<T>): Promise<T> => withDeadline('a statement on the embedded Postgres', p, 10_000);
    const expectError = async (p: Promise<unknown>, code: string, token: string, what: string): Promise<void> => {
      try {
        await q(p);
        check(false, `${what}: succeeded, expected ${code}`);
      } catch (err) {
        check(codeOf(err) === code && textOf(err).includes(token), `${what}: got ${codeOf(err)} ${textOf(err)}`);
      }
    };
    const deadline = Date.now() + BUDGET_MS;
    const client = async (c: number): Promise<void> => {
      const ds = apps[c % 2];
      for (let round = 0; round < ROUNDS; round++) {
        if (Date.now() > deadline) {
          check(false, `client ${c}: ${ROUNDS - round} rounds not reached within ${BUDGET_MS} ms`);
          return;
        }
        const token = `t${c}-${round}-${randomBytes(4).toString('hex')}`;
        try {
          switch (round % 5) {
            case 0: {
              const rows = (await q(ds.query('SELECT $1::text AS token', [token]))) as Array<{ token: string }>;
              check(rows.length === 1 && rows[0].token === token, `select ${token}: got ${JSON.stringify(rows)}`);
              break;
            }
            case 1: {
              const rows = (await q(ds.query('INSERT INTO probe (token) VALUES ($1) RETURNING token', [token]))) as Array<{ token: string }>;
              check(rows.length === 1 && rows[0].token === token, `insert ${token}: got ${JSON.stringify(rows)}`);
              await expectError(ds.query('INSERT INTO probe (token) VALUES ($1) RETURNING token', [token]), '23505', token, `duplicate insert ${token}`);
              break;
            }
            case 2:
              await expectError(ds.query('SELECT $1::int AS n', [token]), '22P02', token, `bad cast ${token}`);
              break;
            case 3:
            case 4: {
              const commit = round % 5 === 4;
              const runner = ds.createQueryRunner();
              await q(runner.connect());
              try {
                await q(runner.startTransaction());
                await q(runner.query('INSERT INTO probe (token) VALUES ($1)', [token]));
                const inside = (await q(runner.query('SELECT token FROM probe WHERE token = $1', [token]))) as Array<{ token: string }>;
                check(inside.length === 1 && inside[0].token === token, `own insert inside transaction ${token}: got ${JSON.stringify(inside)}`);
                await q(commit ? runner.commitTransaction() : runner.rollbackTransaction());
              } finally {
                await runner.release();
              }
              const after = (await q(ds.query('SELECT count(*)::int AS n FROM probe WHERE token = $1', [token]))) as Array<{ n: number }>;
              check(after[0]?.n === (commit ? 1 : 0), `${token} after ${commit ? 'commit' : 'rollback'}: count ${JSON.stringify(after)}`);
              break;
            }
          }
        } catch (err) {
          check(false, `${token}: unexpected ${codeOf(err) ?? ''} ${textOf(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  } finally {
    for (const ds of apps) if (ds.isInitialized) await withDeadline('closing a pool', ds.destroy(), 10_000).catch(() => undefined);
    await withDeadline('stopping the runtime', runtime.stop(), 10_000).catch(() => undefined);
  }
  console.log(JSON.stringify({ report }));
}

/**
 * Two connections of the two apps' pools: A's row lock must make B's FOR UPDATE NOWAIT fail with 55P03, and
 * A's uncommitted row must be invisible to B. Each of B's steps has a deadline (a server that queues other
 * connections behind an open transaction never answers B) and its outcome is reported as seen.
 */
async function isolation(apps: DataSource[], report: Report): Promise<void> {
  const a: QueryRunner = apps[0].createQueryRunner();
  const b: QueryRunner = apps[1].createQueryRunner();
  const step = <T>(p: Promise<T>): Promise<T> => withDeadline('an isolation step', p, 5_000);
  await a.connect();
  await b.connect();
  try {
    await a.startTransaction();
    await a.query(`SELECT token FROM probe WHERE token = 'locked' FOR UPDATE`);
    await a.query(`INSERT INTO probe (token) VALUES ('uncommitted')`);
    // B looks before anything rolls back: in one shared session, B's ROLLBACK would undo A's work too.
    try {
      const seen = (await step(b.query(`SELECT count(*)::int AS n FROM probe WHERE token = 'uncommitted'`))) as Array<{ n: number }>;
      report.uncommittedRowHiddenFromOtherConnection = seen[0]?.n === 0;
      report.isolation.push(`B counted A's uncommitted row: ${seen[0]?.n}`);
    } catch (err) {
      report.isolation.push(`B's read failed: ${textOf(err)}`);
    }
    try {
      await step(b.startTransaction());
      await step(b.query(`SELECT token FROM probe WHERE token = 'locked' FOR UPDATE NOWAIT`));
      report.isolation.push("B locked the row A holds");
    } catch (err) {
      report.rowLockBlocksOtherConnection = codeOf(err) === '55P03';
      report.isolation.push(`B's lock: ${codeOf(err) ?? ''} ${textOf(err)}`);
    }
  } finally {
    await a.rollbackTransaction().catch(() => undefined);
    await step(b.rollbackTransaction()).catch(() => undefined);
    await a.release();
    await step(b.release()).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.log(JSON.stringify({ error: (err as Error).stack ?? String(err) }));
  process.exit(1);
});
