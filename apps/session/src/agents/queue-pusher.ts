import type { LoggerService } from '@nestjs/common';
import type { QueueView } from '@chorus/protocol';

/** Reads one queue's view (revision, length, head) in one snapshot: one statement. */
export type ReadView = (sessionId: string, agentId: string | null) => Promise<QueueView>;

/**
 * Pushes `queue_updated` for the queues that changed, coalesced: at most one read and push per queue every
 * `delayMs`, always one after the last change. The view is read after the commit, outside the queue lock (so
 * a busy queue's lock is held only for the change itself), revision and items in one snapshot — so whichever
 * replica pushes last, every client keeps the newest state by revision. A change that commits while a read is
 * under way marks the queue again: it is read once more after that one.
 */
export class QueuePusher {
  private readonly queues = new Map<string, { timer: NodeJS.Timeout | undefined; inFlight: boolean; dirty: boolean; sessionId: string; agentId: string | null }>();

  constructor(
    private readonly read: ReadView,
    private readonly push: (view: QueueView) => Promise<void>,
    private readonly logger: LoggerService,
    private readonly delayMs = 20,
  ) {}

  /** Whether no push is scheduled or under way (tests wait for it before closing the database). */
  get idle(): boolean {
    return this.queues.size === 0;
  }

  changed(sessionId: string, agentId: string | null): void {
    const key = JSON.stringify([sessionId, agentId]);
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = { timer: undefined, inFlight: false, dirty: false, sessionId, agentId }));
    q.dirty = true;
    if (q.timer === undefined && !q.inFlight) this.schedule(key, q);
  }

  private schedule(key: string, q: { timer: NodeJS.Timeout | undefined; inFlight: boolean; dirty: boolean; sessionId: string; agentId: string | null }): void {
    q.timer = setTimeout(() => {
      q.timer = undefined;
      q.dirty = false;
      q.inFlight = true;
      void this.read(q.sessionId, q.agentId)
        .then((view) => this.push(view))
        .catch((err: unknown) => this.logger.warn(`queue_updated for ${key} not pushed: ${(err as Error).message}`, 'QueuePusher'))
        .finally(() => {
          q.inFlight = false;
          if (q.dirty) this.schedule(key, q);
          else this.queues.delete(key);
        });
    }, this.delayMs);
    q.timer.unref?.();
  }
}
