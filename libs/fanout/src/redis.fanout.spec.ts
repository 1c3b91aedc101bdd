import { testRedisUrl, uniqueRedisPrefix, waitFor } from '@chorus/testing';
import { RedisFanout } from './redis.fanout';
import { fanoutContract, testCodec, type Drops } from './test/fanout.contract';

fanoutContract('redis', async () => {
  const prefix = uniqueRedisPrefix('fanout');
  const drops: Drops = [];
  const report = (reason: string, sessionId: string) => void drops.push({ reason, sessionId });
  const a = new RedisFanout(testRedisUrl(), prefix, 'node-a', testCodec, report);
  const b = new RedisFanout(testRedisUrl(), prefix, 'node-b', testCodec, report);
  return { a, b, drops, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

describe('RedisFanout subscription churn', () => {
  it("keeps delivering when a node's last session is dropped at the moment another is joined", async () => {
    const prefix = uniqueRedisPrefix('fanout-churn');
    const drops: string[] = [];
    const report = (reason: string) => void drops.push(reason);
    const node = new RedisFanout(testRedisUrl(), prefix, 'node', testCodec, report);
    const publisher = new RedisFanout(testRedisUrl(), prefix, 'pub', testCodec, report);
    try {
      let stopPrevious = await node.subscribe('s0', () => undefined);
      for (let i = 1; i <= 50; i++) {
        const got: number[] = [];
        // Unsubscribing the only channel and subscribing the next in the same tick: the UNSUBSCRIBE that
        // empties the connection's subscriptions races the SUBSCRIBE.
        const [, stop] = await Promise.all([stopPrevious(), node.subscribe(`s${i}`, (m) => got.push(m.seq))]);
        await publisher.publish(`s${i}`, { seq: i, origin_node: 'pub' });
        await waitFor(`message ${i} after the churn`, () => got.length === 1, { timeoutMs: 5_000 });
        stopPrevious = stop;
      }
      expect(drops).toEqual([]);
    } finally {
      await Promise.all([node.close(), publisher.close()]);
    }
  });
});
