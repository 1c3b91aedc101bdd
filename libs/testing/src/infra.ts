import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

// Test infrastructure endpoints. Tests may read the environment (this lib is exempt from the config rule):
// CI and developers can point the suite at other servers with TEST_POSTGRES_URL / TEST_REDIS_URL.
const env = process.env;

/** Connection string for the test Postgres server, on the given database. */
export function testPostgresUrl(database: string): string {
  const base = new URL(env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/${database}`;
  return base.toString();
}

export function testRedisUrl(): string {
  return env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** A short random token, safe in database names and Redis keys. */
export function uniqueSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** A Redis key prefix no other test (or test run) uses: isolation by namespace, never by sleeping. */
export function uniqueRedisPrefix(label: string): string {
  return `test:${label.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}:${uniqueSuffix()}`;
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * Creates a fresh database for one test file. Its name starts with the run's prefix (CHORUS_TEST_DB_PREFIX,
 * set by .ci/run) so that a crashed run's leftovers can be found and dropped.
 */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const prefix = (env.CHORUS_TEST_DB_PREFIX ?? 'chorus_test').replace(/[^a-z0-9_]/gi, '_').toLowerCase();
  const name = `${prefix}_${label.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_${uniqueSuffix()}`.slice(0, 63);
  const admin = new Client({ connectionString: testPostgresUrl('postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: testPostgresUrl(name),
    async drop() {
      const c = new Client({ connectionString: testPostgresUrl('postgres') });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
