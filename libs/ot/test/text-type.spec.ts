import fc from 'fast-check';
import { composeAll, invert, isInvertible, makeInvertible, OtNotInvertibleError, textType, validateOp } from '../src';
import { docArb, docOpArb, docTwoOpsArb, frozen, oracleApply, opFor } from './text-arbitraries';

const { apply, transform, compose, normalize } = textType;

describe('textType (ottypes shape over ot-text-unicode)', () => {
  it('exposes the ottypes interface', () => {
    expect(textType.name).toBe('text-unicode');
    expect(textType.uri).toBe('http://sharejs.org/types/text-unicode');
    for (const fn of ['create', 'apply', 'transform', 'compose', 'normalize', 'invert', 'transformPosition', 'transformPresence'] as const) {
      expect(typeof textType[fn]).toBe('function');
    }
  });

  it('TP1: both orders of two concurrent ops converge (astral characters included)', () => {
    fc.assert(
      fc.property(docTwoOpsArb, ({ doc, a, b }) => {
        const viaA = apply(apply(doc, a), transform(b, a, 'left'));
        const viaB = apply(apply(doc, b), transform(a, b, 'right'));
        expect(viaA).toBe(viaB);
        // Transformed ops are themselves valid (apply validates) and canonical.
        expect(validateOp(apply(doc, a), transform(b, a, 'left')).ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('TP1 holds for adjacent inserts, which ot-text-unicode alone gets wrong (found by the property above)', () => {
    const doc = 'z😀';
    const a = [2, 'a'];
    const b = [{ d: 2 }, 'a', '中'];
    expect(apply(apply(doc, a), transform(b, a, 'left'))).toBe('a中a');
    expect(apply(apply(doc, b), transform(a, b, 'right'))).toBe('a中a');
  });

  it('compose agrees with applying in sequence, also over longer lists', () => {
    const chain = docArb.chain((doc) =>
      opFor(doc).chain((a) => {
        const d1 = oracleApply(doc, a);
        return opFor(d1).chain((b) => {
          const d2 = oracleApply(d1, b);
          return opFor(d2).map((c) => ({ doc, ops: [a, b, c], end: oracleApply(d2, c) }));
        });
      }),
    );
    fc.assert(
      fc.property(chain, ({ doc, ops, end }) => {
        expect(apply(doc, compose(ops[0], ops[1]))).toBe(oracleApply(oracleApply(doc, ops[0]), ops[1]));
        expect(apply(doc, composeAll(ops))).toBe(end);
        expect(composeAll([])).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('invert undoes an op made invertible with its document', () => {
    fc.assert(
      fc.property(docOpArb, ({ doc, op }) => {
        const full = makeInvertible(op, doc);
        expect(isInvertible(full)).toBe(true);
        expect(apply(apply(doc, full), invert(full))).toBe(doc);
      }),
    );
    expect(() => invert([1, { d: 2 }])).toThrow(OtNotInvertibleError);
  });

  it('normalize is idempotent and keeps the effect', () => {
    fc.assert(
      fc.property(docOpArb, ({ doc, op }) => {
        const n = normalize(op);
        expect(normalize(n)).toEqual(n);
        expect(apply(doc, n)).toBe(apply(doc, op));
      }),
    );
    expect(normalize([1, 2, 'a', 'b', { d: 'x' }, { d: 'y' }, 3])).toEqual([3, 'ab', { d: 'xy' }]);
  });

  it('never mutates the ops it is given (the library extends delete objects in place)', () => {
    fc.assert(
      fc.property(docTwoOpsArb, ({ doc, a, b }) => {
        const fa = frozen([...a, { d: 1 }, { d: 1 }]);
        const fb = frozen(b);
        normalize(fa);
        makeInvertible(fa, doc + 'xy'.repeat(20));
        transform(fb, a, 'left');
        compose(fb, []);
      }),
    );
  });
});
