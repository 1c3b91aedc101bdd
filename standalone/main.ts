import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { getDataSourceToken } from '@nestjs/typeorm';
import { runMigrations } from '@chorus/database';
import { boundPort, createLogger, createRuntime, fatal, installShutdown, listenHttp, loadConfigOrExit, type Runtime } from '@chorus/runtime';
import { ConflictAppModule } from '../apps/conflict/src/conflict-app.module';
import { CONFLICT_DATA_SOURCE } from '../apps/conflict/src/persistence/conflict.data-source';
import { GatewayAppModule } from '../apps/gateway/src/gateway-app.module';
import { PresenceAppModule } from '../apps/presence/src/presence-app.module';
import { SessionAppModule } from '../apps/session/src/session-app.module';
import { SESSION_DATA_SOURCE } from '../apps/session/src/persistence/session.data-source';

// The whole product in one process: the composition root that `npm start` runs. The four apps keep their
// own Nest containers, exactly as when they run as separate services; only the infrastructure under them
// changes (embedded Postgres without DATABASE_URL, in-process transport and stores without REDIS_URL).

const USAGE = `Usage: npm start [-- --port N] [--data-dir DIR]
  --port N        HTTP port (default: PORT or 3000)
  --data-dir DIR  where the embedded Postgres keeps its data (default: CHORUS_DATA_DIR or ./.chorus-data)
Environment variables: see the configuration table in README.md.`;

function parseFlags(): { port?: string; dataDir?: string } {
  try {
    const { values } = parseArgs({ options: { port: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    return { port: values.port, dataDir: values['data-dir'] };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

async function startServices(runtime: Runtime): Promise<INestApplicationContext[]> {
  const contexts: INestApplicationContext[] = [];
  for (const module of [SessionAppModule.register(runtime), ConflictAppModule.register(runtime), PresenceAppModule.register(runtime)]) {
    const ctx = await NestFactory.createApplicationContext(module, { logger: runtime.logger, abortOnError: false });
    contexts.push(ctx);
    runtime.onStop(() => ctx.close());
  }
  return contexts;
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const config = loadConfigOrExit('standalone', {
    ...(flags.port !== undefined ? { PORT: flags.port } : {}),
    ...(flags.dataDir !== undefined ? { CHORUS_DATA_DIR: flags.dataDir } : {}),
  });
  const logger = createLogger(config);
  try {
    const started = Date.now();
    const runtime = await createRuntime(config, logger);
    installShutdown(() => runtime.stop(), { graceMs: config.shutdownGraceMs, logger });
    const dbUrl = runtime.databaseUrl as string;
    for (const spec of [SESSION_DATA_SOURCE, CONFLICT_DATA_SOURCE]) {
      const applied = await runMigrations(spec, dbUrl);
      if (applied.length > 0) logger.log(`${spec.app} migrations applied: ${applied.join(', ')}`, 'Standalone');
    }
    const [session] = await startServices(runtime);
    const db = session.get<DataSource>(getDataSourceToken(SESSION_DATA_SOURCE.app));
    const gateway = await listenHttp(runtime, GatewayAppModule.register(runtime, [{ name: 'postgres', check: async () => void (await db.query('SELECT 1')) }]));
    const shown = config.http.host === '0.0.0.0' ? 'localhost' : config.http.host;
    logger.log(`Chorus is up in ${Date.now() - started} ms: http://${shown}:${boundPort(gateway)} (health: /health/ready). Ctrl-C stops it.`, 'Standalone');
  } catch (err) {
    fatal(logger, err);
  }
}

void main();
