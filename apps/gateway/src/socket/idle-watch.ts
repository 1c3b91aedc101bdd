import type { DerivedStatus, PresenceView } from '@chorus/protocol';

/** One peer held by this node: a connection's membership of a session. */
export interface LocalPeer {
  readonly session_id: string;
  readonly peer_id: string;
}

/**
 * Pushes the moment a peer turns idle, and the moment it comes back (issue #19). Presence derives `idle` when it
 * is read (docs/presence.md: never stored, nothing fires when a silent peer crosses the threshold), so each
 * gateway watches the peers it holds: on every heartbeat it reads each of their sessions' presence once and
 * offers a view whose status moved to or from `idle` to the presence batcher — the same road and message
 * (`presence_batch`) as any presence change. Every peer is held by exactly one gateway, so each transition is
 * pushed once cluster-wide; a transition shows within one heartbeat interval of the threshold. A return to
 * `online` that a client announced itself (`presence_update`) was pushed already; seeing it again here pushes
 * the same view once more, which clients apply idempotently.
 */
export class IdleWatch {
  private last = new Map<string, DerivedStatus>();

  private failures = 0;

  /** Sessions whose presence could not be read for the check (each logged by the caller's `failed`). */
  get readFailures(): number {
    return this.failures;
  }

  async check(
    peers: readonly LocalPeer[],
    who: (sessionId: string) => Promise<PresenceView[]>,
    offer: (view: PresenceView) => void,
    failed: (sessionId: string, err: unknown) => void,
  ): Promise<void> {
    const local = new Set(peers.map((p) => key(p.session_id, p.peer_id)));
    const sessions = [...new Set(peers.map((p) => p.session_id))];
    const next = new Map<string, DerivedStatus>();
    const views = await Promise.all(
      sessions.map((s) =>
        who(s).catch((err: unknown) => {
          this.failures++;
          failed(s, err);
          return null;
        }),
      ),
    );
    sessions.forEach((sessionId, i) => {
      const list = views[i];
      if (list === null) {
        // Not read this round (presence did not answer): keep what was known, so the next round still compares.
        for (const [k, status] of this.last) if (k.startsWith(`${sessionId}\u0000`) && local.has(k)) next.set(k, status);
        return;
      }
      for (const view of list) {
        const k = key(view.session_id, view.peer_id);
        if (!local.has(k)) continue;
        // A peer first seen here was last pushed by its join (or a presence_update since): `online` unless it
        // said `away` — so a peer already idle at its first sighting is pushed as idle now.
        const before = this.last.get(k) ?? 'online';
        if (before !== view.status && (before === 'idle' || view.status === 'idle')) offer(view);
        next.set(k, view.status);
      }
    });
    this.last = next;
  }
}

function key(sessionId: string, peerId: string): string {
  return `${sessionId}\u0000${peerId}`;
}
