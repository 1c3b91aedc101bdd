import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { MemoryConnectionRegistry, RedisConnectionRegistry } from './connection-registry';
import { LEASE_MS, connectionRegistryContract } from './test/connection-registry.contract';

describe('ConnectionRegistry (memory, standalone)', () => {
  connectionRegistryContract(async (clock) => {
    const registry = new MemoryConnectionRegistry(LEASE_MS, () => clock.now());
    return { a: registry, b: registry, close: async () => undefined };
  });
});

// Two connections, as two gateways would share the leases.
describe('ConnectionRegistry (Redis)', () => {
  connectionRegistryContract(async (clock) => {
    const prefix = uniqueRedisPrefix('conns');
    const [r1, r2] = [new Redis(testRedisUrl()), new Redis(testRedisUrl())];
    return {
      a: new RedisConnectionRegistry(r1, prefix, LEASE_MS, () => clock.now()),
      b: new RedisConnectionRegistry(r2, prefix, LEASE_MS, () => clock.now()),
      close: async () => {
        r1.disconnect();
        r2.disconnect();
      },
    };
  });
});
