import type { LoggerService } from '@nestjs/common';

export interface PeriodicTask {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `run` every `intervalMs`, never two at once (a slow run skips ticks instead of piling up), logging a
 * failure and trying again at the next tick. The timer does not keep the process alive. Used by the jobs that
 * every replica runs and that are safe to run anywhere (cleanup, lock expiry, presence sweeps).
 */
export function startPeriodic(name: string, intervalMs: number, run: () => Promise<unknown>, logger: LoggerService): PeriodicTask {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= run()
      .then(
        () => undefined,
        (err: unknown) => logger.warn(`${name} failed, will retry in ${intervalMs} ms: ${(err as Error).message}`, name),
      )
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
