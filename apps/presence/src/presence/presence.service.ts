import { transformSelection, type TextOp } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import type { AppliedStep, HeartbeatResult, PresenceStore } from './presence.store';
import type { PresenceEvent } from './presence.events';
import { presenceUpdate, typingEvent } from './presence.events';
import { validateJoin, validateUpdate, validateDocId } from './presence.validation';
import { deriveStatus, systemClock, toView, type Clock, type PeerRef, type PresenceKind, type PresencePatch, type PresenceView, type ExplicitStatus, type Selection } from './presence.types';

export interface PresenceServiceOptions {
  /** Lease of a peer's presence: how long it survives without a heartbeat or an update. */
  leaseMs: number;
  /** How often gateways call heartbeatNode. Not used here; validated against the lease (3 beats per lease). */
  heartbeatIntervalMs: number;
  /** Without activity for this long, an 'online' peer shows as 'idle'. */
  idleAfterMs: number;
  /** A typing indicator stops by itself this long after the last `typing`. */
  typingTtlMs: number;
  /** Entries claimed per store call in sweep(), and store calls per sweep() at most (bounds one sweep's work). */
  sweepBatchSize: number;
  sweepMaxBatches: number;
  maxDocIdLength: number;
  maxActiveFilePathLength: number;
}

/** Defaults, and why. See docs/presence.md. */
export const DEFAULT_PRESENCE_OPTIONS: PresenceServiceOptions = {
  // 15 s = 3 heartbeats: one or two lost/late beats (GC pause, Redis failover) do not flap presence, and a
  // dead gateway's cursors are gone within 15 s (+ one sweep interval).
  leaseMs: 15_000,
  heartbeatIntervalMs: 5_000,
  idleAfterMs: 60_000,
  // Long enough to bridge pauses between keystrokes when clients send `typing` every ~2 s, short enough
  // that an indicator never lingers after someone stops.
  typingTtlMs: 5_000,
  sweepBatchSize: 100,
  sweepMaxBatches: 20,
  maxDocIdLength: 256,
  maxActiveFilePathLength: 1_024,
};

export interface JoinPresenceInput {
  session_id: string;
  peer_id: string;
  user_id: string;
  display_name: string;
  kind: PresenceKind;
  node_id: string;
  status?: ExplicitStatus;
  active_file?: string | null;
  doc_id?: string | null;
  selection?: Selection | null;
}

/** The client `presence_update` minus session_id/type. Absent fields are unchanged; null clears. */
export interface PresenceUpdateInput {
  status?: ExplicitStatus;
  active_file?: string | null;
  doc_id?: string | null;
  selection?: Selection | null;
}

/**
 * The presence domain, as the Nest handlers will call it. Stateless over the store, so any number of
 * replicas may serve any request. It broadcasts nothing: every method returns the events to broadcast.
 */
export class PresenceService {
  readonly options: PresenceServiceOptions;

