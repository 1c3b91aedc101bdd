/**
 * Code points ⇄ UTF-16 code units.
 *
 * Every position in libs/ot counts Unicode code points (an emoji such as "😀" is 1), because that is what
 * ot-text-unicode counts and what non-JS peers agree on. Browser editors (CodeMirror, Monaco, textarea)
 * report UTF-16 offsets (the same emoji is 2): convert at the edge with these helpers, never inside OT code.
 */

const isHigh = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;

/** Number of code points in `text`. A lone surrogate counts as one code point (it never survives validation). */
export function codePointLength(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    if (isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) i++;
    count++;
  }
  return count;
}

/** UTF-16 index of the first unpaired surrogate in `text`, or -1 when `text` is well-formed UTF-16. */
export function findLoneSurrogate(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (isHigh(unit)) {
      if (i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
        i++;
        continue;
      }
      return i;
    }
    if (isLow(unit)) return i;
  }
  return -1;
}

export const isWellFormedUtf16 = (text: string): boolean => findLoneSurrogate(text) === -1;

function checkOffset(offset: number, max: number, what: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > max) {
    throw new RangeError(`${what} ${offset} is outside 0..${max}`);
  }
}

/**
 * Code-point position of the UTF-16 offset `utf16Offset` in `text` (0 ≤ offset ≤ text.length, else RangeError).
 * An offset that falls between the two halves of a surrogate pair is rounded down to the pair's start: an
 * editor never puts a caret there, and rounding down keeps the position on the same character.
 */
export function utf16ToCodePoints(text: string, utf16Offset: number): number {
  checkOffset(utf16Offset, text.length, 'UTF-16 offset');
  let points = 0;
  for (let i = 0; i < utf16Offset; i++) {
    if (isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      if (i + 1 === utf16Offset) break; // inside a pair: round down
      i++;
    }
    points++;
  }
  return points;
}

/** UTF-16 offset of the code-point position `codePoints` in `text` (0 ≤ position ≤ length in code points, else RangeError). */
export function codePointsToUtf16(text: string, codePoints: number): number {
  checkOffset(codePoints, Number.MAX_SAFE_INTEGER, 'code-point position');
  let i = 0;
  for (let seen = 0; seen < codePoints; seen++) {
    if (i >= text.length) throw new RangeError(`code-point position ${codePoints} is past the end (${codePointLength(text)})`);
    i += isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1)) ? 2 : 1;
  }
  return i;
}

/** `text` cut at code-point positions [start, end) (end defaults to the end of the text). */
export function sliceCodePoints(text: string, start: number, end?: number): string {
  const from = codePointsToUtf16(text, start);
  return end === undefined ? text.slice(from) : text.slice(from, codePointsToUtf16(text, end));
}
