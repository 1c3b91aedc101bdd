import './tracing';
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { createLogger, fatal, installShutdown, loadConfigOrExit } from '@chorus/runtime';
import { startChorus } from './chorus';

// `npm start`: the whole product in one process (see chorus.ts).

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

async function main(): Promise<void> {
  const flags = parseFlags();
  const config = loadConfigOrExit('standalone', {
    ...(flags.port !== undefined ? { PORT: flags.port } : {}),
    ...(flags.dataDir !== undefined ? { CHORUS_DATA_DIR: flags.dataDir } : {}),
  });
  const logger = createLogger(config);
  try {
    const started = Date.now();
    const chorus = await startChorus(config, logger);
    installShutdown(() => chorus.stop(), { graceMs: config.shutdownGraceMs, logger });
    const shown = config.http.host === '0.0.0.0' ? 'localhost' : config.http.host;
    const admin = chorus.runtime.admin.port === undefined ? '' : ` on :${chorus.runtime.admin.port}`;
    logger.log(`Chorus is up in ${Date.now() - started} ms: http://${shown}:${chorus.port} (API docs: /api/docs, health: /health/ready${admin}). Ctrl-C stops it.`, 'Standalone');
  } catch (err) {
    fatal(logger, err);
  }
}

void main();
