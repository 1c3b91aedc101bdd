import type { LoggerService } from '@nestjs/common';

/**
 * Stops the process cleanly on SIGTERM/SIGINT: runs `stop` (close servers, finish in-flight work, release
 * connections) and exits 0; if it takes longer than `graceMs`, or a second signal arrives, exits 1 at once.
 * Returns a function that removes the handlers (for tests).
 */
export function installShutdown(stop: () => Promise<void>, options: { graceMs: number; logger: LoggerService; exit?: (code: number) => void }): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.logger.warn(`Second ${signal}: exiting without waiting for in-flight work`, 'Shutdown');
      exit(1);
      return;
    }
    stopping = true;
    options.logger.log(`${signal} received: draining (up to ${options.graceMs} ms)`, 'Shutdown');
    const timer = setTimeout(() => {
      options.logger.error(`Shutdown did not finish within ${options.graceMs} ms: exiting anyway`, undefined, 'Shutdown');
      exit(1);
    }, options.graceMs);
    timer.unref();
    stop().then(
      () => {
        clearTimeout(timer);
        options.logger.log('Stopped cleanly', 'Shutdown');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        options.logger.error(`Shutdown failed: ${(err as Error).message}`, (err as Error).stack, 'Shutdown');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
