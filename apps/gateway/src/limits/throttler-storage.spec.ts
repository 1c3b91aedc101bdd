import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { throttlerStorageContract } from './test/throttler-storage.contract';

describe('ThrottlerStorage (memory, standalone)', () => {
  throttlerStorageContract(async () => {
    const storage = new MemoryThrottlerStorage();
    return { storage, another: storage, close: async () => storage.onApplicationShutdown() };
  });
});

// Two connections, as two gateways would share the counters.
describe('ThrottlerStorage (Redis)', () => {
  throttlerStorageContract(async () => {
    const prefix = uniqueRedisPrefix('throttle');
    const [r1, r2] = [new Redis(testRedisUrl()), new Redis(testRedisUrl())];
    return {
      storage: new RedisThrottlerStorage(r1, prefix),
      another: new RedisThrottlerStorage(r2, prefix),
      close: async () => {
        r1.disconnect();
        r2.disconnect();
      },
    };
  });
});
