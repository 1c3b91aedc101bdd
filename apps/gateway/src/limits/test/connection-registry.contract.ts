import { ManualClock } from '@chorus/testing';
import type { ConnectionRegistry } from '../connection-registry';

/** What a contract run needs from an implementation. */
export interface ConnectionRegistryFixture {
  /** The registry as one gateway sees it. */
  readonly a: ConnectionRegistry;
  /** The same shared registry as another gateway sees it (Redis: its own connection). */
  readonly b: ConnectionRegistry;
  close(): Promise<void>;
}

export const LEASE_MS = 1_000;

/**
 * The one behavioural suite every ConnectionRegistry must pass (memory standalone, Redis across gateways).
 * `open` builds a fresh, isolated registry with leases of LEASE_MS whose "now" is the given manual clock.
 */
export function connectionRegistryContract(open: (clock: ManualClock) => Promise<ConnectionRegistryFixture>): void {
  let clock: ManualClock;
  let f: ConnectionRegistryFixture;
  beforeEach(async () => {
    clock = new ManualClock();
    f = await open(clock);
  });
  afterEach(async () => f.close());

  it('registers up to the cap across gateways and refuses over it, per user', async () => {
    expect(await f.a.register('u', 'c1', 2)).toBe(true);
    expect(await f.b.register('u', 'c2', 2)).toBe(true);
    expect(await f.a.register('u', 'c3', 2)).toBe(false);
    expect(await f.b.register('u', 'c3', 2)).toBe(false);
    // Another user has a budget of their own; registering a live connection again is not a new one.
    expect(await f.b.register('other', 'c9', 2)).toBe(true);
    expect(await f.a.register('u', 'c1', 2)).toBe(true);
  });

  it('admits concurrent registrations up to the cap only', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? f.a : f.b).register('u', `c${i}`, 3)));
    expect(results.filter(Boolean)).toHaveLength(3);
  });

  it('frees a slot on unregister, from any gateway; unregistering an unknown connection is harmless', async () => {
    await f.a.register('u', 'c1', 1);
    expect(await f.b.register('u', 'c2', 1)).toBe(false);
    await f.b.unregister('u', 'c1');
    await f.b.unregister('u', 'never');
    await f.a.unregister('nobody', 'c1');
    expect(await f.b.register('u', 'c2', 1)).toBe(true);
  });

  it('keeps refreshed leases alive past their first expiry', async () => {
    await f.a.register('u', 'c1', 1);
    for (let i = 0; i < 4; i++) {
      clock.advance((LEASE_MS * 2) / 3);
      await f.a.refresh([{ userId: 'u', connectionId: 'c1' }]);
    }
    expect(await f.b.register('u', 'c2', 1)).toBe(false);
  });

  it("expires a dead gateway's leases while the live gateway's stay", async () => {
    await f.a.register('u', 'dead-1', 3);
    await f.a.register('u', 'dead-2', 3);
    await f.b.register('u', 'live', 3);
    expect(await f.b.register('u', 'x', 3)).toBe(false);
    // Gateway a stops refreshing (it crashed); b refreshes its own connection on schedule.
    clock.advance(LEASE_MS / 2);
    await f.b.refresh([{ userId: 'u', connectionId: 'live' }]);
    expect(await f.b.register('u', 'x', 3)).toBe(false);
    clock.advance(LEASE_MS / 2 + 1);
    expect(await f.b.register('u', 'x', 3)).toBe(true);
    expect(await f.b.register('u', 'y', 3)).toBe(true);
    expect(await f.b.register('u', 'z', 3)).toBe(false);
  });

  it('does not resurrect an unregistered connection on refresh', async () => {
    await f.a.register('u', 'c1', 1);
    await f.a.unregister('u', 'c1');
    await f.a.refresh([{ userId: 'u', connectionId: 'c1' }]);
    await f.a.refresh([]);
    expect(await f.b.register('u', 'c2', 1)).toBe(true);
  });
}
