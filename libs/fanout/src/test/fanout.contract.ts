import { waitFor } from '@chorus/testing';
import type { Fanout, FanoutMessage } from '../fanout';

/** The behaviour both implementations promise (see the Fanout contract). */
export function fanoutContract(name: string, make: () => Promise<{ a: Fanout; b: Fanout; close(): Promise<void> }>): void {
  describe(`Fanout contract: ${name}`, () => {
    let env: Awaited<ReturnType<typeof make>>;
    beforeEach(async () => {
      env = await make();
    });
    afterEach(async () => {
      await env.close();
    });

    const msg = (n: number, node = 'n1'): FanoutMessage => ({ kind: 'event', body: { seq: n }, origin_node: node });

    it('delivers to every subscriber of the session, on any node, in publish order', async () => {
      const gotA: number[] = [];
      const gotB: number[] = [];
      await env.a.subscribe('s1', (m) => gotA.push(m.body.seq as number));
      await env.b.subscribe('s1', (m) => gotB.push(m.body.seq as number));
      for (let i = 1; i <= 50; i++) await env.a.publish('s1', msg(i));
      const expected = Array.from({ length: 50 }, (_, i) => i + 1);
      await waitFor('both nodes to get all 50', () => gotA.length === 50 && gotB.length === 50);
      expect(gotA).toEqual(expected);
      expect(gotB).toEqual(expected);
    });

    it('keeps sessions apart and stops after unsubscribe', async () => {
      const got: string[] = [];
      const stop = await env.b.subscribe('s1', (m) => got.push(`s1:${m.body.seq as number}`));
      await env.b.subscribe('s2', (m) => got.push(`s2:${m.body.seq as number}`));
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
      await env.b.subscribe('s1', (m) => got.push(m.body.seq as number));
      await env.a.publish('s1', msg(7));
      await waitFor('the good listener', () => got.length === 1);
    });
  });
}
