import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import { invitesRepo, sessionsRepo } from './session.repository';

export interface JanitorOptions {
  /** How often each replica tries a run. Default 60 s. */
  readonly intervalMs: number;
  /** How long dead invites are kept before removal. Default 1 day. */
  readonly graceSeconds: number;
  /**
   * Audit retention: how long an expired or deleted session — with its whole event stream, the audit trail — is
   * kept before it is removed for good. Default 90 days (SESSION_AUDIT_RETENTION_S). Until then a deleted session
   * is invisible to everyone but its owners and admins' audit export.
   */
  readonly auditRetentionS: number;
  /** Rows removed per statement, so one run never holds long locks. Default 500. */
  readonly batch: number;
}

export const DEFAULT_JANITOR_OPTIONS: JanitorOptions = { intervalMs: 60_000, graceSeconds: 24 * 3600, auditRetentionS: 90 * 24 * 3600, batch: 500 };
const LOCK_KEY = 0x5e55_1011;

/**
 * Removes expired or deleted sessions (with their participants, invites and events, by cascade) and dead
 * invites. Every replica runs it; a transaction-scoped advisory lock lets one run at a time, and
 * `FOR UPDATE SKIP LOCKED` in the deletes would keep even concurrent runs from deleting a row twice.
 */
export class SessionJanitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private task: PeriodicTask | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly logger: LoggerService,
    private readonly options: JanitorOptions = DEFAULT_JANITOR_OPTIONS,
  ) {}

  onApplicationBootstrap(): void {
    this.task = startPeriodic('SessionJanitor', this.options.intervalMs, () => this.runOnce(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
  }

  /** One cleanup pass; `null` when another replica holds the lock. */
  async runOnce(): Promise<{ sessions: number; invites: number } | null> {
    return this.db.transaction(async (tx) => {
      const [{ locked }] = (await tx.query(`SELECT pg_try_advisory_xact_lock($1) AS locked`, [LOCK_KEY])) as Array<{ locked: boolean }>;
      if (!locked) return null;
      const drain = async (purge: typeof sessionsRepo.purge, keepSeconds: number): Promise<number> => {
        let total = 0;
        let removed: number;
        do {
          removed = await purge(tx, keepSeconds, this.options.batch);
          total += removed;
        } while (removed === this.options.batch);
        return total;
      };
      const sessions = await drain(sessionsRepo.purge, this.options.auditRetentionS);
      const invites = await drain(invitesRepo.purge, this.options.graceSeconds);
      if (sessions + invites > 0) this.logger.log(`Removed ${sessions} expired sessions and ${invites} dead invites`, 'SessionJanitor');
      return { sessions, invites };
    });
  }
}
