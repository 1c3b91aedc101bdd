import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import type { RedisExpiryOutbox } from './expiry-outbox';
import type { AppliedStep, ExpiredPeer, HeartbeatResult, PresenceStore, SelectionTransform, SelectionTransformResult } from './presence.store';
import { systemClock, type Clock, type PeerRef, type PresenceJoin, type PresencePatch, type PresenceState } from './presence.types';
import * as lua from './redis-presence.scripts';

export interface RedisPresenceStoreOptions {
  /** Every key starts with `${prefix}:presence:` (configured per deployment; tests use a unique one). */
  prefix: string;
  /**
   * Source of "now" for leases and expiry. Default: the system clock. Replicas are assumed NTP-synced: a
   * skew of d ms between two replicas moves an expiry by at most d ms (negligible against a 15 s lease).
   */
  clock?: Clock;
  /**
   * How long a state key outlives its lease (TTL backstop) so that a sweeper still finds it to broadcast its
   * expiry. Default 10 minutes: sweeps run every second, so only a presence outage longer than this drops a
   * state before it is claimed (claimExpired then returns the ids with `state: null`).
   */
  retentionMs?: number;
  /**
   * Peers renewed per script by heartbeatNode (it loops over the node's peers in chunks). Default 1,000:
   * ~12 ms of Redis time per chunk, so a 10k-peer gateway's heartbeat never blocks Redis for 100+ ms at once.
   */
  heartbeatChunkSize?: number;
  /**
   * The outbox claimExpired enqueues each claimed expiry into, in the claim's own script (see
   * PresenceStore.claimExpired). Must live on the same Redis (its key is written by the script).
   */
  outbox?: RedisExpiryOutbox;
}

export const DEFAULT_HEARTBEAT_CHUNK_SIZE = 1_000;

export const DEFAULT_RETENTION_MS = 10 * 60_000;

const PATCH_KEYS = ['status', 'active_file', 'doc_id', 'selection', 'typing', 'last_active_at', 'display_name'] as const;

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = {
  join: script(lua.JOIN),
  update: script(lua.UPDATE),
  heartbeat: script(lua.HEARTBEAT_NODE),
  leave: script(lua.LEAVE),
  get: script(lua.GET),
  list: script(lua.LIST),
  claimExpired: script(lua.CLAIM_EXPIRED),
  claimTyping: script(lua.CLAIM_EXPIRED_TYPING),
  casSelections: script(lua.CAS_SELECTIONS),
  appliedVersion: script(lua.APPLIED_VERSION),
};

const memberOf = (sessionId: string, peerId: string): string => JSON.stringify([sessionId, peerId]);
const refOfMember = (member: string): PeerRef => {
  const [session_id, peer_id] = JSON.parse(member) as [string, string];
  return { session_id, peer_id };
};
const parse = (raw: string): PresenceState => JSON.parse(raw) as PresenceState;
const byPeerId = (a: PresenceState, b: PresenceState): number => (a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0);

