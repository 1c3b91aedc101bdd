import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix, waitFor } from '@chorus/testing';
import { ManualClock } from '@chorus/testing';
import { peer, presenceStoreContract } from './test/presence.contract';
import { RedisExpiryOutbox } from './expiry-outbox';
import { RedisPresenceStore } from './redis-presence.store';

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

describe('RedisPresenceStore', () => {
  presenceStoreContract(async (clock) => {
    const prefix = uniqueRedisPrefix('presence-contract');
    // Each "replica" has its own connection, as separate presence processes would.
    const connections = [new Redis(testRedisUrl())];
    const outbox = new RedisExpiryOutbox(connections[0], prefix, 2_000, clock);
    const store = new RedisPresenceStore(connections[0], { prefix, clock, outbox });
    return {
      store,
      outbox,
      another: async () => {
        const redis = new Redis(testRedisUrl());
        connections.push(redis);
        return new RedisPresenceStore(redis, { prefix, clock, outbox: new RedisExpiryOutbox(redis, prefix, 2_000, clock) });
      },
      close: async () => {
        await deleteKeys(connections[0], prefix);
        await Promise.all(connections.map((c) => c.quit()));
      },
    };
  });

  describe('Redis specifics', () => {
    let redis: Redis;
    let prefix: string;
    beforeEach(() => {
      redis = new Redis(testRedisUrl());
      prefix = uniqueRedisPrefix('presence-redis');
    });
    afterEach(async () => {
      await deleteKeys(redis, prefix);
      await redis.quit();
    });

    it('keeps every key under the prefix, and every per-entry key under a TTL (bounded memory)', async () => {
      const clock = new ManualClock();
      const store = new RedisPresenceStore(redis, { prefix, clock, retentionMs: 60_000 });
      await store.join(peer({ peer_id: 'a', node_id: 'n1', typing: { doc_id: null, until: clock.now() + 100 } }, clock.now()), 1_000);
      const keys = await keysOf(redis, prefix);
      expect(keys.every((k) => k.startsWith(`${prefix}:presence:`))).toBe(true);
      // No per-user index: nothing reads one (a user's sessions are the session service's to say).
      expect(keys.filter((k) => k.startsWith(`${prefix}:presence:user:`))).toEqual([]);
      // The swept indexes (and the stamp counter) are the only keys without a TTL.
      const swept = new Set(['leases', 'typing', 'stamp'].map((k) => `${prefix}:presence:${k}`));
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        if (swept.has(key)) expect(ttl).toBe(-1);
        else expect(ttl).toBeGreaterThan(60_000);
      }
      // A leave leaves only the counter behind.
      await store.leave(peer({ peer_id: 'a' }).session_id, 'a');
      expect(await keysOf(redis, prefix)).toEqual([`${prefix}:presence:stamp`]);
    });

    it('keeps a document’s applied version under the prefix with the retention as TTL, renewed by every step', async () => {
      const clock = new ManualClock();
      const store = new RedisPresenceStore(redis, { prefix, clock, retentionMs: 60_000 });
      const session = peer({ peer_id: 'x' }).session_id;
      await store.transformSelections(session, 'doc-1', (sel) => sel, { from: null, to: 1 });
      const key = `${prefix}:presence:applied:${JSON.stringify([session, 'doc-1'])}`;
      expect(await redis.get(key)).toBe('1');
      await redis.pexpire(key, 1_000);
      await store.transformSelections(session, 'doc-1', (sel) => sel, { from: 1, to: 2 });
      expect(await redis.pttl(key)).toBeGreaterThan(59_000);
      expect(await store.appliedVersion(session, 'doc-1')).toBe(2);
    });

    it('renews a big node in chunks (HSCAN) and still reports every lost peer', async () => {
      const clock = new ManualClock();
      const store = new RedisPresenceStore(redis, { prefix, clock, heartbeatChunkSize: 40 });
      await store.join(peer({ peer_id: 'old-1', node_id: 'big' }, clock.now()), 1_000);
      await store.join(peer({ peer_id: 'old-2', node_id: 'big' }, clock.now()), 1_000);
      clock.advance(500);
      // More than 128 entries: Redis leaves the compact encoding, so HSCAN really returns chunks.
      await Promise.all(Array.from({ length: 300 }, (_, i) => store.join(peer({ peer_id: `p${i}`, node_id: 'big' }, clock.now()), 1_000)));
      clock.advance(600);
      const beat = await store.heartbeatNode('big', 1_000);
      expect(beat.refreshed).toBe(300);
      expect(beat.lost.map((r) => r.peer_id).sort()).toEqual(['old-1', 'old-2']);
      expect(await store.list(peer({ peer_id: 'x' }).session_id)).toHaveLength(300);
    });

    it('claims with ids only when the state outlived its retention backstop without a sweep', async () => {
      const clock = new ManualClock(Date.now());
      // Real (short) TTL: lease 1 ms + retention 1 ms, on the real clock as Redis counts it.
      const store = new RedisPresenceStore(redis, { prefix, clock, retentionMs: 1 });
      const joined = (await store.join(peer({ peer_id: 'a' }, clock.now()), 1))!;
      const stateKey = `${prefix}:presence:peer:${JSON.stringify([joined.session_id, 'a'])}`;
      await waitFor('the state key to expire', async () => (await redis.exists(stateKey)) === 0, { timeoutMs: 5_000 });
      clock.advance(10);
      expect(await store.claimExpired(clock.now(), 10)).toEqual([{ session_id: joined.session_id, peer_id: 'a', state: null }]);
      expect(await store.claimExpired(clock.now(), 10)).toEqual([]);
    });
  });
});
