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

/** The base ranges [start, end) of an op's replacements (each run of inserts and deletes between skips). */
export function replacedRanges(op: TextOp): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  let pos = 0;
  let open: { start: number; end: number } | null = null;
  for (const c of op) {
    if (typeof c === 'number') {
      if (open) out.push(open);
      open = null;
      pos += c;
      continue;
    }
    open ??= { start: pos, end: pos };
    if (typeof c === 'object') pos += typeof c.d === 'number' ? c.d : [...c.d].length;
    open.end = pos;
  }
  if (open) out.push(open);
  return out;
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
 * The region is the author's change grown by the concurrent changes that overlap or touch it, mapped into each document with its edges
 * outside any text inserted at them (so text typed at an edge belongs to the region).
 */
export function conflictRegion(base: string, mine: TextOp, theirs: readonly TextOp[], committed: TextOp): ConflictRegion {
  const theirsOp = composeAll(theirs);
  const merged = composeAll([theirsOp, committed]);
  // The author's change, grown by every concurrent replacement that overlaps or touches it (until none does):
  // concurrent edits elsewhere in the document are not part of this conflict.
  const own = touchedRange(mine);
  if (own === null) return { start: 0, end: 0, merged: '', mine: '', theirs: '' };
  let lo = own.start;
  let hi = own.end;
  const others = replacedRanges(theirsOp);
  for (let grown = true; grown; ) {
    grown = false;
    for (const r of others) {
      if (r.start <= hi && r.end >= lo && (r.start < lo || r.end > hi)) {
        lo = Math.min(lo, r.start);
        hi = Math.max(hi, r.end);
        grown = true;
      }
    }
  }
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
