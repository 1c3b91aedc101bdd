import type Redis from 'ioredis';

/** One budget an attempt counts against: at most `limit` attempts per fixed window of `windowMs`, from the first. */
export interface Budget {
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
}

export type Taken = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/**
 * Counts attempts against several budgets at once (e.g. per client and per session), shared by every gateway.
 *
 * Contract: `take` is atomic over its budgets — if each is below its limit, one attempt is counted on every one
 * and it returns ok; otherwise nothing is counted and it returns how long until the spent budget's window ends
 * (the longest, if several). Concurrent takes never overshoot a limit. `giveBack` uncounts one attempt on each
 * key (it turned out not to be a wrong guess); it never goes below zero and never extends a window. Keys expire
 * with their window.
 */
export interface AttemptBudget {
  take(budgets: readonly Budget[]): Promise<Taken>;
  giveBack(keys: readonly string[]): Promise<void>;
}

/** One process (standalone): a map swept of expired windows as it grows. */
export class MemoryAttemptBudget implements AttemptBudget {
  private readonly windows = new Map<string, { used: number; endsAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async take(budgets: readonly Budget[]): Promise<Taken> {
    const now = this.now();
    if (this.windows.size > 10_000) for (const [k, w] of this.windows) if (w.endsAt <= now) this.windows.delete(k);
    let wait = 0;
    for (const b of budgets) {
      const w = this.live(b.key, now);
      if (w && w.used >= b.limit) wait = Math.max(wait, w.endsAt - now);
    }
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    for (const b of budgets) {
      const w = this.live(b.key, now);
      if (w) w.used++;
      else this.windows.set(b.key, { used: 1, endsAt: now + b.windowMs });
    }
    return { ok: true };
  }

  async giveBack(keys: readonly string[]): Promise<void> {
    const now = this.now();
    for (const key of keys) {
      const w = this.live(key, now);
      if (w && w.used > 0) w.used--;
    }
  }

  private live(key: string, now: number): { used: number; endsAt: number } | undefined {
    const w = this.windows.get(key);
    return w && w.endsAt > now ? w : undefined;
  }
}

// Check every budget, then count on every one, in one script: atomic, so concurrent guesses on several gateways
// cannot all pass a check before any of them is counted.
const TAKE = `
local wait = 0
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
end
return 0`;

// DECR keeps the key's TTL: a give-back never extends a window.
const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0`;

/** Every gateway: counters under `<prefix>:budget:<key>`, each with its window as TTL. */
export class RedisAttemptBudget implements AttemptBudget {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async take(budgets: readonly Budget[]): Promise<Taken> {
    const args = budgets.flatMap((b) => [b.limit, b.windowMs]);
    const wait = (await this.redis.eval(TAKE, budgets.length, ...budgets.map((b) => this.key(b.key)), ...args)) as number;
    return wait > 0 ? { ok: false, retryAfterMs: wait } : { ok: true };
  }

  async giveBack(keys: readonly string[]): Promise<void> {
    await this.redis.eval(GIVE_BACK, keys.length, ...keys.map((k) => this.key(k)));
  }

  private key(key: string): string {
    return `${this.prefix}:budget:${key}`;
  }
}
