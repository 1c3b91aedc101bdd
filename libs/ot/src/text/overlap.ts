import { replacements, Replacement, TextOpComponent } from './text-op';
import { transformAgainst } from './transform';

/**
 * Overlap of two concurrent ops (same base document), for `conflict_detected`. Stated on replacements (see
 * text-op.ts), so component order inside a replacement does not matter. In base-document code points:
 *   - two replacements that both delete overlap on the characters both delete: range [lo, hi), lo < hi;
 *   - a pure insert at p and a replacement deleting [s, e) overlap when s < p < e (an insert inside text the
 *     other deleted): empty range [p, p). An insert at either edge of the deleted text is adjacent, not overlapping;
 *   - two pure inserts at the same p overlap (their order is decided only by the tie rule): [p, p).
 * Result: sorted, disjoint, touching non-empty ranges merged; [] when the ops do not overlap. Symmetric.
 */

export interface TextRange {
  start: number;
  end: number;
}

function intersect(x: Replacement, y: Replacement): TextRange | null {
  const xDeletes = x.end > x.start;
  const yDeletes = y.end > y.start;
  if (xDeletes && yDeletes) {
    const lo = Math.max(x.start, y.start);
    const hi = Math.min(x.end, y.end);
    return lo < hi ? { start: lo, end: hi } : null;
  }
  if (!xDeletes && !yDeletes) return x.start === y.start ? { start: x.start, end: x.start } : null;
  const [point, range] = xDeletes ? [y.start, x] : [x.start, y];
  return range.start < point && point < range.end ? { start: point, end: point } : null;
}

export function overlaps(a: readonly TextOpComponent[], b: readonly TextOpComponent[]): TextRange[] {
  const ra = replacements(a);
  const rb = replacements(b);
  const out: TextRange[] = [];
  // Sweep: replacements of one op are separated by skips (next.start > previous.end), so after comparing a
  // pair, the one that ends first cannot meet anything further in the other list.
  let i = 0;
  let j = 0;
  while (i < ra.length && j < rb.length) {
    const hit = intersect(ra[i], rb[j]);
    if (hit) {
      const last = out[out.length - 1];
      if (last && last.end === hit.start && last.end > last.start && hit.end > hit.start) last.end = hit.end;
      else out.push(hit);
    }
    if (ra[i].end < rb[j].end) i++;
    else if (rb[j].end < ra[i].end) j++;
    else {
      i++;
      j++;
    }
  }
  return out;
}

export interface OpConflict {
  /** Index into `committed`: the op of version base + index + 1. */
  index: number;
  /** Overlap in the document that committed[index] was applied to (version base + index). */
  ranges: TextRange[];
}

/**
 * Which committed ops an incoming op (based on the version before committed[0]) collides with: `op` is carried
 * forward through the committed ops one by one, and compared with each in that op's own base document.
 */
export function findConflicts(op: readonly TextOpComponent[], committed: readonly (readonly TextOpComponent[])[]): OpConflict[] {
  const conflicts: OpConflict[] = [];
  let current = [...op];
  committed.forEach((other, index) => {
    const ranges = overlaps(current, other);
    if (ranges.length > 0) conflicts.push({ index, ranges });
    current = transformAgainst(current, [other]);
  });
  return conflicts;
}
