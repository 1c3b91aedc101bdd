import fc from 'fast-check';
import { Coalescer } from './coalescer';
import { ManualClock, ManualTimers } from '@chorus/testing';

function setup(minIntervalMs = 50) {
  const clock = new ManualClock(0);
  const timers = new ManualTimers(clock);
  const emitted: { key: string; value: number; at: number }[] = [];
  const coalescer = new Coalescer<string, number>((key, value) => emitted.push({ key, value, at: clock.now() }), { minIntervalMs, timers });
  return { clock, timers, emitted, coalescer };
}

describe('Coalescer', () => {
  it('emits the first value at once and only the latest one at the end of the interval', () => {
    const { timers, emitted, coalescer } = setup();
    coalescer.offer('a', 1);
    expect(emitted).toEqual([{ key: 'a', value: 1, at: 0 }]);
    timers.advance(10);
    coalescer.offer('a', 2);
    coalescer.offer('a', 3);
    coalescer.offer('b', 1);
    expect(emitted.map((e) => `${e.key}${e.value}`)).toEqual(['a1', 'b1']);
    timers.advance(40);
    expect(emitted.at(-1)).toEqual({ key: 'a', value: 3, at: 50 });
    timers.advance(200);
    expect(emitted).toHaveLength(3);
    expect(coalescer.size).toBe(0);
    expect(timers.pending).toBe(0);
  });

  it('a quiet key emits at once again', () => {
    const { timers, emitted, coalescer } = setup();
    coalescer.offer('a', 1);
    timers.advance(50);
    coalescer.offer('a', 2);
    expect(emitted.map((e) => e.at)).toEqual([0, 50]);
  });

  it('flush emits pending values now; cancel and close drop them', () => {
    const { timers, emitted, coalescer } = setup();
    coalescer.offer('a', 1);
    coalescer.offer('a', 2);
    coalescer.offer('b', 1);
    coalescer.offer('b', 2);
    coalescer.offer('c', 1);
    coalescer.offer('c', 2);
    coalescer.flush();
    expect(emitted.map((e) => `${e.key}${e.value}`)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
    coalescer.offer('a', 3);
    coalescer.offer('b', 3);
    coalescer.cancel('a');
    coalescer.close();
    coalescer.offer('c', 3);
    timers.advance(1_000);
    expect(emitted).toHaveLength(6);
    expect(timers.pending).toBe(0);
  });

  it('property: at most one emission per key per interval, and the last offer of each key is emitted', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('offer' as const), key: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 120 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.array(op, { maxLength: 200 }), (interval, ops) => {
        const { timers, emitted, coalescer } = setup(interval);
        const lastOffered = new Map<string, number>();
        let value = 0;
        for (const o of ops) {
          if (o.kind === 'offer') {
            value += 1;
            lastOffered.set(o.key, value);
            coalescer.offer(o.key, value);
          } else {
            timers.advance(o.ms);
          }
        }
        timers.advance(interval * 3);
        for (const key of ['a', 'b', 'c']) {
          const mine = emitted.filter((e) => e.key === key);
          for (let i = 1; i < mine.length; i++) {
            expect(mine[i].at - mine[i - 1].at).toBeGreaterThanOrEqual(interval);
            expect(mine[i].value).toBeGreaterThan(mine[i - 1].value);
          }
          expect(mine.at(-1)?.value).toBe(lastOffered.get(key));
        }
        expect(coalescer.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
