import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { OutboundMessage } from '@chorus/contracts';
import type { Fanout } from '@chorus/fanout';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import type { ConflictService } from '../conflict.service';

/**
 * Expires file locks on every replica once a second. `expireLocks()` deletes each expired lock with
 * `RETURNING`, so exactly one replica sees it and publishes the one `file_unlocked {reason: 'expired'}`.
 *
 * Order: the DELETE is one autocommitted statement, so it has committed before `expireLocks()` resolves and
 * before anything is published — a client told `file_unlocked` never reopens to find the lock. The push itself
 * is best effort (never replayed): a client that missed it learns the state from `document.lock` on reopen.
 */
export class LockExpiryJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private task: PeriodicTask | undefined;

  constructor(
    private readonly documents: ConflictService,
    private readonly fanout: Fanout<OutboundMessage>,
    private readonly nodeId: string,
    private readonly logger: LoggerService,
    private readonly intervalMs = 1_000,
  ) {}

  onApplicationBootstrap(): void {
    this.task = startPeriodic('LockExpiry', this.intervalMs, () => this.runOnce(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
  }

  async runOnce(): Promise<number> {
    const expired = await this.documents.expireLocks();
    await Promise.all(
      expired.map((e) => this.fanout.publish(e.session_id, { kind: 'push', message: { type: 'file_unlocked', ...e }, audience: { to: 'session' }, origin_node: this.nodeId })),
    );
    return expired.length;
  }
}
