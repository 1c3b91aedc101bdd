import { codePointLength, type TextOp } from '@chorus/ot';
import { mulberry32 } from '@chorus/testing';

/** The seeded PRNG (mulberry32) the simulations replay from. */
export const rng = mulberry32;

const ALPHABET = ['a', 'b', 'c', ' ', '\n', 'é', '中', '😀'];

function word(random: () => number, max: number): string {
  let s = '';
  const n = 1 + Math.floor(random() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return s;
}

/**
 * A random edit valid on `text` (positions in code points, like every op): an insert, a delete or a
 * replacement, biased to small edits clustered where others edit too (so edits really overlap).
 */
export function randomEdit(text: string, random: () => number): TextOp {
  const length = codePointLength(text);
  const at = Math.floor(random() * (length + 1));
  const kind = length === 0 ? 0 : Math.floor(random() * 3);
  const op: TextOp = at > 0 ? [at] : [];
  if (kind === 0) {
    op.push(word(random, 6));
    return op;
  }
  const del = Math.min(length - at, 1 + Math.floor(random() * 4));
  if (del === 0) {
    op.push(word(random, 6));
    return op;
  }
  op.push({ d: del });
  if (kind === 2) op.push(word(random, 4));
  return op;
}
