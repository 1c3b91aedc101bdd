import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { MemoryAttemptBudget, RedisAttemptBudget, type AttemptBudget } from './attempt-budget';

// The contract of AttemptBudget, on both implementations (the Redis one against the real Redis, through two
// connections as two gateways would).
describe.each(['memory', 'redis'] as const)('AttemptBudget (%s)', (kind) => {
  let redis: Redis[] = [];
  let a: AttemptBudget;
  let b: AttemptBudget;
  beforeEach(() => {
    if (kind === 'memory') {
      a = b = new MemoryAttemptBudget();
      return;
    }
    const prefix = uniqueRedisPrefix('budget');
    const [r1, r2] = [new Redis(testRedisUrl()), new Redis(testRedisUrl())];
    redis = [r1, r2];
    a = new RedisAttemptBudget(r1, prefix);
    b = new RedisAttemptBudget(r2, prefix);
  });
  afterEach(() => {
    for (const r of redis) r.disconnect();
    redis = [];
  });

  it('lets exactly `limit` of a concurrent burst through, from every instance together', async () => {
    const budgets = [{ key: 'k', limit: 5, windowMs: 60_000 }];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take(budgets)));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    const refused = results.find((r) => !r.ok);
    expect(refused).toEqual({ ok: false, retryAfterMs: expect.any(Number) });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(50_000);
  });

  it('counts on every budget or on none, and a give-back frees one attempt without going below zero', async () => {
    const small = { key: 'user', limit: 2, windowMs: 60_000 };
    const big = { key: 'session', limit: 3, windowMs: 3_600_000 };
    expect(await a.take([big, small])).toEqual({ ok: true });
    expect(await b.take([big, small])).toEqual({ ok: true });
    // `user` is spent: nothing is counted on `session` either.
    expect(await a.take([big, small])).toMatchObject({ ok: false });
    expect(await a.take([big])).toEqual({ ok: true });
    expect(await b.take([big])).toMatchObject({ ok: false, retryAfterMs: expect.any(Number) });
    await a.giveBack(['session', 'user']);
    expect(await b.take([big, small])).toEqual({ ok: true });
    await a.giveBack(['never-taken']);
    expect(await a.take([{ key: 'never-taken', limit: 1, windowMs: 60_000 }])).toEqual({ ok: true });
    expect(await a.take([{ key: 'never-taken', limit: 1, windowMs: 60_000 }])).toMatchObject({ ok: false });
  });
});

describe('MemoryAttemptBudget', () => {
  it('opens a new window when the old one ends', async () => {
    let now = 1_000;
    const budget = new MemoryAttemptBudget(() => now);
    const k = [{ key: 'k', limit: 1, windowMs: 60_000 }];
    expect(await budget.take(k)).toEqual({ ok: true });
    expect(await budget.take(k)).toEqual({ ok: false, retryAfterMs: 60_000 });
    now += 60_000;
    expect(await budget.take(k)).toEqual({ ok: true });
  });
});
