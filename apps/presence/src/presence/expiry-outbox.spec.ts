import Redis from 'ioredis';
import { ManualClock, testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { MemoryExpiryOutbox, RedisExpiryOutbox, type ExpiryOutbox, type PendingExpiry } from './expiry-outbox';

const RETRY = 2_000;
const entry = (peer: string, lease = 1): PendingExpiry => ({ session_id: 's-1', peer_id: peer, user_id: `u-${peer}`, expiry_key: `s-1/${peer}/${lease}` });
const byPeer = (es: PendingExpiry[]): string[] => es.map((e) => e.peer_id).sort();

/** The ExpiryOutbox contract, for both implementations; `replicas` share one outbox (as presence replicas do). */
function expiryOutboxContract(name: string, make: (clock: ManualClock) => Promise<{ replicas: [ExpiryOutbox, ExpiryOutbox]; close: () => Promise<void> }>): void {
  describe(name, () => {
    let clock: ManualClock;
    let replicas: [ExpiryOutbox, ExpiryOutbox];
    let close: () => Promise<void>;
    beforeEach(async () => {
      clock = new ManualClock();
      ({ replicas, close } = await make(clock));
    });
    afterEach(async () => close());

    it('hands a due entry to one replica at a time, again after retryMs unless done', async () => {
      const [a, b] = replicas;
      await a.add([entry('p1'), entry('p2')]);
      expect(byPeer(await a.claimDue(10))).toEqual(['p1', 'p2']);
      expect(await b.claimDue(10)).toEqual([]); // held by a (a may still be recording it)
      await a.done(entry('p1'));
      clock.advance(RETRY);
      // a died (or failed) with p2: any replica gets it at the next due time; p1 is gone for good.
      expect(await b.claimDue(10)).toEqual([entry('p2')]);
    });

    it('keeps one entry per expiry: re-adding does not duplicate it or make it due earlier', async () => {
      const [a, b] = replicas;
      await a.add([entry('p1')]);
      expect(await a.claimDue(10)).toEqual([entry('p1')]);
      await b.add([entry('p1')]);
      expect(await b.claimDue(10)).toEqual([]);
      // Another lease of the same peer is another expiry.
      await b.add([entry('p1', 2)]);
      expect(await b.claimDue(10)).toEqual([entry('p1', 2)]);
    });

    it('claims at most limit, oldest first', async () => {
      const [a] = replicas;
      await a.add([entry('p1')]);
      clock.advance(1);
      await a.add([entry('p2')]);
      expect(await a.claimDue(1)).toEqual([entry('p1')]);
      expect(await a.claimDue(1)).toEqual([entry('p2')]);
    });
  });
}

expiryOutboxContract('MemoryExpiryOutbox', async (clock) => {
  const shared = new MemoryExpiryOutbox(RETRY, clock);
  return { replicas: [shared, shared], close: async () => undefined };
});

expiryOutboxContract('RedisExpiryOutbox (real Redis)', async (clock) => {
  const prefix = uniqueRedisPrefix('expiry-outbox');
  const connections = [new Redis(testRedisUrl()), new Redis(testRedisUrl())];
  return {
    replicas: [new RedisExpiryOutbox(connections[0], prefix, RETRY, clock), new RedisExpiryOutbox(connections[1], prefix, RETRY, clock)],
    close: async () => {
      await connections[0].del(`${prefix}:presence:expiry-outbox`);
      connections.forEach((c) => c.disconnect());
    },
  };
});
