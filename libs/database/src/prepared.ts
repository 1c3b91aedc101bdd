import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';

// Prepared statements for hot paths. TypeORM's `query()` sends every statement unnamed: Postgres parses and
// plans it again on every call. A large statement (the conflict service's commit is ~2.5 KB of CTEs) then
// costs more to plan than to run: measured here, 1.16 ms per commit unnamed against 0.49 ms as a named
// statement (`npm run bench:ot-cost`). node-postgres prepares a named statement once per connection and then only binds
// and executes it.
//
// Named statements need a real Postgres session per connection. Not every server path gives one: PgBouncer
// in transaction mode (before 1.21, or without max_prepared_statements) hands each transaction to any server
// connection, so a name prepared on one is missing (or already taken) on the next. `poolOf(db, {prepared:
// false})` marks a pool whose statements must go unnamed (DB_PREPARED_STATEMENTS=false); everything run through
// it (and through the clients `inTransaction` takes from it) then does.

/** A named statement: `name` must be unique per text in the process (`prepared` checks it). */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/** What runs a prepared statement: the pool (one autocommit statement on any connection) or a held client. */
export type SqlExecutor = Pool | PoolClient;

const registered = new Map<string, string>();

/** Declares a named statement (module level). Throws if the name was declared before with another text. */
export function prepared(name: string, text: string): PreparedStatement {
  const known = registered.get(name);
  if (known !== undefined && known !== text) throw new Error(`Prepared statement "${name}" is declared twice with different texts`);
  registered.set(name, text);
  return { name, text };
}

/** Pools (and clients taken from them by inTransaction) whose statements go unnamed. */
const unnamed = new WeakSet<SqlExecutor>();

/** The rows of `statement` run with `values` (parameters $1…$n): named, unless the executor's pool forbids it. */
export async function runPrepared<R extends QueryResultRow>(executor: SqlExecutor, statement: PreparedStatement, values: readonly unknown[]): Promise<R[]> {
  const config = unnamed.has(executor) ? { text: statement.text, values: [...values] } : { name: statement.name, text: statement.text, values: [...values] };
  const result = await executor.query<R>(config);
  return result.rows;
}

/**
 * The node-postgres pool behind a TypeORM Postgres DataSource (its driver's `master`), to run prepared
 * statements on the same connections, limits and settings as the rest of the app. With `prepared: false`,
 * statements run through this pool go unnamed (see above).
 */
export function poolOf(db: DataSource, options: { readonly prepared?: boolean } = {}): Pool {
  const driver = db.driver as unknown as { master?: Pool };
  if (db.options.type !== 'postgres' || !driver.master) throw new Error('poolOf: the DataSource is not an initialized Postgres data source');
  const pool = driver.master;
  if (options.prepared === false && !unnamed.has(pool)) {
    unnamed.add(pool);
    // Every client checked out of it, however (pool.query, pool.connect, inTransaction), runs them unnamed too.
    pool.on('acquire', (client) => unnamed.add(client));
  }
  return pool;
}

/**
 * Runs `work` in one transaction on one pooled connection: BEGIN, work, COMMIT — or ROLLBACK and rethrow. A
 * connection that failed (its socket errored, or ROLLBACK failed too) is destroyed, not returned to the pool.
 * While the connection is held, an error it emits (the server terminated the backend, the network dropped)
 * fails the work instead of crashing the process: pg-pool listens for errors only on idle connections.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    if (!broken) await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
