import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import Redis from 'ioredis';
import type { ChorusConfig } from '@chorus/config';
import { startEmbeddedPostgres } from '@chorus/database';
import type { ReadinessCheck } from './health';
import { createLogger } from './logger';
import { createServiceTransport, type ServiceTransport } from './transport';
import { TransportMetrics } from './transport-metrics';
import { outboundCodec, type OutboundMessage } from '@chorus/contracts';
import { MemoryFanout, RedisFanout, type DropReporter, type Fanout } from '@chorus/fanout';

/**
 * What one process runs on: its config, logger, and the infrastructure every app in it shares — real
 * Postgres/Redis when configured, embedded equivalents in standalone mode. Apps receive it at construction and
 * never look at the environment themselves.
 */
export interface Runtime {
  readonly config: ChorusConfig;
  readonly logger: LoggerService;
  /** Whether hot statements may run as named prepared statements (DB_PREPARED_STATEMENTS). */
  readonly preparedStatements: boolean;
  /** Resolved Postgres URL (the embedded server's in standalone without DATABASE_URL). */
  readonly databaseUrl: string | undefined;
  /** Postgres pool size for each database-owning app in this process. */
  readonly dbPoolMax: number;
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key this process writes. */
  readonly redisPrefix: string;
  /** True without Redis: the in-process equivalents are used. */
  readonly inProcess: boolean;
  /** Transport endpoints (Redis Streams, or one in-process broker shared by the apps of this process). */
  readonly transport: ServiceTransport;
  /** Metrics of the transport servers this process runs (registered into the registry /metrics serves). */
  readonly transportMetrics: TransportMetrics;
  /** The transport servers this process runs (filled when they are created; read by readiness). */
  readonly transportServers: Array<{ readonly name: string; isHealthy(): boolean }>;
  /** The one outbound road: session fan-out to every gateway node (Redis pub/sub, or in-process), typed and checked. */
  readonly fanout: Fanout<OutboundMessage>;
  /** The admin listener's bound port (ADMIN_PORT; undefined: /metrics and /health/* are on the public port). */
  readonly admin: { port: number | undefined };
  /** The token signing secret (generated and kept under the data dir in standalone without JWT_SECRET). */
  readonly jwtSecret: string | undefined;
  /** Registers a closer; `stop()` runs them in reverse order of registration. */
  onStop(closer: () => Promise<void>): void;
  stop(): Promise<void>;
}

export async function createRuntime(config: ChorusConfig, logger: LoggerService = createLogger(config)): Promise<Runtime> {
  const closers: Array<() => Promise<void>> = [];
  let databaseUrl = config.database.url;
  const dbPoolMax = config.database.poolMax;
  const preparedStatements = config.database.preparedStatements;
  if (databaseUrl === undefined && config.role === 'standalone') {
    logger.log(`No DATABASE_URL: starting the embedded Postgres under ${config.database.dataDir}`, 'Runtime');
    // A real Postgres server (child process): every pooled connection is its own session, so pools, prepared
    // statements and transactions work as against a deployed one. Stopped last (closers run in reverse).
    const embedded = await startEmbeddedPostgres(config.database.dataDir, (level, message) => {
      if (level === 'error') logger.error(message, undefined, 'Postgres');
      else if (level === 'warn') logger.warn(message, 'Postgres');
      else if (level === 'info') logger.log(message, 'Postgres');
      else logger.debug?.(message, 'Postgres');
    });
    closers.push(() => embedded.stop());
    databaseUrl = embedded.url;
  }
  if (config.redis.url === undefined) logger.log('No REDIS_URL: using in-process transport, presence and rate limits', 'Runtime');
  const jwtSecret = config.auth.jwtSecret ?? (config.role === 'standalone' ? await standaloneSecret(config.database.dataDir) : undefined);
  const transportMetrics = new TransportMetrics(logger);
  const transport = createServiceTransport({ redisUrl: config.redis.url, prefix: config.redis.prefix, nodeId: config.nodeId, metrics: transportMetrics });
  // A dropped message is a publisher's bug (it drifted from the protocol) or foreign traffic: logged here, counted
  // by the fan-out (`dropped`, exported by the gateway's metrics).
  const onDropped: DropReporter = (reason, sessionId) => logger.error(`Fan-out message for session ${sessionId} dropped: ${reason}`, undefined, 'Fanout');
  const fanout: Fanout<OutboundMessage> =
    config.redis.url === undefined ? new MemoryFanout(outboundCodec, onDropped) : new RedisFanout(config.redis.url, config.redis.prefix, config.nodeId, outboundCodec, onDropped);
  closers.push(() => fanout.close());
  let stopped = false;
  return {
    config,
    logger,
    databaseUrl,
    dbPoolMax,
    preparedStatements,
    redisUrl: config.redis.url,
    redisPrefix: config.redis.prefix,
    inProcess: config.redis.url === undefined,
    transport,
    transportMetrics,
    transportServers: [],
    fanout,
    admin: { port: undefined },
    jwtSecret,
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

/**
 * Standalone without JWT_SECRET: a random secret kept (mode 0600) beside the embedded database, so tokens
 * survive a restart of `npm start` just as the data does.
 */
async function standaloneSecret(dataDir: string): Promise<string> {
  const file = join(resolve(dataDir), 'jwt-secret');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch {
    // first start: create it below
  }
  await mkdir(resolve(dataDir), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Ready when every transport server of this process is connected (reading its streams). */
export function transportReadinessCheck(runtime: Runtime): ReadinessCheck {
  return {
    name: 'transport',
    async check() {
      const down = runtime.transportServers.filter((s) => !s.isHealthy()).map((s) => s.name);
      if (down.length > 0) throw new Error(`transport not connected for ${down.join(', ')}`);
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