/**
 * PresenceStore on Redis, shared by every presence replica (contract: see PresenceStore). One Lua script per
 * method (redis-presence.scripts.ts documents the key layout and invariants). The connection is the
 * caller's: this class neither opens nor closes it.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly p: string;
  private readonly clock: Clock;
  private readonly retentionMs: number;
  private readonly heartbeatChunkSize: number;
  private readonly outboxKey: string;

  constructor(
    private readonly redis: Redis,
    options: RedisPresenceStoreOptions,
  ) {
    this.p = `${options.prefix}:presence:`;
    this.clock = options.clock ?? systemClock;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.heartbeatChunkSize = options.heartbeatChunkSize ?? DEFAULT_HEARTBEAT_CHUNK_SIZE;
    this.outboxKey = options.outbox?.key ?? '';
  }

  async join(state: PresenceJoin, leaseMs: number): Promise<PresenceState | null> {
    const raw = await this.run<string | null>(SCRIPTS.join, memberOf(state.session_id, state.peer_id), JSON.stringify(state), this.clock.now(), leaseMs, this.retentionMs);
    return raw === null ? null : parse(raw);
  }

  async update(sessionId: string, peerId: string, patch: PresencePatch, leaseMs: number): Promise<PresenceState | null> {
    const clean: Record<string, unknown> = {};
    for (const key of PATCH_KEYS) if (patch[key] !== undefined) clean[key] = patch[key];
    const raw = await this.run<string | null>(SCRIPTS.update, memberOf(sessionId, peerId), JSON.stringify(clean), this.clock.now(), leaseMs, this.retentionMs);
    return raw === null ? null : parse(raw);
  }

  /**
   * Chunked (HSCAN): each chunk is atomic, the whole call is not — fine, as each renewal stands alone. If
   * Redis rehashes the node hash mid-scan a peer may be renewed twice (counted twice in `refreshed`).
   */
  async heartbeatNode(nodeId: string, leaseMs: number): Promise<HeartbeatResult> {
    const result: HeartbeatResult = { refreshed: 0, lost: [] };
    const now = this.clock.now();
    let cursor = '0';
    do {
      const [next, refreshed, ...lost] = await this.run<[string, number, ...string[]]>(SCRIPTS.heartbeat, nodeId, now, leaseMs, this.retentionMs, cursor, this.heartbeatChunkSize);
      cursor = next;
      result.refreshed += refreshed;
      result.lost.push(...lost.map(refOfMember));
    } while (cursor !== '0');
    return result;
  }

  async leave(sessionId: string, peerId: string, userId?: string): Promise<PresenceState | null> {
    const raw = await this.run<string | null>(SCRIPTS.leave, memberOf(sessionId, peerId), userId ?? '');
    return raw === null ? null : parse(raw);
  }

  async get(sessionId: string, peerId: string): Promise<PresenceState | null> {
    const raw = await this.run<string | null>(SCRIPTS.get, memberOf(sessionId, peerId), this.clock.now());
    return raw === null ? null : parse(raw);
  }

  async list(sessionId: string): Promise<PresenceState[]> {
    const raws = await this.run<string[]>(SCRIPTS.list, 'session', sessionId, this.clock.now());
    return raws.map(parse).sort(byPeerId);
  }

  async claimExpired(now: number, limit: number): Promise<ExpiredPeer[]> {
    if (limit <= 0) return [];
    const flat = await this.run<string[]>(SCRIPTS.claimExpired, now, limit, this.outboxKey);
    const out: ExpiredPeer[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      out.push({ ...refOfMember(flat[i]), state: flat[i + 1] === '' ? null : parse(flat[i + 1]) });
    }
    return out;
  }

  async claimExpiredTyping(now: number, limit: number): Promise<PresenceState[]> {
    if (limit <= 0) return [];
    return (await this.run<string[]>(SCRIPTS.claimTyping, now, limit)).map(parse);
  }

  async appliedVersion(sessionId: string, docId: string): Promise<number | null> {
    const raw = await this.run<string | null>(SCRIPTS.appliedVersion, memberOf(sessionId, docId));
    return raw === null ? null : Number(raw);
  }

  async transformSelections(sessionId: string, docId: string, transform: SelectionTransform, step?: AppliedStep): Promise<SelectionTransformResult> {
    const read = (await this.list(sessionId)).filter((s) => s.doc_id === docId && s.selection !== null);
    const args: (string | number)[] = [];
    for (const state of read) {
      const before = state.selection!;
      const after = transform({ anchor: before.anchor, head: before.head }, state);
      if (after.anchor === before.anchor && after.head === before.head) continue;
      args.push(memberOf(sessionId, state.peer_id), state.selection_version, JSON.stringify({ anchor: after.anchor, head: after.head }));
    }
    const result: SelectionTransformResult = { updated: [], skipped: [] };
    if (args.length === 0 && !step) return result;
    // Conditional write: only peers whose selection_version is still the one read (owner's write wins), and
    // with a step only if the applied version is still step.from (then it moves to step.to in the same script).
    const stepArgs = step ? [memberOf(sessionId, docId), step.from === null ? '' : String(step.from), String(step.to), this.retentionMs] : ['', '', '', 0];
    const flat = await this.run<string[]>(SCRIPTS.casSelections, docId, this.clock.now(), ...stepArgs, ...args);
    if (flat[0] === '!') return { ...result, outOfStep: true };
    for (let i = 0; i < flat.length; i += 2) {
      const outcome = flat[i + 1];
      if (outcome === '') result.skipped.push(refOfMember(flat[i]));
      else if (outcome !== '-') result.updated.push(parse(outcome));
    }
    return result;
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script yet (or was restarted). */
  private async run<T>(s: Script, ...args: (string | number)[]): Promise<T> {
    try {
      return (await this.redis.evalsha(s.sha, 0, this.p, ...args)) as T;
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await this.redis.eval(s.source, 0, this.p, ...args)) as T;
    }
  }
}
