import fc from 'fast-check';
import * as otText from 'ot-text-unicode';
import { applyOp, checkOp, DEFAULT_OP_LIMITS, OpValidationReason, OtValidationError, summarize, textType, validateOp, validateOpShape } from '../src';
import { codePointLength } from '../src';
import { docArb, docOpArb, oracleApply } from './text-arbitraries';

const reasonOf = (doc: string, op: unknown, limits?: Parameters<typeof validateOp>[2]): OpValidationReason | 'ok' => {
  const r = validateOp(doc, op, limits);
  return r.ok ? 'ok' : r.error.reason;
};

/** A bad op must be rejected by every entry point that could apply it. */
function expectNeverApplied(doc: string, op: unknown, reason: OpValidationReason): void {
  expect(reasonOf(doc, op)).toBe(reason);
  const applied = applyOp(doc, op);
  expect(applied.ok).toBe(false);
  expect(() => textType.apply(doc, op as never)).toThrow(OtValidationError);
  expect(() => checkOp(doc, op)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', reason }));
}

describe('validateOp', () => {
  it('accepts every generated valid op, and applying it gives the oracle result', () => {
    fc.assert(
      fc.property(docOpArb, ({ doc, op }) => {
        expect(validateOp(doc, op)).toEqual({ ok: true, op: textType.normalize(op) });
        expect(applyOp(doc, op)).toEqual({ ok: true, doc: oracleApply(doc, op) });
      }),
    );
  });

  it('rejects every op that reaches past the end (the library would truncate it silently)', () => {
    const beyond = docOpArb.chain(({ doc, op }) =>
      fc.record({ doc: fc.constant(doc), op: fc.constant(op), extra: fc.nat(3), tail: fc.constantFrom('skip', 'delete', 'deleteText') }),
    );
    fc.assert(
      fc.property(beyond, ({ doc, op, extra, tail }) => {
        const missing = codePointLength(doc) - summarize(op).reach + 1 + extra;
        const bad =
          tail === 'skip' ? [...op, missing, 'x'] : [...op, { d: tail === 'delete' ? missing : 'q'.repeat(missing) }];
        expectNeverApplied(doc, bad, 'out_of_bounds');
      }),
    );
    expect(otText.type.apply('abc', [{ d: 5 }])).toBe(''); // what we guard against
  });

  it('rejects a lone surrogate anywhere in an insert or a delete text', () => {
    const arb = fc.record({
      doc: docArb,
      before: fc.string({ maxLength: 3 }),
      after: fc.string({ maxLength: 3 }),
      unit: fc.oneof(fc.integer({ min: 0xd800, max: 0xdbff }), fc.integer({ min: 0xdc00, max: 0xdfff })),
    });
    fc.assert(
      fc.property(arb, ({ doc, before, after, unit }) => {
        // The neighbours must not complete the pair.
        const lone = String.fromCharCode(unit);
        const safeBefore = before.replace(/[\ud800-\udfff]/g, 'x');
        const safeAfter = after.replace(/[\ud800-\udfff]/g, 'x');
        expectNeverApplied(doc, [safeBefore + lone + safeAfter], 'lone_surrogate');
        expect(reasonOf(doc, [{ d: lone }])).toBe('lone_surrogate');
      }),
    );
  });

  it('rejects {d: text} that does not match the document', () => {
    expectNeverApplied('a😀c', [1, { d: '😁' }], 'delete_mismatch');
    expectNeverApplied('abc', [{ d: 'ab' }, { d: 'x' }], 'delete_mismatch');
    expectNeverApplied('abc', [{ d: 'x' }, { d: 1 }], 'delete_mismatch'); // normalizing would merge away the text
    expect(validateOp('abc', ['x', 'y', { d: 'a' }, { d: 'b' }])).toEqual({ ok: true, op: ['xy', { d: 'ab' }] });
    fc.assert(
      fc.property(docArb.filter((d) => d.length > 0), fc.nat(), (doc, k) => {
        const cps = Array.from(doc);
        const at = k % cps.length;
        const wrong = cps[at] === 'a' ? 'b' : 'a';
        expectNeverApplied(doc, at === 0 ? [{ d: wrong }] : [at, { d: wrong }], 'delete_mismatch');
      }),
    );
  });

  it('rejects every valid op with one component replaced by a malformed one', () => {
    const badComponents: unknown[] = [0, -2, 0.5, NaN, Infinity, '', { d: 0 }, { d: '' }, { d: -1 }, { d: 1.5 }, { d: null }, { d: 1, x: 1 }, {}, null, [], true, '\udc00'];
    const arb = docOpArb.filter(({ op }) => op.length > 0).chain(({ doc, op }) =>
      fc.record({ doc: fc.constant(doc), op: fc.constant(op), at: fc.nat(op.length - 1), bad: fc.constantFrom(...badComponents) }),
    );
    fc.assert(
      fc.property(arb, ({ doc, op, at, bad }) => {
        const mutated: unknown[] = [...op];
        mutated[at] = bad;
        expect(validateOp(doc, mutated).ok).toBe(false);
        expect(applyOp(doc, mutated).ok).toBe(false);
      }),
    );
  });

  it.each<[string, unknown, OpValidationReason, string]>([
    ['not an array', { d: 1 }, 'not_array', 'op'],
    ['zero skip', [0, 'x'], 'bad_number', 'op.0'],
    ['negative skip', [-1, 'x'], 'bad_number', 'op.0'],
    ['fractional skip', [1.5, 'x'], 'bad_number', 'op.0'],
    ['NaN skip', [NaN, 'x'], 'bad_number', 'op.0'],
    ['unsafe skip', [2 ** 53, 'x'], 'bad_number', 'op.0'],
    ['adjacent skips', [1, 1, 'x'], 'adjacent_skips', 'op.1'],
    ['trailing skip', ['x', 2], 'trailing_skip', 'op.1'],
    ['empty insert', [''], 'empty_component', 'op.0'],
    ['empty delete text', [{ d: '' }], 'empty_component', 'op.0.d'],
    ['zero delete', [{ d: 0 }], 'bad_number', 'op.0.d'],
    ['infinite delete', [{ d: Infinity }], 'bad_number', 'op.0.d'],
    ['delete of null', [{ d: null }], 'bad_component', 'op.0.d'],
    ['extra key', [{ d: 1, i: 'x' }], 'bad_component', 'op.0'],
    ['unknown object', [{ i: 'x' }], 'bad_component', 'op.0'],
    ['null component', [null], 'bad_component', 'op.0'],
    ['nested array', [['x']], 'bad_component', 'op.0'],
    ['boolean', [true], 'bad_component', 'op.0'],
  ])('rejects %s', (_name, op, reason, field) => {
    const result = validateOp('abcdef', op);
    expect(result).toEqual({ ok: false, error: { code: 'VALIDATION_ERROR', reason, field, message: expect.any(String) } });
    expect(validateOpShape(op)).toEqual(result);
    expect(applyOp('abcdef', op).ok).toBe(false);
  });

  it('enforces the size limits passed in, with documented defaults', () => {
    expect(DEFAULT_OP_LIMITS).toEqual({ maxComponents: 10_000, maxOpChars: 1_000_000, maxDocLength: 5_000_000 });
    expect(reasonOf('abc', [1, 'x', 1, 'y'], { maxComponents: 3 })).toBe('too_many_components');
    expect(reasonOf('abc', ['😀😀', { d: 'ab' }], { maxOpChars: 3 })).toBe('op_too_large');
    expect(reasonOf('abc', ['😀😀', { d: 'ab' }], { maxOpChars: 4 })).toBe('ok');
    expect(reasonOf('abc', [3, '😀'], { maxDocLength: 4 })).toBe('ok');
    expect(reasonOf('abc', [3, '😀😀'], { maxDocLength: 4 })).toBe('doc_too_large');
    // A document already over a lowered limit can still shrink or be edited in place.
    expect(reasonOf('abcdef', [{ d: 1 }], { maxDocLength: 2 })).toBe('ok');
    expect(reasonOf('abcdef', ['x', { d: 1 }], { maxDocLength: 2 })).toBe('ok');
    expect(reasonOf('abcdef', ['xy', { d: 1 }], { maxDocLength: 2 })).toBe('doc_too_large');
  });

  it('keeps an empty document editable: insert into "", delete back to "", insert again', () => {
    let doc = textType.create();
    expect(doc).toBe('');
    expect(validateOp(doc, [])).toEqual({ ok: true, op: [] });
    doc = textType.apply(doc, ['h😀']);
    expect(doc).toBe('h😀');
    doc = textType.apply(doc, [{ d: 'h😀' }]);
    expect(doc).toBe('');
    expect(reasonOf(doc, [{ d: 1 }])).toBe('out_of_bounds');
    expect(applyOp(doc, ['again'])).toEqual({ ok: true, doc: 'again' });
    expect(textType.transform(['a'], ['b'], 'right')).toEqual([1, 'a']);
  });

  it('refuses a malformed initial document', () => {
    expect(() => textType.create('a\ud800')).toThrow(TypeError);
    expect(textType.create('x😀')).toBe('x😀');
  });
});
