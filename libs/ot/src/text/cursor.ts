import { replacements, TextOpComponent } from './text-op';

/**
 * Cursor and selection transform (presence). ot-text-unicode's transformPosition has no own-op flag and its
 * answer depends on component order inside a replacement; this one is stated on replacements (see text-op.ts).
 *
 * Tie rule, used by server and client alike. A replacement removes base range [start, end) and inserts text T.
 * A cursor at base position p:
 *   p < start        stays at p (shifted only by earlier replacements);
 *   p > end          moves with the text after the replacement;
 *   start ≤ p ≤ end  lands on the replacement: after T when the op is the cursor owner's own op (isOwnOp),
 *                    before T when it is a peer's op. A pure insert at p is the case start = p = end.
 * So a peer's cursor never jumps over text someone else typed at it, and the author's caret follows what it
 * typed. Equivalently: a peer cursor sticks to the character on its left, an own cursor to the character on its
 * right, whenever that character survives the op.
 */

export interface TextSelection {
  anchor: number;
  head: number;
}

/** New position (code points) of cursor `pos` after `op` (well-formed, based on the cursor's document). */
export function transformCursor(pos: number, op: readonly TextOpComponent[], isOwnOp: boolean): number {
  if (!Number.isSafeInteger(pos) || pos < 0) throw new RangeError(`cursor position must be a non-negative integer (got ${pos})`);
  let shift = 0;
  for (const r of replacements(op)) {
    if (r.start > pos) break;
    if (r.end < pos) {
      shift += r.inserted - (r.end - r.start);
      continue;
    }
    return r.start + shift + (isOwnOp ? r.inserted : 0);
  }
  return pos + shift;
}

/** Both ends follow the cursor rule with the same isOwnOp, so a collapsed selection stays collapsed. */
export function transformSelection(selection: TextSelection, op: readonly TextOpComponent[], isOwnOp: boolean): TextSelection {
  return { anchor: transformCursor(selection.anchor, op, isOwnOp), head: transformCursor(selection.head, op, isOwnOp) };
}
