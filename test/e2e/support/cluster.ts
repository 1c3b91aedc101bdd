import { createTestDatabase, startTsProcess, testRedisUrl, uniqueRedisPrefix, type RunningProcess, type TestDatabase } from '@chorus/testing';
import { TEST_JWT_SECRET } from './stack';

export interface ProcessCluster {
  readonly db: TestDatabase;
  readonly prefix: string;
  /** Base URLs of the gateways, in start order. */
  readonly gateways: string[];
  /** Where each gateway serves /metrics and /health/*: its admin listener with ADMIN_PORT, else its URL. */
  readonly admins: string[];
  readonly processes: Map<string, RunningProcess>;
  /** The environment every process got (start another replica with it plus its own NODE_ID). */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

const LISTENING = /listening on http:\/\/[^:]+:(\d+)(?: \(metrics and health on :(\d+)\))?/;

/**
 * The distributed topology as separate processes against the real Postgres (a fresh database) and Redis
 * (a unique prefix): migrations once, then `replicas` processes of each service and `gateways` gateways.
 */
export async function startProcessCluster(label: string, { gateways = 2, replicas = 2, extraEnv = {} as Record<string, string> } = {}): Promise<ProcessCluster> {
  const db = await createTestDatabase(label);
  const prefix = uniqueRedisPrefix(label);
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    // The gateways' file sync cache lives in the session database (docs/file-sync.md, "The cache").
    FILE_CACHE_DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    DEV_TOKENS: 'true',
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '5000',
    ...extraEnv,
  };
  const processes = new Map<string, RunningProcess>();
  const stop = async () => {
    await Promise.all([...processes.values()].map((p) => p.stop('SIGKILL')));
    await db.drop();
  };
  try {
    for (const app of ['session', 'conflict']) {
      const migrate = startTsProcess(`apps/${app}/src/main.ts`, env, ['migrate']);
      const code = await migrate.exited;
      if (code !== 0) throw new Error(`${app} migrate exited ${code}: ${migrate.lines.join('\n')}`);
    }
    const starting: Array<Promise<unknown>> = [];
    for (const app of ['session', 'conflict', 'presence']) {
      for (let i = 1; i <= replicas; i++) {
        const p = startTsProcess(`apps/${app}/src/main.ts`, { ...env, LOG_LEVEL: 'log', NODE_ID: `${app}-${i}` });
        processes.set(`${app}-${i}`, p);
        starting.push(p.waitForLine(LISTENING, 60_000));
      }
    }
    const urls: string[] = [];
    const admins: string[] = [];
    for (let i = 1; i <= gateways; i++) {
      const p = startTsProcess('apps/gateway/src/main.ts', { ...env, LOG_LEVEL: 'log', NODE_ID: `gateway-${i}` });
      processes.set(`gateway-${i}`, p);
      starting.push(
        p.waitForLine(LISTENING, 60_000).then((m) => {
          urls[i - 1] = `http://127.0.0.1:${m[1]}`;
          admins[i - 1] = `http://127.0.0.1:${m[2] ?? m[1]}`;
        }),
      );
    }
    await Promise.all(starting);
    return { db, prefix, gateways: urls, admins, processes, env, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
