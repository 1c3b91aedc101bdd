import type Redis from 'ioredis';

/**
 * Idempotency for handlers. Delivery is at-least-once: a message whose replica died mid-handler runs again
 * elsewhere, with the same `ctx.getRequestId()`. Two tools, pick per handler:
 *
 * - `remember(id, fn)` caches the handler's result: the first run that completes stores it; a redelivery
 *   returns the stored result without running `fn` again. If a run dies before storing, the next run runs
 *   `fn` again, so `fn`'s own writes must tolerate that (e.g. a conditional commit). Two runs at the same
 *   time (a stalled replica and the one that claimed its work) may both run `fn`; the first to store wins
 *   and both return the winner's result.
 * - `once(id)` marks an id seen and tells whether this is the first time: for effects that must not repeat
 *   even at the price of being lost if the replica dies right after marking (at-most-once).
 *
 * Results are JSON-serialised; entries expire after `ttlMs` (must exceed the longest redelivery delay:
 * claimIdleMs × maxDeliveries is plenty). Redis and in-memory implementations share one contract.
 */
export interface IdempotencyStore {
  remember<T>(id: string, fn: () => Promise<T>): Promise<{ value: T; replayed: boolean }>;
  once(id: string): Promise<boolean>;
}

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 24 * 3_600_000,
  ) {}

  async remember<T>(id: string, fn: () => Promise<T>): Promise<{ value: T; replayed: boolean }> {
    const key = `${this.prefix}:idem:result:${id}`;
    const stored = await this.redis.get(key);
    if (stored !== null) return { value: decode<T>(stored), replayed: true };
    const value = await fn();
    // NX: if a concurrent run stored first, keep its result and return that one (one visible outcome).
    const won = await this.redis.set(key, JSON.stringify({ v: value }), 'PX', this.ttlMs, 'NX');
    if (won === 'OK') return { value, replayed: false };
    const winner = await this.redis.get(key);
    return winner === null ? { value, replayed: false } : { value: decode<T>(winner), replayed: true };
  }

  async once(id: string): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:idem:once:${id}`, '1', 'PX', this.ttlMs, 'NX')) === 'OK';
  }
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly results = new Map<string, { json: string; expires: number }>();
  private readonly seen = new Map<string, number>();

  constructor(private readonly ttlMs = 24 * 3_600_000) {}

  async remember<T>(id: string, fn: () => Promise<T>): Promise<{ value: T; replayed: boolean }> {
    const stored = this.live(this.results.get(id));
    if (stored) return { value: decode<T>(stored.json), replayed: true };
    const value = await fn();
    const winner = this.live(this.results.get(id));
    if (winner) return { value: decode<T>(winner.json), replayed: true };
    this.results.set(id, { json: JSON.stringify({ v: value }), expires: Date.now() + this.ttlMs });
    return { value, replayed: false };
  }

  async once(id: string): Promise<boolean> {
    const expires = this.seen.get(id);
    if (expires !== undefined && expires > Date.now()) return false;
    this.seen.set(id, Date.now() + this.ttlMs);
    return true;
  }

  private live<E extends { expires: number }>(entry: E | undefined): E | undefined {
    return entry && entry.expires > Date.now() ? entry : undefined;
  }
}

function decode<T>(json: string): T {
  return (JSON.parse(json) as { v: T }).v;
}
