import { expiryKey, type MemoryExpiryOutbox } from './expiry-outbox';
import type { AppliedStep, ExpiredPeer, HeartbeatResult, PresenceStore, SelectionTransform, SelectionTransformResult } from './presence.store';
import { systemClock, type Clock, type PeerRef, type PresenceJoin, type PresencePatch, type PresenceState } from './presence.types';

export interface MemoryPresenceStoreOptions {
  /** Source of "now". Default: the system clock. Tests inject a manual clock. */
  clock?: Clock;
  /** Where claimExpired enqueues each claimed expiry, in the same step (see PresenceStore.claimExpired). */
  outbox?: MemoryExpiryOutbox;
  /** How long a document's applied version outlives its last write. Default 10 minutes, as in Redis. */
  retentionMs?: number;
}

const DEFAULT_RETENTION_MS = 10 * 60_000;

const memberOf = (sessionId: string, peerId: string): string => JSON.stringify([sessionId, peerId]);

/**
 * In-process PresenceStore: one Node process (standalone mode, tests). Same contract as RedisPresenceStore
 * (`presenceStoreContract`); atomicity comes from the event loop: no method awaits between its read and its
 * write, so each call is one indivisible step. Returned states are copies: callers never alias stored ones.
 * Memory is bounded by the same sweeps as Redis (leave / claimExpired remove entries).
 */
export class MemoryPresenceStore implements PresenceStore {
  private readonly clock: Clock;
  private readonly peers = new Map<string, PresenceState>();
  private readonly nodes = new Map<string, Set<string>>();
  /** (session, doc) → applied version and when that record expires (bounded like the Redis TTL). */
  private readonly applied = new Map<string, { version: number; until: number }>();
  private readonly outbox: MemoryExpiryOutbox | undefined;
  private readonly retentionMs: number;
  private stamp = 0;

  constructor(options: MemoryPresenceStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.outbox = options.outbox;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  }

  async join(state: PresenceJoin, leaseMs: number): Promise<PresenceState | null> {
    const now = this.clock.now();
    const member = memberOf(state.session_id, state.peer_id);
    const previous = this.peers.get(member);
    if (previous && previous.lease_expires_at > now && previous.user_id !== state.user_id) return null;
    if (previous) this.unindex(member, previous);
    const stored: PresenceState = { ...structuredClone(state), updated_at: now, lease_expires_at: now + leaseMs, selection_version: ++this.stamp };
    this.peers.set(member, stored);
    this.nodeSet(stored.node_id).add(member);
    return structuredClone(stored);
  }

  async update(sessionId: string, peerId: string, patch: PresencePatch, leaseMs: number): Promise<PresenceState | null> {
    const now = this.clock.now();
    const state = this.live(memberOf(sessionId, peerId), now);
    if (!state) return null;
    const clean = structuredClone(patch);
    for (const key of Object.keys(clean) as (keyof PresencePatch)[]) {
      if (clean[key] === undefined) delete clean[key];
    }
    // A selection belongs to its document: moving to another document without a new selection drops it.
    if (clean.doc_id !== undefined && clean.selection === undefined && clean.doc_id !== state.doc_id) state.selection = null;
    Object.assign(state, clean);
    if ('selection' in clean || 'doc_id' in clean) state.selection_version = ++this.stamp;
    state.updated_at = now;
    state.lease_expires_at = now + leaseMs;
    return structuredClone(state);
  }

  async heartbeatNode(nodeId: string, leaseMs: number): Promise<HeartbeatResult> {
    const now = this.clock.now();
    const members = this.nodes.get(nodeId);
    const result: HeartbeatResult = { refreshed: 0, lost: [] };
    if (!members) return result;
    for (const member of [...members]) {
      const state = this.peers.get(member);
      if (state && state.lease_expires_at > now) {
        // Invariant: a member is in exactly the node set of its state's node_id (join moves it).
        state.lease_expires_at = now + leaseMs;
        result.refreshed += 1;
      } else {
        members.delete(member);
        const [session_id, peer_id] = JSON.parse(member) as [string, string];
        result.lost.push({ session_id, peer_id });
      }
    }
    if (members.size === 0) this.nodes.delete(nodeId);
    return result;
  }

  async leave(sessionId: string, peerId: string, userId?: string): Promise<PresenceState | null> {
    const member = memberOf(sessionId, peerId);
    const state = this.peers.get(member);
    if (!state || (userId !== undefined && state.user_id !== userId)) return null;
    this.unindex(member, state);
    return state;
  }

