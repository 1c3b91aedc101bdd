import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import type { AgentService } from './agent.service';

/**
 * Gives back prompts whose lease lapsed (an agent that hung, or whose gateway died before it could report the
 * disconnect). Every replica runs it: each release re-checks the lapse under the session's queue lock, so two
 * sweeps never release a prompt twice, and a dead replica's sweep is done by the others.
 */
export class LeaseSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private task: PeriodicTask | undefined;

  constructor(
    private readonly agents: AgentService,
    private readonly logger: LoggerService,
    private readonly intervalMs: number,
  ) {}

  onApplicationBootstrap(): void {
    this.task = startPeriodic('LeaseSweeper', this.intervalMs, () => this.runOnce(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
  }

  async runOnce(): Promise<number> {
    const released = await this.agents.sweepExpired();
    if (released > 0) this.logger.log(`Gave back ${released} prompts whose agent lease lapsed`, 'LeaseSweeper');
    return released;
  }
}
