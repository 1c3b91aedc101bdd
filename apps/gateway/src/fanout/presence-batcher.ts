import { Coalescer } from '@chorus/fanout';
import type { PresenceView } from '@chorus/protocol';

/**
 * Presence broadcasts, batched per session: the first change in a quiet session goes out at once; changes in
 * the next 50 ms travel together in one `presence_batch` (the latest view of each peer). Each peer still
 * updates at most 20 times a second, and a 200-peer session whose cursors all move costs each member 20
 * frames a second instead of 200 — the per-message cost of Socket.IO, not bandwidth, is what saturates a
 * gateway.
 */
export class PresenceBatcher {
  private readonly pending = new Map<string, Map<string, PresenceView>>();
  private readonly coalescer: Coalescer<string, Map<string, PresenceView>>;

  constructor(send: (sessionId: string, peers: PresenceView[]) => void, intervalMs = 50) {
    this.coalescer = new Coalescer(
      (sessionId, batch) => {
        // A new batch starts for changes after this one; the emitted map is no longer added to.
        if (this.pending.get(sessionId) === batch) this.pending.delete(sessionId);
        if (batch.size > 0) send(sessionId, [...batch.values()]);
      },
      { minIntervalMs: intervalMs },
    );
  }

  offer(view: PresenceView): void {
    let batch = this.pending.get(view.session_id);
    if (!batch) {
      batch = new Map();
      this.pending.set(view.session_id, batch);
    }
    batch.set(view.peer_id, view);
    this.coalescer.offer(view.session_id, batch);
  }

  /** A peer left: its queued update must not arrive after its `presence_left`. */
  drop(sessionId: string, peerId: string): void {
    this.pending.get(sessionId)?.delete(peerId);
  }

  close(): void {
    this.coalescer.close();
    this.pending.clear();
  }
}
