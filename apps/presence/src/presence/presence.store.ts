import type { PeerRef, PresenceJoin, PresencePatch, PresenceState, Selection } from './presence.types';

/** A peer whose lease ran out, as claimed by exactly one sweeper. */
export interface ExpiredPeer extends PeerRef {
  /**
   * The last stored state. Null only in the Redis store when no sweep ran for longer than the retention
   * backstop after the lease ended (the state itself was dropped by its TTL; the ids survive in the index).
   */
  state: PresenceState | null;
}

export interface HeartbeatResult {
  /** How many of the node's peers had their lease extended. */
  refreshed: number;
  /**
   * Peers the node still believes it holds but presence has forgotten (lease ran out, e.g. after a long pause,
   * or swept). Heartbeats never resurrect them: the gateway must `join` them again if the connection lives.
   */
  lost: PeerRef[];
}

/**
 * Which committed ops a transform carries the selections through: from the document's applied version `from`
 * (null: none recorded yet) to `to`. Written with the selections in one atomic step, and only if the stored
 * applied version is still `from`.
 */
export interface AppliedStep {
  from: number | null;
  to: number;
}

export interface SelectionTransformResult {
  /** States whose selection the transform changed, as written. */
  updated: PresenceState[];
  /**
   * Peers whose owner wrote their presence between the read and the write of this transform. Their own write
   * wins and the transform is not applied to them (see `transformSelections`). Reported, never silent.
   */
  skipped: PeerRef[];
  /**
   * Only with a step: the stored applied version was not `step.from` (another replica applied ops of this
   * document meanwhile). Nothing was written; read `appliedVersion` again and retry with the ops left.
   */
  outOfStep?: true;
}

/** Computes a peer's new selection. Called once per live peer with a selection on the document. */
export type SelectionTransform = (selection: Selection, state: PresenceState) => Selection;

/**
 * The presence store: the port between the presence domain and its storage. Implemented by
 * RedisPresenceStore (shared by every presence replica) and MemoryPresenceStore (one process, tests and
 * standalone). Both pass `presenceStoreContract`. The contract:
 *
 * Time. Every implementation takes an injected clock; "now" below is that clock. A peer is live while
 * now < lease_expires_at. Expired peers are invisible to reads (`get`, `list`) and to writes
 * (`update`, `heartbeatNode`) at once, even before any sweep claims them.
 *
 * Atomicity. Each method is atomic with respect to every other method call, across all processes sharing
 * the store (Redis: one Lua script per call). The one exception is `transformSelections`, which reads, calls
 * back into JavaScript, then writes conditionally (optimistic concurrency on `selection_version`).
 *
 * Exactly-once removal. An entry leaves the store through exactly one of: `leave`, `claimExpired` (or a
 * `join` of the same (session, peer) by the same user that replaces it).
 *
 * Ownership. A live entry belongs to its user: `join` never replaces, and `leave` with a user never removes, a
 * live entry of another user (checked in the same atomic step as the write). The session service already
 * refuses a peer id another user holds (session_peers); this keeps presence right even if a caller did not ask. Whichever call removes it is the only one that
 * returns it, even with many replicas sweeping concurrently — so exactly one `peer_expired` is broadcast.
 * Likewise an expired typing indicator is returned by exactly one `claimExpiredTyping` call.
 *
 * Expiry and memory. Nothing is kept without a bound: entries are removed by `leave` or a sweep; the Redis
 * store also puts a TTL (lease + retention) on every per-entry key so that state outlives no sweeper forever.
 * Sweeps are the caller's job (PresenceService.sweep on every replica, on a timer).
 *
 * Delivery. The store broadcasts nothing; callers turn return values into events.
 */
export interface PresenceStore {
  /**
   * Stores a peer's presence with a fresh lease of `leaseMs`, replacing a previous entry of the same session
   * and peer if it is the same user's (a reconnect through another node) or its lease ran out. Returns the
   * stored state, or null — storing nothing — when a live entry of another user holds the peer id.
   */
  join(state: PresenceJoin, leaseMs: number): Promise<PresenceState | null>;

