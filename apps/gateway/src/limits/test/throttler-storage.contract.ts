import type { ThrottlerStorage } from '@nestjs/throttler';
import { waitFor } from '@chorus/testing';

/** What a contract run needs from an implementation. */
export interface ThrottlerStorageFixture {
  readonly storage: ThrottlerStorage;
  /** Another handle on the same counters (Redis: its own connection), like another gateway replica. */
  readonly another: ThrottlerStorage;
  close(): Promise<void>;
}

/** Lets real time pass (both implementations read the wall clock): the short windows below keep this brief. */
const pass = (ms: number) => {
  const until = Date.now() + ms;
  return waitFor(`${ms} ms to pass`, () => Date.now() >= until, { timeoutMs: ms + 5_000, intervalMs: 10 });
};

/**
 * The one behavioural suite every `ThrottlerStorage` we run must pass (memory standalone, Redis across gateways).
 * `@nestjs/throttler` passes `ttl` and `blockDuration` in milliseconds and reads `timeToExpire` and
 * `timeToBlockExpire` back in seconds; a key is counted per throttler name.
 */
export function throttlerStorageContract(open: () => Promise<ThrottlerStorageFixture>): void {
  let f: ThrottlerStorageFixture;
  beforeEach(async () => {
    f = await open();
  });
  afterEach(async () => f.close());

  it('counts hits within a window, across instances, with the time left in seconds', async () => {
    const hits = [];
    for (let i = 0; i < 3; i++) hits.push(await (i % 2 ? f.another : f.storage).increment('k', 60_000, 5, 60_000, 'chat'));
    expect(hits.map((h) => h.totalHits)).toEqual([1, 2, 3]);
    for (const h of hits) {
      expect(h).toMatchObject({ isBlocked: false, timeToBlockExpire: 0 });
      expect(h.timeToExpire).toBeGreaterThanOrEqual(59);
      expect(h.timeToExpire).toBeLessThanOrEqual(60);
    }
  });

  it('blocks the hit over the limit for blockDuration, reported in seconds, without counting blocked hits', async () => {
    for (let i = 1; i <= 2; i++) expect(await f.storage.increment('k', 10_000, 2, 30_000, 'chat')).toMatchObject({ totalHits: i, isBlocked: false });
    const over = await f.another.increment('k', 10_000, 2, 30_000, 'chat');
    expect(over).toMatchObject({ totalHits: 3, isBlocked: true, timeToBlockExpire: 30 });
    const still = await f.storage.increment('k', 10_000, 2, 30_000, 'chat');
    expect(still).toMatchObject({ totalHits: 3, isBlocked: true });
    expect(still.timeToBlockExpire).toBeGreaterThanOrEqual(29);
    expect(still.timeToBlockExpire).toBeLessThanOrEqual(30);
  });

  it('starts a fresh window once the old one expires', async () => {
    await f.storage.increment('k', 250, 10, 250, 'chat');
    expect(await f.storage.increment('k', 250, 10, 250, 'chat')).toMatchObject({ totalHits: 2, isBlocked: false });
    await pass(300);
    expect(await f.another.increment('k', 250, 10, 250, 'chat')).toMatchObject({ totalHits: 1, isBlocked: false, timeToExpire: 1 });
  });

  it('lets hits through again once the block expires', async () => {
    await f.storage.increment('k', 200, 1, 400, 'chat');
    expect(await f.storage.increment('k', 200, 1, 400, 'chat')).toMatchObject({ isBlocked: true, timeToBlockExpire: 1 });
    await pass(450);
    expect(await f.another.increment('k', 200, 1, 400, 'chat')).toMatchObject({ totalHits: 1, isBlocked: false, timeToBlockExpire: 0 });
  });

  it('keeps separate keys and separate throttler names independent (a chat flood never blocks edits)', async () => {
    await f.storage.increment('conn:a', 10_000, 1, 10_000, 'ws-chat');
    expect(await f.storage.increment('conn:a', 10_000, 1, 10_000, 'ws-chat')).toMatchObject({ isBlocked: true });
    expect(await f.storage.increment('conn:b', 10_000, 1, 10_000, 'ws-chat')).toMatchObject({ totalHits: 1, isBlocked: false });
    expect(await f.another.increment('conn:a', 10_000, 5, 10_000, 'ws-ops')).toMatchObject({ totalHits: 1, isBlocked: false, timeToBlockExpire: 0 });
    expect(await f.storage.increment('conn:a', 10_000, 1, 10_000, 'ws-chat')).toMatchObject({ isBlocked: true });
  });
}
