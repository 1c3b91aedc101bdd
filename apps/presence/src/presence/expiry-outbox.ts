import type Redis from 'ioredis';
import type { Clock } from './presence.types';
import { systemClock } from './presence.types';

/** A claimed lease expiry whose durable `peer_left` is not recorded yet. */
export interface PendingExpiry {
  session_id: string;
  peer_id: string;
  user_id: string;
  /** The expiry's natural key (session, peer, lease end): every retry records the same one peer_left. */
  expiry_key: string;
}

/** An expiry's natural key. The Redis claim script builds the same string (lease end printed as an integer). */
export const expiryKey = (sessionId: string, peerId: string, leaseExpiresAt: number): string => `${sessionId}/${peerId}/${leaseExpiresAt}`;

/**
 * The expiry outbox: lease expiries claimed by a sweep wait here until their durable `peer_left` is recorded;
 * only then is the ephemeral `presence_left` pushed. The claim itself enqueues them: PresenceStore.claimExpired
 * removes an expired entry and adds its expiry here in one atomic step, so no replica can die between the two
 * and lose it. Shared by every presence replica (Redis), so an expiry whose recording failed — the session
 * service down, a timeout — is retried by the next sweep of any replica, never lost.
 *
 * Contract. `add` is idempotent per expiry_key. `claimDue` hands each due entry to one caller at a time: the
 * entry becomes due again `retryMs` later unless `done` removes it first (a replica that dies mid-delivery
 * leaves it to another). Delivery is therefore at-least-once; the expiry_key makes the record exactly-once.
 */
export interface ExpiryOutbox {
  add(entries: readonly PendingExpiry[]): Promise<void>;
  claimDue(limit: number): Promise<PendingExpiry[]>;
  done(entry: PendingExpiry): Promise<void>;
}

/**
 * Entries are JSON members; this keeps one expiry one member whatever the field order. The claim script of
 * RedisPresenceStore builds the same text in Lua (redis-presence.scripts.ts `jsonString`, byte-equal to
 * JSON.stringify for the ids we store), so `done` removes what the claim added.
 */
const member = (e: PendingExpiry): string => JSON.stringify([e.session_id, e.peer_id, e.user_id, e.expiry_key]);
const fromMember = (raw: string): PendingExpiry => {
  const [session_id, peer_id, user_id, expiry_key] = JSON.parse(raw) as [string, string, string, string];
  return { session_id, peer_id, user_id, expiry_key };
};

export const DEFAULT_EXPIRY_RETRY_MS = 2_000;

export class MemoryExpiryOutbox implements ExpiryOutbox {
  private readonly due = new Map<string, number>();

  constructor(
    private readonly retryMs = DEFAULT_EXPIRY_RETRY_MS,
    private readonly clock: Clock = systemClock,
  ) {}

  async add(entries: readonly PendingExpiry[]): Promise<void> {
    this.enqueue(entries, this.clock.now());
  }

  /**
   * `add` without awaiting: MemoryPresenceStore calls it inside claimExpired, so claim and enqueue are one
   * indivisible step of the event loop (the Redis store does both in one script).
   */
  enqueue(entries: readonly PendingExpiry[], now: number): void {
    for (const e of entries) if (!this.due.has(member(e))) this.due.set(member(e), now);
  }

  async claimDue(limit: number): Promise<PendingExpiry[]> {
    const now = this.clock.now();
    const claimed: PendingExpiry[] = [];
    for (const [m, at] of [...this.due].sort((a, b) => a[1] - b[1])) {
      if (claimed.length >= limit || at > now) break;
      this.due.set(m, now + this.retryMs);
      claimed.push(fromMember(m));
    }
    return claimed;
  }

  async done(entry: PendingExpiry): Promise<void> {
    this.due.delete(member(entry));
  }
}

// One sorted set, score = when the entry is due next. Claim = read the due ones and push them retryMs ahead, in
// one script, so two replicas never hold the same entry at once.
const CLAIM_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), m) end
return due`;

export class RedisExpiryOutbox implements ExpiryOutbox {
  /** The sorted set; RedisPresenceStore's claim script adds to it directly (same `prefix`). */
  readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly retryMs = DEFAULT_EXPIRY_RETRY_MS,
    private readonly clock: Clock = systemClock,
  ) {
    this.key = `${prefix}:presence:expiry-outbox`;
  }

  async add(entries: readonly PendingExpiry[]): Promise<void> {
    if (entries.length === 0) return;
    const now = this.clock.now();
    // NX: re-adding a pending entry must not make it due earlier than its retry.
    await this.redis.zadd(this.key, 'NX', ...entries.flatMap((e) => [now, member(e)]));
  }

  async claimDue(limit: number): Promise<PendingExpiry[]> {
    const raw = (await this.redis.eval(CLAIM_DUE, 1, this.key, this.clock.now(), this.retryMs, limit)) as string[];
    return raw.map(fromMember);
  }

  async done(entry: PendingExpiry): Promise<void> {
    await this.redis.zrem(this.key, member(entry));
  }
}
