import type { INestMicroservice, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { ChorusConfig } from '@chorus/config';
import { runMigrations } from '@chorus/database';
import type { Metric, Registry } from 'prom-client';
import { METRICS_REGISTRY, boundPort, createRuntime, listenHttp, type Runtime } from '@chorus/runtime';
import { ConflictAppModule } from '../apps/conflict/src/conflict-app.module';
import { CONFLICT_DATA_SOURCE } from '../apps/conflict/src/persistence/conflict.data-source';
import { GatewayAppModule, configureGatewayApp } from '../apps/gateway/src/gateway-app.module';
import { PresenceAppModule } from '../apps/presence/src/presence-app.module';
import { SessionAppModule } from '../apps/session/src/session-app.module';
import { SESSION_DATA_SOURCE } from '../apps/session/src/persistence/session.data-source';

// The whole product in one process. The four apps keep their own Nest containers, exactly as when they run as
// separate services; only the infrastructure under them changes (embedded Postgres without DATABASE_URL,
// in-process transport and stores without REDIS_URL).

export interface RunningChorus {
  readonly port: number;
  readonly runtime: Runtime;
  stop(): Promise<void>;
}

/** Each service as a microservice on the in-process transport (or Redis Streams when REDIS_URL is set). */
async function startServices(runtime: Runtime): Promise<INestMicroservice[]> {
  const services: INestMicroservice[] = [];
  const modules = [
    ['session', SessionAppModule.register(runtime)],
    ['conflict', ConflictAppModule.register(runtime)],
    ['presence', PresenceAppModule.register(runtime)],
  ] as const;
  for (const [name, module] of modules) {
    const strategy = runtime.transport.server(name);
    runtime.transportServers.push({ name, isHealthy: () => (strategy as { isHealthy?: () => boolean }).isHealthy?.() !== false });
    const service = await NestFactory.createMicroservice(module, { strategy, logger: runtime.logger, abortOnError: false });
    await service.listen();
    services.push(service);
    runtime.onStop(() => service.close());
  }
  return services;
}

/** Starts every app in this process; on failure, stops what already started and rethrows. */
export async function startChorus(config: ChorusConfig, logger: LoggerService): Promise<RunningChorus> {
  const runtime = await createRuntime(config, logger);
  try {
    const dbUrl = runtime.databaseUrl as string;
    for (const spec of [SESSION_DATA_SOURCE, CONFLICT_DATA_SOURCE]) {
      const applied = await runMigrations(spec, dbUrl);
      if (applied.length > 0) logger.log(`${spec.app} migrations applied: ${applied.join(', ')}`, 'Standalone');
    }
    const services = await startServices(runtime);
    const db = services[0].get<DataSource>(getDataSourceToken(SESSION_DATA_SOURCE.app));
    const postgres = { name: 'postgres', check: async () => void (await db.query('SELECT 1')) };
    const gateway = await listenHttp(runtime, GatewayAppModule.register(runtime, [postgres]), (app) => configureGatewayApp(app, runtime));
    // One /metrics for the one process: the services' own series (queue, commits, ...) join the gateway's.
    const exposed = gateway.get<Registry>(METRICS_REGISTRY, { strict: false });
    for (const service of services) {
      for (const metric of service.get<Registry>(METRICS_REGISTRY, { strict: false }).getMetricsAsArray()) {
        // getMetricsAsArray() returns the metric objects themselves, typed as their serialised shape.
        if (exposed.getSingleMetric(metric.name) === undefined) exposed.registerMetric(metric as unknown as Metric);
      }
    }
    return { port: boundPort(gateway), runtime, stop: () => runtime.stop() };
  } catch (err) {
    await runtime.stop().catch(() => undefined);
    throw err;
  }
}
