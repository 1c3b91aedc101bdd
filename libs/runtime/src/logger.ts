import { ConsoleLogger, Logger, type LogLevel as NestLogLevel } from '@nestjs/common';
import { LOG_LEVELS, type ChorusConfig } from '@chorus/config';

/** Nest's start-up chatter (one line per module and route) is debug detail, not an operator's log. */
const BOOT_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication', 'NestMicroservice', 'WebSocketsController']);

class ChorusLogger extends ConsoleLogger {
  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    if (typeof context === 'string' && BOOT_CONTEXTS.has(context)) super.debug(message, ...rest);
    else super.log(message, ...rest);
  }
}

/**
 * The process logger: one JSON object per line in deployments (level, pid, timestamp, context, message),
 * readable text on a developer's terminal. Levels below the configured one are dropped. It also becomes
 * Nest's static logger, so libraries logging through `new Logger()` follow the same format.
 */
export function createLogger(config: Pick<ChorusConfig, 'log' | 'role'>): ConsoleLogger {
  const threshold = LOG_LEVELS.indexOf(config.log.level);
  const logLevels = LOG_LEVELS.slice(0, threshold + 1) as NestLogLevel[];
  const logger = new ChorusLogger({
    json: config.log.format === 'json',
    colors: config.log.format === 'text' && process.stdout.isTTY === true,
    prefix: `chorus:${config.role}`,
    logLevels,
  });
  Logger.overrideLogger(logger);
  return logger;
}
