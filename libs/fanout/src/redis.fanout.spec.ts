import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix, waitFor } from '@chorus/testing';
import { encodeWithBinary } from './fanout';
import { RedisFanout } from './redis.fanout';
import { fanoutContract, testCodec, type Drops, type TestMessage } from './test/fanout.contract';

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

describe('RedisFanout binary payloads', () => {
  it('drops and counts a NUL-led payload whose header does not fit, and delivers the next one', async () => {
    const prefix = uniqueRedisPrefix('fanout-binary');
    const drops: string[] = [];
    const node = new RedisFanout(testRedisUrl(), prefix, 'node', testCodec, (reason) => void drops.push(reason));
    const raw = new Redis(testRedisUrl());
    try {
      const got: TestMessage[] = [];
      await node.subscribe('s1', (m) => got.push(m));
      const channel = `${prefix}:fanout:s1`;
      // A header length beyond the payload, then a payload too short to hold a header length at all.
      const lying = Buffer.alloc(9);
      lying.writeUInt32BE(1_000, 1);
      await raw.publish(channel, lying);
      await raw.publish(channel, Buffer.from([0, 1]));
      await raw.publish(channel, encodeWithBinary(JSON.stringify({ seq: 3, origin_node: 'raw' }), Uint8Array.of(7, 8)));
      await waitFor('the well-formed binary message', () => got.length === 1);
      expect(got[0].seq).toBe(3);
      expect([...(got[0].bytes ?? [])]).toEqual([7, 8]);
      expect(node.dropped).toBe(2);
      expect(drops).toEqual([expect.stringContaining('does not fit') as string, expect.stringContaining('without its header length') as string]);
    } finally {
      raw.disconnect();
      await node.close();
    }
  });
});
