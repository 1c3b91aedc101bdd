import type { LoggerService } from '@nestjs/common';
import { ChorusError } from '@chorus/protocol';
import type { Identity } from '@chorus/auth';
import type { NewSessionEvent, SessionEventLog } from '../events/event-log';
import type { SessionEventPublisher } from '../events/event-publisher';

/** A refusal worth recording: who tried what on which session, and the error they got. */
export interface Refusal {
  readonly session_id: string;
  readonly user_id: string;
  readonly action: string;
  readonly code: string;
  readonly reason: string;
  readonly resource?: string;
}

/**
 * Writes the audit-only session events (refused actions, lock changes) into the session stream: durable first,
 * then published like every event. A refusal is recorded after the refused request's transaction rolled back
 * (its own append, never inside the refused work), so the refusal cannot be undone by it. A failed record is
 * logged and counted (`failures`), never thrown at the caller: the caller's answer is the refusal itself.
 */
export class AuditTrail {
  private failed = 0;

  constructor(
    private readonly events: SessionEventLog,
    private readonly publisher: SessionEventPublisher,
    private readonly logger: LoggerService,
  ) {}

  /** Audit records that could not be written (chorus_session_audit_failures_total). */
  failures(): number {
    return this.failed;
  }

  /** Appends one audit event (idempotent by `dedupe_key` when given) and publishes it. Throws on failure. */
  async record(sessionId: string, event: NewSessionEvent): Promise<void> {
    const stored = await this.events.append(sessionId, event);
    await this.publisher.publish([stored]);
  }

  /** Records a refusal; never throws (logged and counted instead). */
  async refused(r: Refusal): Promise<void> {
    try {
      await this.record(r.session_id, {
        type: 'access_refused',
        actor: r.user_id,
        payload: { user_id: r.user_id, action: r.action, code: r.code, reason: r.reason.slice(0, 1_000), ...(r.resource !== undefined ? { resource: r.resource } : {}) },
      });
    } catch (err) {
      this.failed++;
      this.logger.error(`Could not record the refusal of ${r.action} by ${r.user_id} in session ${r.session_id}: ${(err as Error).message}`, undefined, 'AuditTrail');
    }
  }

  /**
   * Runs `work`; a PERMISSION_DENIED it throws is recorded as `access_refused` (after `work` has finished, so
   * after its transaction rolled back) and rethrown unchanged.
   */
  async refusing<T>(actor: Identity, sessionId: string, action: string, work: () => Promise<T>, resource?: string): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ChorusError && err.code === 'PERMISSION_DENIED') {
        await this.refused({ session_id: sessionId, user_id: actor.user_id, action, code: err.code, reason: err.message, ...(resource !== undefined ? { resource } : {}) });
      }
      throw err;
    }
  }
}
