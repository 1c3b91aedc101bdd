import fc from 'fast-check';
import { applyChecked, makeInvertible, summarize, validateOp, type OpLimits } from '../src';
import { buildOp, oracleApply, stepArb, type Step } from './text-arbitraries';

// applyChecked = validateOp + makeInvertible + apply in one step, with a fast path for documents without
// surrogates. It must agree with the three separate calls (and with the oracle) on every document and op,
// valid or not, on both paths.

/** Without surrogates: the fast path (one-byte and two-byte strings alike). */
const BMP = ['a', 'b', ' ', '\n', 'é', '中', 'z', '—'];
/** With astral code points: the general path. */
const ASTRAL = [...BMP, '😀', '𝔸'];

const textOf = (alphabet: string[], maxLength: number) => fc.array(fc.constantFrom(...alphabet), { maxLength }).map((cps) => cps.join(''));

/** Valid ops for `doc`, from the shared step generator (inserts may carry astral text, deletes match the doc). */
const validCase = (alphabet: string[]) => textOf(alphabet, 20).chain((doc) => fc.array(stepArb, { maxLength: 8 }).map((steps: Step[]) => ({ doc, op: buildOp(doc, steps).op })));

/** Anything op-like: out-of-bounds skips and deletes, wrong deleted text, lone surrogates, junk. */
const componentArb = fc.oneof(
  fc.integer({ min: -2, max: 25 }),
  fc.constantFrom(0.5, Number.NaN),
  textOf(ASTRAL, 4),
  fc.constantFrom('\uD800', 'x\uDC00', ''),
  fc.record({ d: fc.integer({ min: -1, max: 25 }) }),
  fc.record({ d: textOf(ASTRAL, 4) }),
  fc.constantFrom(null, {}, { d: 1, x: 2 }, [1]),
);
const anyCase = (alphabet: string[]) =>
  fc.record({ doc: textOf(alphabet, 20), op: fc.oneof(fc.array(componentArb, { maxLength: 6 }), fc.constantFrom('abc', 42, null, { d: 1 })) });

function expectSameAsSeparateCalls(doc: string, op: unknown, limits?: Partial<OpLimits>): void {
  const valid = validateOp(doc, op, limits);
  const got = applyChecked(doc, op, limits);
  if (!valid.ok) {
    expect(got).toEqual(valid);
    return;
  }
  const invertible = makeInvertible(valid.op, doc);
  expect(got).toEqual({ ok: true, doc: oracleApply(doc, valid.op), op: invertible, ...pickCounts(summarize(valid.op)) });
}

const pickCounts = ({ inserted, deleted }: { inserted: number; deleted: number }) => ({ inserted, deleted });

describe('applyChecked', () => {
  it.each([
    ['without surrogates (fast path)', BMP],
    ['with astral code points (general path)', ASTRAL],
  ])('applies every valid op like validateOp + makeInvertible + apply, %s', (_, alphabet) => {
    fc.assert(fc.property(validCase(alphabet), ({ doc, op }) => expectSameAsSeparateCalls(doc, op)), { numRuns: 500 });
  });

  it.each([
    ['without surrogates (fast path)', BMP],
    ['with astral code points (general path)', ASTRAL],
  ])('refuses every bad op with the same reason, field and message as validateOp, %s', (_, alphabet) => {
    fc.assert(fc.property(anyCase(alphabet), ({ doc, op }) => expectSameAsSeparateCalls(doc, op)), { numRuns: 1_000 });
  });

  it('enforces the document size limit in code points on both paths, like validateOp', () => {
    const limits = { maxDocLength: 10 };
    fc.assert(
      fc.property(fc.constantFrom(BMP, ASTRAL).chain(validCase), ({ doc, op }) => expectSameAsSeparateCalls(doc, op, limits)),
      { numRuns: 500 },
    );
    expect(applyChecked('123456789', [9, 'ab'], limits)).toMatchObject({ ok: false, error: { reason: 'doc_too_large', field: 'op' } });
    expect(applyChecked('12345678😀', [9, 'a'], limits)).toMatchObject({ ok: true, doc: '12345678😀a' }); // 10 code points, 11 UTF-16 units
  });

  it('returns the op it applied in canonical, invertible form', () => {
    expect(applyChecked('hello world', [5, { d: 1 }, { d: 5 }, 'X'])).toEqual({ ok: true, doc: 'helloX', op: [5, { d: ' world' }, 'X'], inserted: 1, deleted: 6 });
    expect(applyChecked('hello', [{ d: 'help' }])).toMatchObject({ ok: false, error: { reason: 'delete_mismatch', field: 'op.0.d' } });
    expect(applyChecked('hello', [3, { d: 3 }])).toMatchObject({ ok: false, error: { reason: 'out_of_bounds', field: 'op.1' } });
  });
});
