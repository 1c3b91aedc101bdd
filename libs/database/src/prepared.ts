import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';

// Prepared statements for hot paths. TypeORM's `query()` sends every statement unnamed: Postgres parses and
// plans it again on every call. A large statement (the conflict service's commit is ~2.5 KB of CTEs) then
// costs more to plan than to run: measured here, 1.2 ms per commit unnamed against 0.5 ms as a named statement
// (bench/results/ot.json, docs/benchmarks.md). node-postgres prepares a named statement once per connection
// and then only binds and executes it.

/** A named statement: `name` must be unique per text in the process (node-postgres checks it per connection). */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/** What runs a prepared statement: the pool (one autocommit statement on any connection) or a held client. */
export type SqlExecutor = Pool | PoolClient;

export function prepared(name: string, text: string): PreparedStatement {
  return { name, text };
}

/** The rows of `statement` run with `values` (parameters $1…$n). */
export async function runPrepared<R extends QueryResultRow>(executor: SqlExecutor, statement: PreparedStatement, values: readonly unknown[]): Promise<R[]> {
  const result = await executor.query<R>({ name: statement.name, text: statement.text, values: [...values] });
  return result.rows;
}

/**
 * The node-postgres pool behind a TypeORM Postgres DataSource (its driver's `master`), to run prepared
 * statements on the same connections, limits and settings as the rest of the app.
 */
export function poolOf(db: DataSource): Pool {
  const driver = db.driver as unknown as { master?: Pool };
  if (db.options.type !== 'postgres' || !driver.master) throw new Error('poolOf: the DataSource is not an initialized Postgres data source');
  return driver.master;
}

/**
 * Runs `work` in one transaction on one pooled connection: BEGIN, work, COMMIT — or ROLLBACK and rethrow. A
 * connection whose ROLLBACK failed too is destroyed, not returned to the pool.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw err;
  } finally {
    client.release(broken);
  }
}
