import type { PresenceView, Selection } from '@chorus/protocol';

/**
 * Everyone's presence in one session, as last reported by the server: status (online / idle / away), the
 * active file, the document and selection of the cursor, typing, and the time of the last activity. Rebuilt
 * from `who` after every (re)join, then kept current by `presence_batch`, `presence_update`, `presence_left`,
 * `typing_start`/`typing_stop` and `peer_left`. Read-only for the app: `peers()`, `get(peerId)`.
 */
export class PresenceStore {
  private readonly views = new Map<string, PresenceView>();
  private snapshot: PresenceView[] | null = null;

  /**
   * Every peer present, in the order they were first seen. The same array until the store changes, so it can
   * be a React `useSyncExternalStore` snapshot as it is.
   */
  peers(): readonly PresenceView[] {
    this.snapshot ??= [...this.views.values()];
    return this.snapshot;
  }

  /** One peer's presence. */
  get(peerId: string): PresenceView | undefined {
    return this.views.get(peerId);
  }

  /** The peers whose cursor is in `docId`, with their selection (code points, as they reported it). */
  cursorsIn(docId: string): Array<{ peerId: string; userId: string; displayName: string; selection: Selection }> {
    return this.peers()
      .filter((v) => v.doc_id === docId && v.selection !== null)
      .map((v) => ({ peerId: v.peer_id, userId: v.user_id, displayName: v.display_name, selection: v.selection as Selection }));
  }

  /** @internal Replaces the whole store (a `presence_list`). */
  reset(views: readonly PresenceView[]): void {
    this.snapshot = null;
    this.views.clear();
    for (const v of views) this.views.set(v.peer_id, v);
  }

  /** @internal One peer's latest view. */
  put(view: PresenceView): void {
    this.snapshot = null;
    this.views.set(view.peer_id, view);
  }

  /** @internal A peer is gone. Returns whether it was known. */
  remove(peerId: string): boolean {
    this.snapshot = null;
    return this.views.delete(peerId);
  }

  /** @internal Typing started (`docId`) or stopped (`null` typing). */
  setTyping(peerId: string, typing: { doc_id: string | null } | null): boolean {
    this.snapshot = null;
    const view = this.views.get(peerId);
    if (!view) return false;
    this.views.set(peerId, { ...view, typing });
    return true;
  }

  /** @internal Moves a peer's selection (a document op moved it). */
  setSelection(peerId: string, selection: Selection): void {
    this.snapshot = null;
    const view = this.views.get(peerId);
    if (view) this.views.set(peerId, { ...view, selection });
  }
}
