import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { RedisFanout } from './redis.fanout';
import { fanoutContract } from './test/fanout.contract';

fanoutContract('redis', async () => {
  const prefix = uniqueRedisPrefix('fanout');
  const a = new RedisFanout(testRedisUrl(), prefix, 'node-a');
  const b = new RedisFanout(testRedisUrl(), prefix, 'node-b');
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});
