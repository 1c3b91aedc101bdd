// Generators and oracles for the text OT property tests. The oracles work on arrays of code points and never
// call the code under test, so a bug cannot hide by agreeing with itself.
// eslint-disable-next-line chorus/boundaries -- test-only dev dependency; the purity rule is about shipped code
import fc from 'fast-check';
import type { TextOp, TextOpComponent } from '../src';

/** Single code points, a third of them astral (two UTF-16 units): positions must count them as one. */
export const ALPHABET = ['a', 'b', 'c', ' ', '\n', 'é', '中', '😀', '𝔸', '🏽', 'z'];

export type Step = { kind: 'skip' | 'delete' | 'deleteText'; n: number } | { kind: 'insert'; text: string };

/** Builds a canonical op valid for `doc` from abstract steps (clamped to the document), and its expected result. */
export function buildOp(doc: string, steps: readonly Step[]): { op: TextOp; result: string } {
  const cps = Array.from(doc);
  const op: TextOp = [];
  const out: string[] = [];
  let pos = 0;
  for (const step of steps) {
    if (step.kind === 'insert') {
      if (step.text.length === 0) continue;
      op.push(step.text);
      out.push(step.text);
      continue;
    }
    const n = Math.min(step.n, cps.length - pos);
    if (n <= 0) continue;
    const text = cps.slice(pos, pos + n).join('');
    if (step.kind === 'skip') {
      const last = op[op.length - 1];
      if (typeof last === 'number') op[op.length - 1] = last + n;
      else op.push(n);
      out.push(text);
    } else {
      op.push({ d: step.kind === 'deleteText' ? text : n });
    }
    pos += n;
  }
  if (typeof op[op.length - 1] === 'number') op.pop();
  out.push(cps.slice(pos).join(''));
  return { op, result: out.join('') };
}

export const textArb = (maxLength = 12): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...ALPHABET), { maxLength }).map((cps) => cps.join(''));

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('skip' as const), n: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'deleteText' as const), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('insert' as const), text: textArb(4) }),
);

export const opFor = (doc: string): fc.Arbitrary<TextOp> => fc.array(stepArb, { maxLength: 8 }).map((steps) => buildOp(doc, steps).op);

export const docArb = textArb(16);
export const docOpArb = docArb.chain((doc) => opFor(doc).map((op) => ({ doc, op })));
export const docTwoOpsArb = docArb.chain((doc) => fc.tuple(opFor(doc), opFor(doc)).map(([a, b]) => ({ doc, a, b })));

/** Oracle apply on code points: only valid ops. */
export function oracleApply(doc: string, op: readonly TextOpComponent[]): string {
  const cps = Array.from(doc);
  const out: string[] = [];
  let pos = 0;
  for (const c of op) {
    if (typeof c === 'number') {
      out.push(...cps.slice(pos, pos + c));
      pos += c;
    } else if (typeof c === 'string') out.push(c);
    else pos += typeof c.d === 'number' ? c.d : Array.from(c.d).length;
  }
  return out.join('') + cps.slice(pos).join('');
}

/**
 * Where each base character ends up: `fate[i]` is its index in the result, or -1 when deleted. Also returns
 * the result length. Independent of replacements()/transformCursor.
 */
export function characterFates(doc: string, op: readonly TextOpComponent[]): { fate: number[]; length: number } {
  const n = Array.from(doc).length;
  const fate: number[] = new Array<number>(n).fill(-1);
  let pre = 0;
  let post = 0;
  for (const c of op) {
    if (typeof c === 'number') {
      for (let k = 0; k < c; k++) fate[pre++] = post++;
    } else if (typeof c === 'string') post += Array.from(c).length;
    else pre += typeof c.d === 'number' ? c.d : Array.from(c.d).length;
  }
  while (pre < n) fate[pre++] = post++;
  return { fate, length: post };
}

/** Deep-freezes an op so that any in-place mutation by the library throws. */
export const frozen = (op: TextOp): TextOp => Object.freeze(op.map((c) => (typeof c === 'object' ? Object.freeze({ ...c }) : c))) as TextOp;