  async get(sessionId: string, peerId: string): Promise<PresenceState | null> {
    const state = this.live(memberOf(sessionId, peerId), this.clock.now());
    return state ? structuredClone(state) : null;
  }

  async list(sessionId: string): Promise<PresenceState[]> {
    const now = this.clock.now();
    return [...this.peers.values()]
      .filter((s) => s.session_id === sessionId && s.lease_expires_at > now)
      .sort((a, b) => (a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0))
      .map((s) => structuredClone(s));
  }

  async claimExpired(now: number, limit: number): Promise<ExpiredPeer[]> {
    const expired = [...this.peers.entries()]
      .filter(([, s]) => s.lease_expires_at <= now)
      .sort(([, a], [, b]) => a.lease_expires_at - b.lease_expires_at)
      .slice(0, Math.max(0, limit));
    // No await from here on: the claim and the enqueue are one step of the event loop.
    this.outbox?.enqueue(
      expired.map(([, s]) => ({ session_id: s.session_id, peer_id: s.peer_id, user_id: s.user_id, expiry_key: expiryKey(s.session_id, s.peer_id, s.lease_expires_at) })),
      now,
    );
    return expired.map(([member, state]) => {
      this.unindex(member, state);
      return { session_id: state.session_id, peer_id: state.peer_id, state };
    });
  }

  async claimExpiredTyping(now: number, limit: number): Promise<PresenceState[]> {
    const due = [...this.peers.values()]
      .filter((s) => s.typing !== null && s.typing.until <= now && s.lease_expires_at > now)
      .sort((a, b) => (a.typing?.until ?? 0) - (b.typing?.until ?? 0))
      .slice(0, Math.max(0, limit));
    return due.map((state) => {
      const claimed = structuredClone(state);
      state.typing = null;
      state.updated_at = now;
      return claimed;
    });
  }

  async appliedVersion(sessionId: string, docId: string): Promise<number | null> {
    return this.appliedVersionNow(sessionId, docId, this.clock.now());
  }

  async transformSelections(sessionId: string, docId: string, transform: SelectionTransform, step?: AppliedStep): Promise<SelectionTransformResult> {
    // Read, compute, then write conditionally, exactly like the Redis store: `transform` may itself trigger
    // writes (it is caller code), and those must win just as a concurrent owner's write wins in Redis.
    const read = (await this.list(sessionId)).filter((s) => s.doc_id === docId && s.selection !== null);
    const planned = read.map((s) => ({ before: s, after: transform(structuredClone(s.selection!), structuredClone(s)) }));
    const result: SelectionTransformResult = { updated: [], skipped: [] };
    const now = this.clock.now();
    if (step) {
      // The applied-version check and every write below happen without an await: one atomic step.
      if (this.appliedVersionNow(sessionId, docId, now) !== step.from) return { ...result, outOfStep: true };
      this.pruneApplied(now);
      this.applied.set(memberOf(sessionId, docId), { version: step.to, until: now + this.retentionMs });
    }
    for (const { before, after } of planned) {
      if (after.anchor === before.selection!.anchor && after.head === before.selection!.head) continue;
      const current = this.live(memberOf(sessionId, before.peer_id), now);
      if (!current || current.selection_version !== before.selection_version || current.doc_id !== docId) {
        if (current) result.skipped.push(refOf(current));
        continue;
      }
      current.selection = { anchor: after.anchor, head: after.head };
      current.selection_version = ++this.stamp;
      current.updated_at = now;
      result.updated.push(structuredClone(current));
    }
    return result;
  }

  private appliedVersionNow(sessionId: string, docId: string, now: number): number | null {
    const record = this.applied.get(memberOf(sessionId, docId));
    return record && record.until > now ? record.version : null;
  }

  /** Drops expired applied-version records (cheap: one entry per recently edited document). */
  private pruneApplied(now: number): void {
    for (const [key, record] of this.applied) if (record.until <= now) this.applied.delete(key);
  }

  private live(member: string, now: number): PresenceState | undefined {
    const state = this.peers.get(member);
    return state && state.lease_expires_at > now ? state : undefined;
  }

  private nodeSet(nodeId: string): Set<string> {
    let set = this.nodes.get(nodeId);
    if (!set) this.nodes.set(nodeId, (set = new Set()));
    return set;
  }

  private unindex(member: string, state: PresenceState): void {
    this.peers.delete(member);
    const set = this.nodes.get(state.node_id);
    set?.delete(member);
    if (set?.size === 0) this.nodes.delete(state.node_id);
  }
}

function refOf(state: PeerRef): PeerRef {
  return { session_id: state.session_id, peer_id: state.peer_id };
}
