import { codePointLength, codePointsToUtf16, deleteLength, utf16ToCodePoints, type TextOp } from '@chorus/ot';

// Editors count in UTF-16 code units (JavaScript string indices, CodeMirror, Monaco, a <textarea>); the wire
// counts in code points (docs/ot.md). These helpers convert at the edge, so no app hand-rolls the conversion.

export { codePointLength, codePointsToUtf16, utf16ToCodePoints };

/** One editor change in UTF-16 offsets of the document before it: replace [from, to) by `insert`. */
export interface Utf16Change {
  /** Start of the replaced range (UTF-16 offset). */
  from: number;
  /** End of the replaced range, exclusive (UTF-16 offset; = from for a pure insert). */
  to: number;
  /** The inserted text ('' for a pure delete). */
  insert: string;
}

/**
 * The op (code points, canonical) of replacing UTF-16 range [from, to) of `doc` by `insert`. Offsets inside a
 * surrogate pair round down to the pair's start.
 */
export function opFromUtf16Change(doc: string, change: Utf16Change): TextOp {
  const start = utf16ToCodePoints(doc, change.from);
  const end = utf16ToCodePoints(doc, change.to);
  if (end < start) throw new RangeError(`change range [${change.from}, ${change.to}) is reversed`);
  const removed = doc.slice(codePointsToUtf16(doc, start), codePointsToUtf16(doc, end));
  const op: TextOp = [];
  if (start > 0) op.push(start);
  if (change.insert !== '') op.push(change.insert);
  if (removed !== '') op.push({ d: removed });
  return op;
}

/**
 * The same op as editor changes in UTF-16 offsets, in document order and all relative to `doc` (the text before
 * the op), as CodeMirror's `changes: [...]` expects. `doc` must be the text the op applies to.
 */
export function utf16ChangesOf(doc: string, op: TextOp): Utf16Change[] {
  const changes: Utf16Change[] = [];
  let i = 0; // UTF-16 index in doc
  let current: Utf16Change | null = null;
  for (const c of op) {
    if (typeof c === 'number') {
      current = null;
      i = advance(doc, i, c);
      continue;
    }
    if (!current) changes.push((current = { from: i, to: i, insert: '' }));
    if (typeof c === 'string') current.insert += c;
    else {
      i = advance(doc, i, deleteLength(c.d));
      current.to = i;
    }
  }
  return changes;
}

function advance(doc: string, i: number, codePoints: number): number {
  let at = i;
  for (let n = 0; n < codePoints; n++) {
    if (at >= doc.length) throw new RangeError('the op reaches past the end of the document');
    const code = doc.charCodeAt(at);
    at += code >= 0xd800 && code <= 0xdbff && at + 1 < doc.length && (doc.charCodeAt(at + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return at;
}

/** A selection in code points converted to UTF-16 offsets of `doc` (for drawing a remote cursor in an editor). */
export function selectionToUtf16(doc: string, selection: { anchor: number; head: number }): { anchor: number; head: number } {
  const clamp = (p: number) => Math.min(p, codePointLength(doc));
  return { anchor: codePointsToUtf16(doc, clamp(selection.anchor)), head: codePointsToUtf16(doc, clamp(selection.head)) };
}

/** A selection in UTF-16 offsets of `doc` converted to code points (for `presence_update`). */
export function selectionFromUtf16(doc: string, selection: { anchor: number; head: number }): { anchor: number; head: number } {
  return { anchor: utf16ToCodePoints(doc, selection.anchor), head: utf16ToCodePoints(doc, selection.head) };
}
