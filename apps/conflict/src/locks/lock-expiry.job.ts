import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { OutboundMessage } from '@chorus/contracts';
import type { Fanout } from '@chorus/fanout';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import type { ConflictService } from '../conflict.service';

/** What the job did on this replica since it started (chorus_conflict_lock_expiry_total). */
export interface LockExpiryCounts {
  /** Locks deleted as expired (each by exactly one replica). */
  expired: number;
  /** `file_unlocked {expired}` pushes that failed to publish: those clients learn it on rejoin or reopen. */
  publishFailed: number;
  /** Passes whose DELETE failed (the locks stay until a later pass; every read already ignores them). */
  passFailed: number;
  /** Expiries the session service's audit trail could not record (each logged). */
  auditFailed: number;
}

/** How long a pass's pushes wait for their audit records (see `runOnce`). */
const AUDIT_WAIT_MS = 1_000;

/** Records one expiry in the session's audit trail (the session service, over the transport). */
export type LockExpiryAudit = (expired: { session_id: string; doc_id: string; holder_id: string | null }) => Promise<void>;

/**
 * Expires file locks on every replica once a second. `expireLocks()` deletes each expired lock with
 * `RETURNING`, so exactly one replica sees it and publishes the one `file_unlocked {reason: 'expired'}`.
 *
 * Order: the DELETE is one autocommitted statement, so it has committed before `expireLocks()` resolves and
 * before anything is published — a client told `file_unlocked` never reopens to find the lock. The push itself
 * is best effort and never retried (the lock row, the durable truth, is already gone, so there is nothing to
 * retry from): a failed publish is logged and counted, and a client that missed the push learns the state from
 * `joined.locks` when it (re)joins or `document.lock` when it reopens the file (docs/protocol.md).
 */
export class LockExpiryJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private task: PeriodicTask | undefined;
  private readonly tally: LockExpiryCounts = { expired: 0, publishFailed: 0, passFailed: 0, auditFailed: 0 };

  constructor(
    private readonly documents: ConflictService,
    private readonly fanout: Fanout<OutboundMessage>,
    private readonly nodeId: string,
    private readonly logger: LoggerService,
    private readonly intervalMs = 1_000,
    private readonly audit?: LockExpiryAudit,
  ) {}

  onApplicationBootstrap(): void {
    this.task = startPeriodic('LockExpiry', this.intervalMs, () => this.runOnce(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
  }

  counts(): Readonly<LockExpiryCounts> {
    return { ...this.tally };
  }

  /** One pass: the number of locks expired. Rejects only if the DELETE failed (startPeriodic logs it). */
  async runOnce(): Promise<number> {
    let expired: Awaited<ReturnType<ConflictService['expireLocks']>>;
    try {
      expired = await this.documents.expireLocks();
    } catch (err) {
      this.tally.passFailed += 1;
      throw err;
    }
    this.tally.expired += expired.length;
    // The audit record (durable) before the push (ephemeral); a failed record is logged and counted, and the
    // push goes out anyway (the lock is gone either way). A session service that is slow or down delays the
    // pushes by AUDIT_WAIT_MS at most: the records go on in the background.
    if (this.audit !== undefined && expired.length > 0) {
      const audit = this.audit;
      const recorded = Promise.allSettled(expired.map((e) => audit({ session_id: e.session_id, doc_id: e.doc_id, holder_id: e.holder_id }))).then((results) =>
        results.forEach((result, i) => {
          if (result.status === 'fulfilled') return;
          this.tally.auditFailed += 1;
          const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
          this.logger.error(`Lock of ${expired[i].doc_id} in session ${expired[i].session_id} expired, but its audit record failed (${reason})`, undefined, 'LockExpiry');
        }),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([recorded, new Promise<void>((resolve) => (timer = setTimeout(resolve, AUDIT_WAIT_MS)).unref())]);
      clearTimeout(timer);
    }
    // Every push is attempted: one failed publish does not hide or cancel the others.
    const published = await Promise.allSettled(expired.map((e) => this.fanout.publish(e.session_id, { kind: 'push', message: { type: 'file_unlocked', ...e }, audience: { to: 'session' }, origin_node: this.nodeId })));
    published.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      this.tally.publishFailed += 1;
      const e = expired[i];
      const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
      this.logger.warn(`Lock of ${e.doc_id} in session ${e.session_id} expired, but its file_unlocked push failed (${reason}); clients learn it from joined.locks or document.lock`, 'LockExpiry');
    });
    return expired.length;
  }
}
