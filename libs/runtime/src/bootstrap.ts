import type { DynamicModule, INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, loadMigrationConfig, type AppRole, type ChorusConfig } from '@chorus/config';
import { runMigrations, type AppDataSourceSpec } from '@chorus/database';
import { adminListener } from './admin';
import { observeHttp } from './http-observability';
import { createLogger } from './logger';
import { createRuntime, type Runtime } from './runtime';
import { installShutdown } from './shutdown';

/** Loads config for a role, or prints every problem and exits 2 (a config error is not a crash). */
export function loadConfigOrExit(role: AppRole, overrides: Parameters<typeof loadConfig>[2] = {}): ChorusConfig {
  try {
    return loadConfig(role, undefined, overrides);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Creates the HTTP app for a module, listening on the configured host and port; closed by the runtime. */
export async function listenHttp(runtime: Runtime, module: DynamicModule, configure?: ServiceEntry['configure']): Promise<INestApplication> {
  const app = await NestFactory.create(module, { logger: runtime.logger, abortOnError: false });
  runtime.transportMetrics.registerInto(observeHttp(app, runtime.logger));
  await configure?.(app, runtime);
  const admin = adminListener(app, runtime);
  admin.guard();
  await app.listen(runtime.config.http.port, runtime.config.http.host);
  runtime.onStop(() => app.close());
  runtime.admin.port = await admin.listen();
  return app;
}

/** The port actually bound (differs from the configured one when PORT=0 asks the OS for a free port). */
export function boundPort(app: INestApplication): number {
  const address = (app.getHttpServer() as { address(): { port: number } | string | null }).address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

export interface ServiceEntry {
  readonly role: Exclude<AppRole, 'standalone'>;
  readonly module: (runtime: Runtime) => DynamicModule;
  /** Tables this app owns: enables the `migrate` command. */
  readonly dataSource?: AppDataSourceSpec;
  /** App-level setup before listening (the gateway's CORS, Socket.IO adapter, OpenAPI). */
  readonly configure?: (app: INestApplication, runtime: Runtime) => Promise<void> | void;
}

/**
 * The `main` of one app run as its own process (one replica of a distributed deployment).
 * `node main.js` serves; `node main.js migrate` applies the app's migrations once and exits.
 */
export async function runService(entry: ServiceEntry, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  if (argv[0] === 'migrate') return migrate(entry);
  const config = loadConfigOrExit(entry.role);
  const logger = createLogger(config);
  try {
    const runtime = await createRuntime(config, logger);
    installShutdown(() => runtime.stop(), { graceMs: config.shutdownGraceMs, logger });
    const app = await NestFactory.create(entry.module(runtime), { logger: runtime.logger, abortOnError: false });
    if (entry.role !== 'gateway') {
      // The service's transport endpoint: requests reach exactly one replica (see docs/transport.md).
      const strategy = runtime.transport.server(entry.role);
      runtime.transportServers.push({ name: entry.role, isHealthy: () => (strategy as { isHealthy?: () => boolean }).isHealthy?.() !== false });
      app.connectMicroservice({ strategy }, { inheritAppConfig: true });
      await app.startAllMicroservices();
    }
    runtime.transportMetrics.registerInto(observeHttp(app, runtime.logger));
    await entry.configure?.(app, runtime);
    const admin = adminListener(app, runtime);
    admin.guard();
    await app.listen(config.http.port, config.http.host);
    runtime.onStop(() => app.close());
    runtime.admin.port = await admin.listen();
    const adminNote = runtime.admin.port === undefined ? '' : ` (metrics and health on :${runtime.admin.port})`;
    logger.log(`${entry.role} node ${config.nodeId} listening on http://${config.http.host}:${boundPort(app)}${adminNote}`, 'Bootstrap');
  } catch (err) {
    fatal(logger, err);
  }
}

/** `main.js migrate`: applies the app's migrations once and exits; needs only DATABASE_URL. */
async function migrate(entry: ServiceEntry): Promise<void> {
  if (!entry.dataSource || (entry.role !== 'session' && entry.role !== 'conflict')) {
    process.stderr.write(`"${entry.role}" owns no tables: nothing to migrate.\n`);
    process.exit(2);
  }
  let config: ReturnType<typeof loadMigrationConfig>;
  try {
    config = loadMigrationConfig(entry.role);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config);
  try {
    const applied = await runMigrations(entry.dataSource, config.databaseUrl);
    logger.log(`Migrations applied: ${applied.length === 0 ? 'none pending' : applied.join(', ')}`, 'Migrate');
  } catch (err) {
    fatal(logger, err);
  }
}

export function fatal(logger: LoggerService, err: unknown): never {
  logger.error(`Start-up failed: ${(err as Error).message}`, (err as Error).stack, 'Bootstrap');
  process.exit(1);
}
