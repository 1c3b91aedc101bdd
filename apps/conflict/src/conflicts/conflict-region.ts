import { applyOp, composeAll, sliceCodePoints, transformCursor, type TextOp } from '@chorus/ot';

// Pure: the region of a conflict and its three texts. No I/O, no clock (unit-tested in conflict-region.spec.ts).

const UNBOUNDED = { maxDocLength: Number.MAX_SAFE_INTEGER, maxOpChars: Number.MAX_SAFE_INTEGER, maxComponents: Number.MAX_SAFE_INTEGER };

/** The base range [start, end) an op touches (from its first change to the end of its last), or null for a no-op. */
export function touchedRange(op: TextOp): { start: number; end: number } | null {
  let pos = 0;
  let start = -1;
  let end = -1;
  for (const c of op) {
    if (typeof c === 'number') {
      pos += c;
      continue;
    }
    if (start < 0) start = pos;
    if (typeof c === 'object') pos += typeof c.d === 'number' ? c.d : [...c.d].length;
    end = pos;
  }
  return start < 0 ? null : { start, end };
}

export interface ConflictRegion {
  /** [start, end) in code points of the merged document (the version that overlapped). */
  readonly start: number;
  readonly end: number;
  readonly merged: string;
  /** The region as the author's op alone left the base, and as the concurrent ops alone left it. */
  readonly mine: string;
  readonly theirs: string;
}

function apply(text: string, op: TextOp): string {
  const r = applyOp(text, op, UNBOUNDED);
  if (!r.ok) throw new Error(`op does not apply: ${r.error.message}`);
  return r.doc;
}

/**
 * `base`: the text at the author's base version; `mine`: the author's op as submitted (on `base`); `theirs`: the
 * ops committed after the base, in order; `committed`: the author's op as committed (transformed past them).
 * The region is the smallest base range covering both sides' changes, mapped into each document with its edges
 * outside any text inserted at them (so text typed at an edge belongs to the region).
 */
export function conflictRegion(base: string, mine: TextOp, theirs: readonly TextOp[], committed: TextOp): ConflictRegion {
  const theirsOp = composeAll(theirs);
  const merged = composeAll([theirsOp, committed]);
  const ranges = [touchedRange(mine), touchedRange(theirsOp)].filter((r): r is { start: number; end: number } => r !== null);
  if (ranges.length === 0) return { start: 0, end: 0, merged: '', mine: '', theirs: '' };
  const lo = Math.min(...ranges.map((r) => r.start));
  const hi = Math.max(...ranges.map((r) => r.end));
  const region = (op: TextOp, text: string) => {
    const start = transformCursor(lo, op, false);
    const end = Math.max(start, transformCursor(hi, op, true));
    return { start, end, text: sliceCodePoints(text, start, end) };
  };
  const theirsDoc = apply(base, theirsOp);
  const mergedDoc = apply(theirsDoc, committed);
  const inMerged = region(merged, mergedDoc);
  return { start: inMerged.start, end: inMerged.end, merged: inMerged.text, mine: region(mine, apply(base, mine)).text, theirs: region(theirsOp, theirsDoc).text };
}

/** The op that replaces [start, end) of a document with `text`. */
export function replaceOp(start: number, end: number, text: string): TextOp {
  const op: TextOp = [];
  if (start > 0) op.push(start);
  if (end > start) op.push({ d: end - start });
  if (text !== '') op.push(text);
  return op;
}
