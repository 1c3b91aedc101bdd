import { Client } from 'pg';
import Redis from 'ioredis';
import { testPostgresUrl, testRedisUrl } from './infra';

/**
 * Runs once before every Jest run: the real Postgres and Redis must answer, or the run stops at once with
 * a message that says how to start them (instead of every suite timing out one by one).
 */
export default async function globalSetup(): Promise<void> {
  const problems: string[] = [];
  const pg = new Client({ connectionString: testPostgresUrl('postgres'), connectionTimeoutMillis: 3_000 });
  try {
    await pg.connect();
    await pg.query('SELECT 1');
  } catch (err) {
    problems.push(`Postgres at ${testPostgresUrl('postgres')} did not answer (${(err as Error).message}). Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`);
  } finally {
    await pg.end().catch(() => undefined);
  }
  const redis = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    problems.push(`Redis at ${testRedisUrl()} did not answer (${(err as Error).message}). Start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`);
  } finally {
    redis.disconnect();
  }
  if (problems.length > 0) throw new Error(`Test infrastructure is not ready:\n- ${problems.join('\n- ')}`);
}