  constructor(
    private readonly store: PresenceStore,
    options: Partial<PresenceServiceOptions> = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.options = { ...DEFAULT_PRESENCE_OPTIONS, ...options };
    const o = this.options;
    for (const [name, value] of Object.entries(o)) {
      if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`presence option ${name} must be a positive integer (got ${value})`);
    }
    if (o.heartbeatIntervalMs * 2 > o.leaseMs) {
      throw new RangeError(`leaseMs (${o.leaseMs}) must cover at least two heartbeat intervals (${o.heartbeatIntervalMs}) so one late beat does not expire a live peer`);
    }
  }

  async join(input: JoinPresenceInput): Promise<PresenceEvent[]> {
    validateJoin(input, this.options);
    const now = this.clock.now();
    const state = await this.store.join(
      {
        session_id: input.session_id,
        peer_id: input.peer_id,
        user_id: input.user_id,
        display_name: input.display_name,
        kind: input.kind,
        node_id: input.node_id,
        status: input.status ?? 'online',
        active_file: input.active_file ?? null,
        doc_id: input.doc_id ?? null,
        selection: input.doc_id ? (input.selection ?? null) : null,
        typing: null,
        last_active_at: now,
      },
      this.options.leaseMs,
    );
    if (!state) {
      throw new ChorusError('PERMISSION_DENIED', `The peer_id "${input.peer_id}" is live in this session for another user. Pick another peer_id and join again.`, { field: 'peer_id' });
    }
    return [presenceUpdate(toView(state, now, this.options.idleAfterMs))];
  }

  /**
   * A client's presence_update. Moving (file, document, selection) or saying 'online' is activity; saying
   * 'away' alone is not. Throws NOT_FOUND if the peer's presence is gone (the gateway should re-join it).
   */
  async update(sessionId: string, peerId: string, input: PresenceUpdateInput): Promise<PresenceEvent[]> {
    validateUpdate(input, this.options);
    const patch: PresencePatch = {};
    if (input.status !== undefined) patch.status = input.status;
    if (input.active_file !== undefined) patch.active_file = input.active_file;
    if (input.doc_id !== undefined) patch.doc_id = input.doc_id;
    if (input.selection !== undefined) patch.selection = input.selection;
    const now = this.clock.now();
    const moved = input.active_file !== undefined || input.doc_id !== undefined || input.selection !== undefined;
    if (moved || input.status === 'online') patch.last_active_at = now;
    const state = await this.store.update(sessionId, peerId, patch, this.options.leaseMs);
    if (!state) throw notFound(sessionId, peerId);
    return [presenceUpdate(toView(state, now, this.options.idleAfterMs))];
  }

  /**
   * `typing`: starts or refreshes the peer's indicator for `typingTtlMs`. Emits typing_start only when the
   * peer was not typing in that document (and typing_stop for the document it typed in before). The read
   * before the write may race another `typing` of the same peer: at worst a duplicate typing_start, which
   * clients treat idempotently.
   */
  async typing(sessionId: string, peerId: string, docId: string | null): Promise<PresenceEvent[]> {
    validateDocId(docId, 'doc_id', this.options);
    const before = await this.store.get(sessionId, peerId);
    if (!before) throw notFound(sessionId, peerId);
    const now = this.clock.now();
    const state = await this.store.update(sessionId, peerId, { typing: { doc_id: docId, until: now + this.options.typingTtlMs }, last_active_at: now }, this.options.leaseMs);
    if (!state) throw notFound(sessionId, peerId);
    const events: PresenceEvent[] = [];
    // Typing is activity: an idle peer is back, and the session hears it now (not at the next idle check).
    if (deriveStatus(before, now, this.options.idleAfterMs) === 'idle') events.push(presenceUpdate(toView(state, now, this.options.idleAfterMs)));
    if (before.typing && before.typing.doc_id === docId) return events;
    if (before.typing) events.push(typingEvent('typing_stop', before, before.typing.doc_id));
    events.push(typingEvent('typing_start', state, docId));
    return events;
  }

  /** `stop_typing`: emits typing_stop if the peer was typing (no error if it was not, or is gone). */
  async stopTyping(sessionId: string, peerId: string): Promise<PresenceEvent[]> {
    const before = await this.store.get(sessionId, peerId);
    if (!before?.typing) return [];
    const state = await this.store.update(sessionId, peerId, { typing: null }, this.options.leaseMs);
    return state ? [typingEvent('typing_stop', before, before.typing.doc_id)] : [];
  }

  /**
   * The peer leaves (disconnect, leave). Emits presence_left once, whoever else races to remove it. With
   * `userId`, only that user's entry is removed (never the holder's, after a refused join).
   */
  async leave(sessionId: string, peerId: string, userId?: string): Promise<PresenceEvent[]> {
    const removed = await this.store.leave(sessionId, peerId, userId);
    if (!removed) return [];
    const events: PresenceEvent[] = [];
    if (removed.typing) events.push(typingEvent('typing_stop', removed, removed.typing.doc_id));
    events.push({ type: 'presence_left', session_id: removed.session_id, peer_id: removed.peer_id, user_id: removed.user_id, reason: 'left' });
    return events;
  }

  /** `who`: the current presence of everyone in the session, statuses derived now. */
  async who(sessionId: string): Promise<PresenceView[]> {
    const now = this.clock.now();
    return (await this.store.list(sessionId)).map((s) => toView(s, now, this.options.idleAfterMs));
  }

  /** A gateway's periodic heartbeat for all peers it holds. `lost` peers must be re-joined by the gateway. */
  heartbeatNode(nodeId: string): Promise<HeartbeatResult> {
    return this.store.heartbeatNode(nodeId, this.options.leaseMs);
  }

  /**
   * Claims expired leases and typing indicators. Every replica runs it on a timer (e.g. every second);
   * each expiry is claimed by exactly one replica, so each event below is produced exactly once overall.
   */
  async sweep(): Promise<PresenceEvent[]> {
    const { sweepBatchSize: batch, sweepMaxBatches: maxBatches } = this.options;
    const now = this.clock.now();
    const events: PresenceEvent[] = [];
    for (let i = 0; i < maxBatches; i++) {
      const expired = await this.store.claimExpired(now, batch);
      for (const e of expired) {
        events.push({ type: 'peer_expired', session_id: e.session_id, peer_id: e.peer_id, user_id: e.state?.user_id ?? null, node_id: e.state?.node_id ?? null, lease_expires_at: e.state?.lease_expires_at ?? null });
      }
      if (expired.length < batch) break;
    }
    for (let i = 0; i < maxBatches; i++) {
      const stopped = await this.store.claimExpiredTyping(now, batch);
      for (const s of stopped) events.push(typingEvent('typing_stop', s, s.typing?.doc_id ?? null));
      if (stopped.length < batch) break;
    }
    return events;
  }

  /**
   * Moves every selection on a document through a committed op, with the same tie rule as the conflict
   * service (@chorus/ot transformSelection: the author's caret goes after its insert, peers' before).
   * A one-off transform: no version is checked or recorded (committed ops go through SelectionBatcher).
   */
  async transformSelections(sessionId: string, docId: string, op: TextOp, authorPeerId: string): Promise<{ events: PresenceEvent[]; skipped: PeerRef[] }> {
    return this.transformSelectionsMany(sessionId, docId, [{ op, authorPeerId }]);
  }

  /**
   * The same for several committed ops of one document, in commit order, in one store round trip: each
   * selection goes through every op with that op's own author rule — exactly as op by op, at a fraction of
   * the cost on a busy document. With `step` (the ops are versions step.from + 1 .. step.to) the document's
   * applied version moves with them, atomically, and nothing is written if it is no longer step.from
   * (`outOfStep`: re-read appliedVersion). SelectionBatcher drives this in version order.
   */
  async transformSelectionsMany(
    sessionId: string,
    docId: string,
    ops: ReadonlyArray<{ op: TextOp; authorPeerId: string }>,
    step?: AppliedStep,
  ): Promise<{ events: PresenceEvent[]; skipped: PeerRef[]; outOfStep?: true }> {
    const now = this.clock.now();
    const result = await this.store.transformSelections(
      sessionId,
      docId,
      (sel, state) => ops.reduce((s, { op, authorPeerId }) => transformSelection(s, op, state.peer_id === authorPeerId), sel),
      step,
    );
    const events = result.updated.map((s) => presenceUpdate(toView(s, now, this.options.idleAfterMs)));
    return result.outOfStep ? { events, skipped: result.skipped, outOfStep: true } : { events, skipped: result.skipped };
  }

  /** The version of a document's committed ops its stored selections went through (null: none recorded). */
  appliedVersion(sessionId: string, docId: string): Promise<number | null> {
    return this.store.appliedVersion(sessionId, docId);
  }
}

function notFound(sessionId: string, peerId: string): ChorusError {
  return new ChorusError('NOT_FOUND', `no live presence for peer ${peerId} in session ${sessionId}: join again`);
}