  /**
   * Applies `patch` to a live peer and renews its lease. Null if the peer is unknown or its lease ran out.
   * A selection belongs to its document: a patch that changes `doc_id` without a `selection` clears it.
   */
  update(sessionId: string, peerId: string, patch: PresencePatch, leaseMs: number): Promise<PresenceState | null>;

  /**
   * Renews the lease of every live peer held by `nodeId` in one call: a gateway calls it once per heartbeat
   * interval for all its connections. When a node dies its heartbeats stop and all its peers expire within
   * one lease. Peers that moved to another node are dropped from this node's set silently.
   */
  heartbeatNode(nodeId: string, leaseMs: number): Promise<HeartbeatResult>;

  /**
   * Removes a peer (whether or not its lease ran out). With `userId`, only if the entry is that user's: a
   * gateway cleaning up after a refused join must not remove the holder's entry. Returns the removed state,
   * or null if none was removed.
   */
  leave(sessionId: string, peerId: string, userId?: string): Promise<PresenceState | null>;

  /** A live peer's state, or null. */
  get(sessionId: string, peerId: string): Promise<PresenceState | null>;

  /** Every live peer of a session, ordered by peer_id. */
  list(sessionId: string): Promise<PresenceState[]>;

  /**
   * Removes and returns up to `limit` entries whose lease ended at or before `now`, oldest first. Each
   * entry is returned to exactly one caller across all replicas (atomic claim). With an expiry outbox
   * configured (every deployment: see presence-app.module.ts), each claimed entry that still has its state
   * is added to the outbox in the same atomic step (`expiryKey(session, peer, lease_expires_at)`, due `now`):
   * a replica that dies right after the claim leaves its expiries to whichever replica drains the outbox next.
   */
  claimExpired(now: number, limit: number): Promise<ExpiredPeer[]>;

  /**
   * Clears and returns up to `limit` live peers whose typing indicator ended at or before `now`. The states
   * are returned as they were when claimed (with the expired `typing`), each to exactly one caller; the stored
   * state has `typing: null` afterwards. Typing of peers whose lease ran out is dropped here and left to
   * `claimExpired` (a peer_expired implies typing_stop).
   */
  claimExpiredTyping(now: number, limit: number): Promise<PresenceState[]>;

  /**
   * The version of `docId`'s committed ops the stored selections have been carried through (the last `to` of
   * a transform with a step), or null if none is recorded. Kept per (session, document) with the same
   * retention as a state key after its last write (Redis: a TTL), so an idle document's record expires.
   */
  appliedVersion(sessionId: string, docId: string): Promise<number | null>;

  /**
   * Applies `transform` to the selection of every live peer of the session whose `doc_id` is `docId`.
   *
   * With `step`: the transform carries the selections through the committed ops `step.from + 1 .. step.to`,
   * and the applied version moves to `step.to` in the same atomic write — but only if it is still `step.from`;
   * otherwise nothing is written and the result says `outOfStep`. This is what makes each op move the stored
   * selections exactly once across replicas and redeliveries (PresenceService orders ops by version).
   *
   * Race: the transform runs in JavaScript between a read and a conditional write. A peer whose position
   * changed in between (its `selection_version` moved: the owner sent a newer selection or document) is not
   * written: the owner's write wins and the peer is reported in `skipped`. Rationale: the owner's newer
   * selection is the freshest truth the server has; transforming it again by an op it may already reflect
   * could double-shift it, while leaving it is at worst off until the owner's next update. Peers whose
   * transformed selection equals the old one are not written and not reported.
   *
   * Ordering is the caller's job: the store only refuses a step that does not start where the last one ended.
   * Without a step nothing is checked (a one-off transform).
   */
  transformSelections(sessionId: string, docId: string, transform: SelectionTransform, step?: AppliedStep): Promise<SelectionTransformResult>;
}
