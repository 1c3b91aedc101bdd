import fc from 'fast-check';
import { composeAll, findConflicts, textType, transformAgainst, transformX } from '../src';
import type { TextOp } from '../src';
import { docArb, oracleApply, opFor } from './text-arbitraries';

const { apply, transform } = textType;

/** A base document, an op submitted against it, and 0–4 ops committed meanwhile (each based on the previous). */
const scenario = docArb.chain((doc) =>
  fc.tuple(opFor(doc), fc.array(fc.nat(), { maxLength: 4 })).chain(([op, seeds]) => {
    let arb: fc.Arbitrary<{ head: string; committed: TextOp[] }> = fc.constant({ head: doc, committed: [] });
    for (let k = 0; k < seeds.length; k++) {
      arb = arb.chain(({ head, committed }) => opFor(head).map((c) => ({ head: oracleApply(head, c), committed: [...committed, c] })));
    }
    return arb.map(({ head, committed }) => ({ doc, op, head, committed }));
  }),
);

describe('transformAgainst (server) and transformX (client)', () => {
  it('equals the stepwise transforms with side right', () => {
    fc.assert(
      fc.property(scenario, ({ op, committed }) => {
        let stepwise = op;
        for (const c of committed) stepwise = transform(stepwise, c, 'right');
        expect(transformAgainst(op, committed)).toEqual(stepwise);
        expect(transformAgainst(op, [])).toEqual(op);
      }),
      { numRuns: 200 },
    );
  });

  it('server and client converge: committed ops then the transformed op, versus the op then the transformed committed ops', () => {
    fc.assert(
      fc.property(scenario, ({ doc, op, head, committed }) => {
        const server = apply(head, transformAgainst(op, committed));
        let client = apply(doc, op);
        let pending = op;
        for (const c of committed) {
          const [pending2, incoming2] = transformX(pending, c);
          client = apply(client, incoming2);
          pending = pending2;
        }
        expect(client).toBe(server);
        // Transforming by the composition gives the same document as transforming step by step.
        expect(apply(head, transform(op, composeAll(committed), 'right'))).toBe(server);
      }),
      { numRuns: 200 },
    );
  });

  it('lets the committed op win an insert tie', () => {
    expect(apply(apply('', ['a']), transformAgainst(['b'], [['a']]))).toBe('ab');
    expect(apply(apply('xy', [1, 'A']), transformAgainst([1, 'B'], [[1, 'A']]))).toBe('xABy');
    const [pending, incoming] = transformX([1, 'B'], [1, 'A']);
    expect(apply(apply('xy', [1, 'B']), incoming)).toBe('xABy');
    expect(pending).toEqual([2, 'B']);
  });

  it('findConflicts reports overlaps with each committed op in that op\'s own base document', () => {
    // Base "hello world". v1 deletes "hello " (base 0..6); v2 (on "world") replaces "wor" (0..3).
    // The incoming op, on the base, deletes "lo wo" (3..8).
    const committed: TextOp[] = [[{ d: 'hello ' }], [{ d: 'wor' }, 'WOR']];
    const op: TextOp = [3, { d: 'lo wo' }];
    expect(findConflicts(op, committed)).toEqual([
      { index: 0, ranges: [{ start: 3, end: 6 }] },
      { index: 1, ranges: [{ start: 0, end: 2 }] },
    ]);
    expect(findConflicts([11, '!'], committed)).toEqual([]);
  });
});
