import { applyOp, transformAgainst, type TextOp } from '@chorus/ot';
import { conflictRegion, replaceOp, replacedRanges, touchedRange } from './conflict-region';

// The region of a conflict and its three texts, from the base text, the author's op, the concurrent ops and the
// author's op as committed (transformed past them) — exactly what the conflict service has at commit time.

const LIMITS = { maxDocLength: 1e9, maxOpChars: 1e9, maxComponents: 1e9 };
const apply = (text: string, op: TextOp) => {
  const r = applyOp(text, op, LIMITS);
  if (!r.ok) throw new Error(r.error.message);
  return r.doc;
};

function scenario(base: string, mine: TextOp, theirs: TextOp[]) {
  const committed = transformAgainst(mine, theirs);
  const merged = apply(theirs.reduce(apply, base), committed);
  return { region: conflictRegion(base, mine, theirs, committed), merged };
}

it('touchedRange spans from the first change to the end of the last', () => {
  expect(touchedRange([6, { d: 5 }, 'there'])).toEqual({ start: 6, end: 11 });
  expect(touchedRange([3, 'x', 4, { d: 'ab' }])).toEqual({ start: 3, end: 9 });
  expect(touchedRange([5])).toBeNull();
});

it('two replacements of the same word: the region holds both inserts merged, mine and theirs alone', () => {
  const { region, merged } = scenario('hello world!', [6, { d: 5 }, 'earth'], [[6, { d: 5 }, 'there']]);
  expect(merged.slice(region.start, region.end)).toBe(region.merged);
  expect(['earththere', 'thereearth']).toContain(region.merged);
  expect(region.mine).toBe('earth');
  expect(region.theirs).toBe('there');
  // The merged document outside the region is the base outside it.
  expect(merged.slice(0, region.start)).toBe('hello ');
  expect(merged.slice(region.end)).toBe('!');
});

it('overlapping deletes of different extent: the region covers both', () => {
  const { region, merged } = scenario('abcdefghij', [2, { d: 4 }, 'X'], [[4, { d: 4 }, 'Y']]);
  expect(region.mine).toBe('Xgh');
  expect(region.theirs).toBe('cdY');
  expect(merged.slice(0, region.start)).toBe('ab');
  expect(merged.slice(region.end)).toBe('ij');
  expect(new Set([...region.merged])).toEqual(new Set(['X', 'Y']));
});

it('replacing the region of the merged text with a choice gives base-outside + choice', () => {
  const { region, merged } = scenario('let x = 1;\nlet y = 2;\n', [8, { d: 1 }, '10'], [[8, { d: 1 }, '20'], ['use std;\n']]);
  const resolved = apply(merged, replaceOp(region.start, region.end, region.mine));
  expect(resolved).toBe('use std;\nlet x = 10;\nlet y = 2;\n');
  expect(apply(merged, replaceOp(region.start, region.end, 'merged'))).toBe('use std;\nlet x = merged;\nlet y = 2;\n');
  expect(replaceOp(0, 0, '')).toEqual([]);
});

it('code points, not UTF-16 units', () => {
  const { region } = scenario('😀 ab 😀', [2, { d: 2 }, 'Ω'], [[2, { d: 2 }, '🎉']]);
  expect(region.mine).toBe('Ω');
  expect(region.theirs).toBe('🎉');
});

it('replacedRanges: each run of changes between skips', () => {
  expect(replacedRanges(['use std;\n', 8, { d: 1 }, '20'])).toEqual([{ start: 0, end: 0 }, { start: 8, end: 9 }]);
});
