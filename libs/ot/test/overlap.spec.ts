import fc from 'fast-check';
import { overlaps, textType } from '../src';
import type { TextOp, TextRange } from '../src';
import { docTwoOpsArb } from './text-arbitraries';

/**
 * Oracle straight from the definition in overlap.ts, on sets: characters both ops delete, plus the points
 * where one op purely inserts (no delete next to it in the same op) and the other inserts purely at the same
 * point or deletes the characters on both sides of it.
 */
function oracle(a: TextOp, b: TextOp): TextRange[] {
  const facts = (op: TextOp): { deleted: Set<number>; points: Set<number> } => {
    const deleted = new Set<number>();
    const points = new Set<number>();
    let pos = 0;
    op.forEach((c, k) => {
      if (typeof c === 'number') pos += c;
      else if (typeof c === 'object') {
        const n = typeof c.d === 'number' ? c.d : Array.from(c.d).length;
        for (let i = 0; i < n; i++) deleted.add(pos++);
      } else {
        const near = (j: number): boolean => j >= 0 && j < op.length && typeof op[j] !== 'number';
        let l = k - 1;
        while (near(l) && typeof op[l] === 'string') l--;
        let r = k + 1;
        while (near(r) && typeof op[r] === 'string') r++;
        if (!near(l) && !near(r)) points.add(pos); // a pure insert
      }
    });
    return { deleted, points };
  };
  const fa = facts(a);
  const fb = facts(b);
  const out: TextRange[] = [];
  const both = [...fa.deleted].filter((i) => fb.deleted.has(i)).sort((x, y) => x - y);
  for (const i of both) {
    const last = out[out.length - 1];
    if (last && last.end === i) last.end++;
    else out.push({ start: i, end: i + 1 });
  }
  const inside = (p: number, del: Set<number>): boolean => del.has(p - 1) && del.has(p);
  const pointHits = new Set<number>();
  for (const p of fa.points) if (fb.points.has(p) || inside(p, fb.deleted)) pointHits.add(p);
  for (const p of fb.points) if (inside(p, fa.deleted)) pointHits.add(p);
  for (const p of pointHits) out.push({ start: p, end: p });
  return out.sort((x, y) => x.start - y.start);
}

describe('overlaps', () => {
  it('matches the set definition, is symmetric, and ignores component order inside a replacement', () => {
    fc.assert(
      fc.property(docTwoOpsArb, ({ a, b }) => {
        const got = overlaps(a, b);
        expect(got).toEqual(oracle(a, b));
        expect(overlaps(b, a)).toEqual(got);
        expect(overlaps(textType.normalize(a), b)).toEqual(got);
      }),
      { numRuns: 500 },
    );
  });

  it.each<[string, TextOp, TextOp, TextRange[]]>([
    ['deletes sharing characters', [2, { d: 4 }], [4, { d: 4 }], [{ start: 4, end: 6 }]],
    ['adjacent deletes', [{ d: 2 }], [2, { d: 2 }], []],
    ['inserts at the same point', [3, 'x'], [3, 'y'], [{ start: 3, end: 3 }]],
    ['inserts at different points', [3, 'x'], [4, 'y'], []],
    ['an insert inside deleted text', [3, 'x'], [1, { d: 4 }], [{ start: 3, end: 3 }]],
    ['an insert at the edge of deleted text', [1, 'x'], [1, { d: 4 }], []],
    ['a replacement against an insert at its start', ['X', { d: 2 }], ['y'], []],
    ['several ranges', [{ d: 2 }, 3, { d: 2 }], [1, { d: 5 }, 'z'], [{ start: 1, end: 2 }, { start: 5, end: 6 }]],
  ])('%s', (_name, a, b, expected) => {
    expect(overlaps(a, b)).toEqual(expected);
  });
});
