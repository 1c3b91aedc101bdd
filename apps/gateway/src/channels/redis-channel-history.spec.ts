import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { CHANNEL_IDLE_TTL_MS } from './channel-history';
import { RedisChannelHistory } from './redis-channel-history';
import { channelHistoryContract } from './test/channel-history.contract';

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

describe('RedisChannelHistory', () => {
  channelHistoryContract('redis', async (limits, clock) => {
    const prefix = uniqueRedisPrefix('channel-history');
    const connections = [new Redis(testRedisUrl())];
    return {
      store: new RedisChannelHistory(connections[0], prefix, limits, clock),
      another: async () => {
        const redis = new Redis(testRedisUrl());
        connections.push(redis);
        return new RedisChannelHistory(redis, prefix, limits, clock);
      },
      close: async () => {
        const keys = await keysOf(connections[0], prefix);
        if (keys.length > 0) await connections[0].del(...keys);
        await Promise.all(connections.map((c) => c.quit()));
      },
    };
  });

  it('keeps one bounded stream per channel under the prefix, expiring when the channel goes quiet', async () => {
    const redis = new Redis(testRedisUrl());
    const prefix = uniqueRedisPrefix('channel-history-keys');
    try {
      const store = new RedisChannelHistory(redis, prefix, { size: 3, ttlMs: 60_000 });
      const session = '33333333-3333-4333-8333-333333333333';
      for (let i = 0; i < 10; i++) await store.append(session, 'files', { publisher: { user_id: 'u', peer_id: 'p' }, data: i, clientMsgId: `k${i}` });
      const keys = await keysOf(redis, prefix);
      const base = `${prefix}:ch:{${session}:files}`;
      expect(keys.filter((k) => !k.includes(':dd:'))).toEqual([`${base}:log`, `${base}:meta`]);
      expect(await redis.xlen(`${base}:log`)).toBe(3);
      const ttl = await redis.pttl(`${base}:log`);
      expect(ttl).toBeGreaterThan(CHANNEL_IDLE_TTL_MS - 60_000);
      expect(ttl).toBeLessThanOrEqual(CHANNEL_IDLE_TTL_MS);
      // Dedupe keys live as long as the retention, not the day.
      expect(await redis.pttl(`${base}:dd:u:k0`)).toBeLessThanOrEqual(60_000);
      await redis.del(...keys);
    } finally {
      await redis.quit();
    }
  });
});
