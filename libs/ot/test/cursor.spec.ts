import fc from 'fast-check';
import { textType, transformCursor, transformSelection } from '../src';
import type { TextOp } from '../src';
import { characterFates, docOpArb } from './text-arbitraries';

const withCursor = docOpArb.chain(({ doc, op }) =>
  fc.record({ doc: fc.constant(doc), op: fc.constant(op), pos: fc.nat({ max: Array.from(doc).length }), own: fc.boolean() }),
);

/** Same effect, components reordered inside each replacement (deletes first vs inserts first). */
function reorderRuns(op: TextOp, insertsFirst: boolean): TextOp {
  const out: TextOp = [];
  let run: TextOp = [];
  const flush = (): void => {
    const ins = run.filter((c) => typeof c === 'string');
    const del = run.filter((c) => typeof c === 'object');
    out.push(...(insertsFirst ? [...ins, ...del] : [...del, ...ins]));
    run = [];
  };
  for (const c of op) {
    if (typeof c === 'number') {
      flush();
      out.push(c);
    } else run.push(c);
  }
  flush();
  return out;
}

describe('transformCursor / transformSelection (tie rule)', () => {
  it('applies the documented tie rule at an insert', () => {
    // "ab", cursor between a and b (1); someone inserts "XY" there.
    expect(transformCursor(1, [1, 'XY'], true)).toBe(3); // author: after its own text
    expect(transformCursor(1, [1, 'XY'], false)).toBe(1); // peer: stays before someone else's text
    expect(transformCursor(0, ['😀'], true)).toBe(1); // code points, not UTF-16 units
    // Replacing "bc" (1..3) of "abcd" with "X": any cursor in [1, 3] lands on the replacement.
    for (const op of [[1, { d: 2 }, 'X'], [1, 'X', { d: 2 }]] as TextOp[]) {
      expect([0, 1, 2, 3, 4].map((p) => transformCursor(p, op, false))).toEqual([0, 1, 1, 1, 3]);
      expect([0, 1, 2, 3, 4].map((p) => transformCursor(p, op, true))).toEqual([0, 2, 2, 2, 3]);
    }
  });

  it('keeps a peer cursor right after its left character, and an own cursor right before its right character, when it survives', () => {
    fc.assert(
      fc.property(withCursor, ({ doc, op, pos, own }) => {
        const { fate, length } = characterFates(doc, op);
        const after = transformCursor(pos, op, own);
        expect(after).toBeGreaterThanOrEqual(0);
        expect(after).toBeLessThanOrEqual(length);
        if (!own && pos === 0) expect(after).toBe(0);
        if (!own && pos > 0 && fate[pos - 1] !== -1) expect(after).toBe(fate[pos - 1] + 1);
        if (own && pos === fate.length) expect(after).toBe(length);
        if (own && pos < fate.length && fate[pos] !== -1) expect(after).toBe(fate[pos]);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same answer for every op with the same effect, and preserves cursor order', () => {
    fc.assert(
      fc.property(withCursor, fc.nat(), ({ doc, op, pos, own }, other) => {
        const a = transformCursor(pos, op, own);
        expect(transformCursor(pos, reorderRuns(op, true), own)).toBe(a);
        expect(transformCursor(pos, reorderRuns(op, false), own)).toBe(a);
        expect(transformCursor(pos, textType.normalize(op), own)).toBe(a);
        const pos2 = other % (Array.from(doc).length + 1);
        if (pos <= pos2) expect(a).toBeLessThanOrEqual(transformCursor(pos2, op, own));
      }),
      { numRuns: 300 },
    );
  });

  it('moves selections end by end, so a collapsed selection stays collapsed; transformPresence is the same function', () => {
    fc.assert(
      fc.property(withCursor, fc.nat(), ({ doc, op, pos, own }, other) => {
        const head = other % (Array.from(doc).length + 1);
        const sel = transformSelection({ anchor: pos, head }, op, own);
        expect(sel).toEqual({ anchor: transformCursor(pos, op, own), head: transformCursor(head, op, own) });
        expect(textType.transformPresence({ anchor: pos, head }, op, own)).toEqual(sel);
        const collapsed = transformSelection({ anchor: pos, head: pos }, op, own);
        expect(collapsed.anchor).toBe(collapsed.head);
        expect(textType.transformPosition(pos, op)).toBe(transformCursor(pos, op, false));
      }),
    );
  });

  it('rejects a position that is not a non-negative integer', () => {
    expect(() => transformCursor(-1, [], false)).toThrow(RangeError);
    expect(() => transformCursor(1.5, [], false)).toThrow(RangeError);
  });
});
