import { waitFor } from '@chorus/testing';
import type { Fanout, FanoutCodec } from '../fanout';

/** The contract suite's own message: the broker is generic, so it is tested with a message of its own. */
export interface TestMessage {
  readonly seq: number;
  readonly origin_node: string;
  /** Bytes the codec splits off (they cross beside the JSON). */
  readonly bytes?: Uint8Array;
}

/** Accepts `{seq: positive integer, origin_node: string}` only, plus bytes beside it. */
export const testCodec: FanoutCodec<TestMessage> = {
  parse(raw: unknown, binary?: Uint8Array): TestMessage {
    const m = raw as Partial<TestMessage> | null;
    if (typeof m?.seq !== 'number' || !Number.isInteger(m.seq) || m.seq < 1 || typeof m.origin_node !== 'string' || 'bytes' in m) throw new Error('not a test message');
    return { seq: m.seq, origin_node: m.origin_node, ...(binary !== undefined ? { bytes: binary } : {}) };
  },
  split(message: TestMessage): { json: unknown; binary: Uint8Array } | undefined {
    if (message.bytes === undefined) return undefined;
    const { bytes, ...json } = message;
    return { json, binary: bytes };
  },
};

/** Deterministic bytes (a seeded xorshift): every value 0–255, NUL and non-UTF-8 sequences included. */
export function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** What the suite's brokers reported dropped (their DropReporter). */
export type Drops = Array<{ reason: string; sessionId: string }>;

/** The behaviour both implementations promise (see the Fanout contract). */
export function fanoutContract(name: string, make: () => Promise<{ a: Fanout<TestMessage>; b: Fanout<TestMessage>; drops: Drops; close(): Promise<void> }>): void {
  describe(`Fanout contract: ${name}`, () => {
    let env: Awaited<ReturnType<typeof make>>;
    beforeEach(async () => {
      env = await make();
    });
    afterEach(async () => {
      await env.close();
    });

    const msg = (n: number, node = 'n1'): TestMessage => ({ seq: n, origin_node: node });

    it('delivers to every subscriber of the session, on any node, in publish order', async () => {
      const gotA: number[] = [];
      const gotB: number[] = [];
      await env.a.subscribe('s1', (m) => gotA.push(m.seq));
      await env.b.subscribe('s1', (m) => gotB.push(m.seq));
      for (let i = 1; i <= 50; i++) await env.a.publish('s1', msg(i));
      const expected = Array.from({ length: 50 }, (_, i) => i + 1);
      await waitFor('both nodes to get all 50', () => gotA.length === 50 && gotB.length === 50);
      expect(gotA).toEqual(expected);
      expect(gotB).toEqual(expected);
    });

    it('keeps sessions apart and stops after unsubscribe', async () => {
      const got: string[] = [];
      const stop = await env.b.subscribe('s1', (m) => got.push(`s1:${m.seq}`));
      await env.b.subscribe('s2', (m) => got.push(`s2:${m.seq}`));
      await env.a.publish('s1', msg(1));
      await env.a.publish('s2', msg(2));
      await waitFor('two messages', () => got.length === 2);
      await stop();
      await env.a.publish('s1', msg(3));
      await env.a.publish('s2', msg(4));
      await waitFor('the s2 message after unsubscribing s1', () => got.includes('s2:4'));
      expect(got.sort()).toEqual(['s1:1', 's2:2', 's2:4']);
    });

    it('keeps delivering to other listeners when one throws', async () => {
      const got: number[] = [];
      await env.b.subscribe('s1', () => {
        throw new Error('bad listener');
      });
      await env.b.subscribe('s1', (m) => got.push(m.seq));
      await env.a.publish('s1', msg(7));
      await waitFor('the good listener', () => got.length === 1);
      await waitFor('the throw reported', () => env.drops.some((d) => d.reason.includes('bad listener')));
      expect(env.b.dropped).toBeGreaterThanOrEqual(1);
    });

    it('drops, counts and reports a message its codec refuses, and delivers the next one', async () => {
      const got: number[] = [];
      await env.b.subscribe('s1', (m) => got.push(m.seq));
      const before = env.b.dropped;
      // A publisher that drifted from the message type (the cast stands for a bug the compiler did not see).
      await env.a.publish('s1', { seq: 'one', origin_node: 'n1' } as unknown as TestMessage);
      await env.a.publish('s1', msg(2));
      await waitFor('the valid message', () => got.length === 1);
      expect(got).toEqual([2]);
      expect(env.b.dropped).toBe(before + 1);
      expect(env.drops).toContainEqual({ reason: expect.stringContaining('not a test message') as string, sessionId: 's1' });
    });

    it("carries a message's bytes beside its JSON, byte for byte and in order with JSON-only messages", async () => {
      const got: TestMessage[] = [];
      await env.b.subscribe('s1', (m) => got.push(m));
      const big = seededBytes(300 * 1024, 15);
      const published: TestMessage[] = [msg(1), { ...msg(2), bytes: big }, msg(3), { ...msg(4), bytes: new Uint8Array(0) }, { ...msg(5), bytes: Uint8Array.of(0, 0xff, 0xc3) }];
      for (const m of published) await env.a.publish('s1', m);
      // The publisher's buffer is its own again once publish returned: changing it changes nothing delivered.
      big.fill(0);
      await waitFor('all five', () => got.length === 5);
      expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(got[0].bytes).toBeUndefined();
      expect(Buffer.from(got[1].bytes ?? []).equals(Buffer.from(seededBytes(300 * 1024, 15)))).toBe(true);
      expect(got[3].bytes?.length).toBe(0);
      expect([...(got[4].bytes ?? [])]).toEqual([0, 0xff, 0xc3]);
    });
  });
}
