import type { LoggerService } from '@nestjs/common';
import Redis from 'ioredis';
import type { ChorusConfig } from '@chorus/config';
import { EMBEDDED_MAX_CONNECTIONS, startEmbeddedPostgres } from '@chorus/database';
import type { ReadinessCheck } from './health';
import { createLogger } from './logger';

/**
 * What one process runs on: its config, logger, and the infrastructure every app in it shares — real
 * Postgres/Redis when configured, embedded equivalents in standalone mode. Apps receive it at construction and
 * never look at the environment themselves.
 */
export interface Runtime {
  readonly config: ChorusConfig;
  readonly logger: LoggerService;
  /** Resolved Postgres URL (the embedded server's in standalone without DATABASE_URL). */
  readonly databaseUrl: string | undefined;
  /** Postgres pool size for each database-owning app in this process. */
  readonly dbPoolMax: number;
  readonly redisUrl: string | undefined;
  /** True when Redis stands in for nothing: the in-process equivalents are used. */
  readonly inProcess: boolean;
  /** Registers a closer; `stop()` runs them in reverse order of registration. */
  onStop(closer: () => Promise<void>): void;
  stop(): Promise<void>;
}

/** How many database-owning apps may share the embedded Postgres in one process (session and conflict). */
const EMBEDDED_DB_APPS = 2;

export async function createRuntime(config: ChorusConfig, logger: LoggerService = createLogger(config)): Promise<Runtime> {
  const closers: Array<() => Promise<void>> = [];
  let databaseUrl = config.database.url;
  let dbPoolMax = config.database.poolMax;
  if (databaseUrl === undefined && config.role === 'standalone') {
    logger.log(`No DATABASE_URL: starting the embedded Postgres under ${config.database.dataDir}`, 'Runtime');
    const embedded = await startEmbeddedPostgres(config.database.dataDir);
    closers.push(() => embedded.stop());
    databaseUrl = embedded.url;
    dbPoolMax = Math.min(dbPoolMax, Math.floor(EMBEDDED_MAX_CONNECTIONS / EMBEDDED_DB_APPS));
  }
  if (config.redis.url === undefined) logger.log('No REDIS_URL: using in-process transport, presence and rate limits', 'Runtime');
  let stopped = false;
  return {
    config,
    logger,
    databaseUrl,
    dbPoolMax,
    redisUrl: config.redis.url,
    inProcess: config.redis.url === undefined,
    onStop(closer) {
      closers.push(closer);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const errors: unknown[] = [];
      for (const close of closers.reverse()) {
        await close().catch((err: unknown) => errors.push(err));
      }
      if (errors.length > 0) throw errors[0];
    },
  };
}

/** A readiness check that PINGs Redis on its own lazily-connected client (closed by the runtime). */
export function redisReadinessCheck(runtime: Runtime): ReadinessCheck[] {
  if (runtime.redisUrl === undefined) return [];
  const client = new Redis(runtime.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: `${runtime.config.nodeId}:health` });
  client.on('error', () => undefined); // reported through readiness, not as unhandled events
  runtime.onStop(async () => client.disconnect());
  return [
    {
      name: 'redis',
      async check() {
        if (client.status === 'wait') await client.connect();
        await client.ping();
      },
    },
  ];
}
