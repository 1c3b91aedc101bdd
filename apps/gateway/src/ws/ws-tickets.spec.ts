import Redis from 'ioredis';
import { hashToken, type VerifiedAccess } from '@chorus/auth';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { MemoryWsTicketStore, RedisWsTicketStore, WsTickets, type WsTicketStore } from './ws-tickets';

// The ticket carries the access token's expiry: a /ws opened with it closes when the token would have expired.
const alice: VerifiedAccess = { identity: { user_id: 'alice', display_name: 'Alice', kind: 'human' }, expires_at_ms: 1_795_316_400_000 };

/** The store's contract, for two handles on one store (two gateways). */
function ticketContract(make: () => Promise<{ a: WsTicketStore; b: WsTicketStore; close(): Promise<void> }>): void {
  let stores: Awaited<ReturnType<typeof make>>;
  beforeEach(async () => (stores = await make()));
  afterEach(() => stores.close());

  it('redeems a ticket once, on whichever gateway comes first', async () => {
    const tickets = [new WsTickets(stores.a), new WsTickets(stores.b)];
    const { ticket, expires_in } = await tickets[0].mint(alice);
    expect(expires_in).toBe(30);
    expect(await tickets[1].take(ticket)).toEqual(alice);
    expect(await tickets[0].take(ticket)).toBeUndefined();
    expect(await tickets[1].take(ticket)).toBeUndefined();
  });

  it('gives a ticket to exactly one of many concurrent redemptions', async () => {
    const tickets = new WsTickets(stores.a);
    const { ticket } = await tickets.mint(alice);
    const other = new WsTickets(stores.b);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? tickets : other).take(ticket)));
    expect(results.filter((r) => r !== undefined)).toEqual([alice]);
  });

  it('knows no ticket it did not mint, and stores only its hash', async () => {
    expect(await new WsTickets(stores.a).take('made-up')).toBeUndefined();
    await stores.a.put(hashToken('t'), alice, 1_000);
    expect(await stores.b.take('t')).toBeUndefined();
    expect(await stores.b.take(hashToken('t'))).toEqual(alice);
  });
}

describe('ws tickets (memory, standalone)', () => {
  ticketContract(async () => {
    const store = new MemoryWsTicketStore();
    return { a: store, b: store, close: async () => undefined };
  });

  it('expires a ticket after its ttl', async () => {
    let now = 1_000_000;
    const store = new MemoryWsTicketStore(() => now);
    await store.put('h', alice, 30_000);
    now += 30_000;
    expect(await store.take('h')).toBeUndefined();
  });
});

describe('ws tickets (Redis)', () => {
  const prefix = uniqueRedisPrefix('wstickets');
  const clients: Redis[] = [];
  afterAll(() => clients.forEach((c) => c.disconnect()));
  ticketContract(async () => {
    const [r1, r2] = [new Redis(testRedisUrl()), new Redis(testRedisUrl())];
    clients.push(r1, r2);
    return { a: new RedisWsTicketStore(r1, prefix), b: new RedisWsTicketStore(r2, prefix), close: async () => undefined };
  });

  it('sets the ticket to expire in Redis after its ttl', async () => {
    const redis = new Redis(testRedisUrl());
    clients.push(redis);
    await new RedisWsTicketStore(redis, prefix).put('h', alice, 30_000);
    const ttl = await redis.pttl(`${prefix}:ws-ticket:h`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });
});
