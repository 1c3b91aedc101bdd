import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions, type EntitySchema, type MixedList } from 'typeorm';

// Each database-owning app (session, conflict) has its own entities, migrations and migrations table, so the
// apps can share one Postgres database without owning each other's tables.

export interface AppDataSourceSpec {
  /** The owning app: names its migrations table (`<app>_migrations`). */
  readonly app: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly migrations: MixedList<Function | string>;
}

export function dataSourceOptions(spec: AppDataSourceSpec, url: string, poolMax: number): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: spec.entities,
    migrations: spec.migrations,
    migrationsTableName: `${spec.app}_migrations`,
    // Schema changes go through migrations only, never synchronize.
    synchronize: false,
    migrationsRun: false,
    uuidExtension: 'pgcrypto',
    extra: { max: poolMax, connectionTimeoutMillis: 5_000 },
  };
}

/** Nest module options: the data source is named per app, so two apps in one process (standalone) do not share one. */
export function typeOrmModuleOptions(spec: AppDataSourceSpec, url: string, poolMax: number): TypeOrmModuleOptions {
  return { ...dataSourceOptions(spec, url, poolMax), name: spec.app, retryAttempts: 3, retryDelay: 1_000 };
}

/**
 * Applies pending migrations of one app. Postgres advisory locks make it safe if several replicas start at
 * once (TypeORM wraps the run in a transaction; the lock serialises concurrent runners), but deployments
 * should still run it once, as a Job.
 */
export async function runMigrations(spec: AppDataSourceSpec, url: string): Promise<string[]> {
  const ds = new DataSource(dataSourceOptions(spec, url, 2));
  await ds.initialize();
  try {
    // A session-level advisory lock lives on one connection: take and release it on the same query runner.
    const lockKey = hashToInt(`chorus:migrations:${spec.app}`);
    const lock = ds.createQueryRunner();
    await lock.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [lockKey]);
      const applied = await ds.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [lockKey]).catch(() => undefined);
      await lock.release();
    }
  } finally {
    await ds.destroy();
  }
}

function hashToInt(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return h;
}

/**
 * The rows of a raw query. Through TypeORM 1.x's Postgres driver, UPDATE/DELETE … RETURNING answer
 * `[rows, affectedCount]` while SELECT/INSERT answer the rows themselves.
 */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number' ? result[0] : result) as T[];
}
