import { testRedisUrl, uniqueRedisPrefix, waitFor } from '@chorus/testing';
import { RedisFanout } from './redis.fanout';
import { fanoutContract } from './test/fanout.contract';

fanoutContract('redis', async () => {
  const prefix = uniqueRedisPrefix('fanout');
  const a = new RedisFanout(testRedisUrl(), prefix, 'node-a');
  const b = new RedisFanout(testRedisUrl(), prefix, 'node-b');
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

describe('RedisFanout subscription churn', () => {
  it("keeps delivering when a node's last session is dropped at the moment another is joined", async () => {
    const prefix = uniqueRedisPrefix('fanout-churn');
    const node = new RedisFanout(testRedisUrl(), prefix, 'node');
    const publisher = new RedisFanout(testRedisUrl(), prefix, 'pub');
    try {
      let stopPrevious = await node.subscribe('s0', () => undefined);
      for (let i = 1; i <= 50; i++) {
        const got: number[] = [];
        // Unsubscribing the only channel and subscribing the next in the same tick: the UNSUBSCRIBE that
        // empties the connection's subscriptions races the SUBSCRIBE.
        const [, stop] = await Promise.all([stopPrevious(), node.subscribe(`s${i}`, (m) => got.push(m.body.n as number))]);
        await publisher.publish(`s${i}`, { kind: 'event', body: { n: i }, origin_node: 'pub' });
        await waitFor(`message ${i} after the churn`, () => got.length === 1, { timeoutMs: 5_000 });
        stopPrevious = stop;
      }
    } finally {
      await Promise.all([node.close(), publisher.close()]);
    }
  });
});
