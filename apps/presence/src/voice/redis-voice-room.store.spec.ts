import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { RedisVoiceRoomStore } from './redis-voice-room.store';
import { member, voiceRoomStoreContract } from './test/voice-room.contract';

describe('RedisVoiceRoomStore', () => {
  voiceRoomStoreContract(async () => {
    const prefix = uniqueRedisPrefix('voice-contract');
    // Each "replica" has its own connection, as separate presence processes would.
    const connections = [new Redis(testRedisUrl())];
    return {
      store: new RedisVoiceRoomStore(connections[0], prefix),
      another: async () => {
        const redis = new Redis(testRedisUrl());
        connections.push(redis);
        return new RedisVoiceRoomStore(redis, prefix);
      },
      close: async () => {
        const keys = await connections[0].keys(`${prefix}:*`);
        if (keys.length > 0) await connections[0].del(...keys);
        connections.forEach((c) => c.disconnect());
      },
    };
  });

  it('keeps one prefixed key per session, with a TTL as the backstop behind leave and expiry', async () => {
    const prefix = uniqueRedisPrefix('voice-keys');
    const redis = new Redis(testRedisUrl());
    try {
      const store = new RedisVoiceRoomStore(redis, prefix);
      await store.join('s-1', member('a'));
      expect(await redis.keys(`${prefix}:*`)).toEqual([`${prefix}:voice:s-1`]);
      const ttl = await redis.pttl(`${prefix}:voice:s-1`);
      expect(ttl).toBeGreaterThan(23 * 3600 * 1000);
      await store.leave('s-1', 'a');
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
