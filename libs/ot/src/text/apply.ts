import { baseApply, baseNormalize } from './base-type';
import { summarize, TextOp, TextOpComponent } from './text-op';
import { makeInvertible } from './transform';
import { codePointLength } from './unicode';
import { checkShape, fail, OpLimits, OpValidationIssue, validateOp, withDefaults } from './validate';

/** Any UTF-16 surrogate: a document without one has code point positions equal to its UTF-16 indices. */
const SURROGATE = /[\uD800-\uDFFF]/;

export type CheckedApply =
  | {
      ok: true;
      /** The document after the op. */
      doc: string;
      /** The op as applied: canonical and invertible (every delete carries the text it removed). */
      op: TextOp;
      /** Code points inserted and deleted. */
      inserted: number;
      deleted: number;
    }
  | { ok: false; error: OpValidationIssue };

/**
 * `validateOp`, `makeInvertible` and `apply` in one step, with the same results and the same errors (a property
 * test holds them equal), at the cost of the op instead of the document:
 *   - a document without surrogates (any text outside the astral planes — nearly all source code; V8 answers the
 *     check at once for one-byte strings) has code point positions equal to UTF-16 indices, so bounds, deleted
 *     text and the new text are slices — no walk of the text by code points, no count of its length;
 *   - otherwise the general path runs (validateOp, makeInvertible, apply: each walks the text).
 * The three separate calls cost O(document) each: ~0.2 ms per op on a 40 KB file here (bench:ot-cost), what
 * capped a hot document's commits (docs/benchmarks.md, OT).
 */
export function applyChecked(doc: string, op: unknown, limits?: Partial<OpLimits>): CheckedApply {
  if (typeof doc !== 'string') return fail('bad_document', 'doc', 'the document must be a string');
  if (SURROGATE.test(doc)) return applyGeneral(doc, op, limits);
  const shape = checkShape(op, limits);
  if (!shape.ok) return shape;
  const pieces: string[] = [];
  const applied: TextOpComponent[] = [];
  let i = 0; // UTF-16 index = code point position (no surrogates in doc)
  let inserted = 0;
  let deleted = 0;
  for (let k = 0; k < shape.op.length; k++) {
    const c = shape.op[k];
    if (typeof c === 'string') {
      pieces.push(c);
      applied.push(c);
      inserted += codePointLength(c);
      continue;
    }
    const n = typeof c === 'number' ? c : typeof c.d === 'number' ? c.d : codePointLength(c.d);
    const next = i + n;
    if (next > doc.length) return fail('out_of_bounds', `op.${k}`, `component reaches code point ${next}, past the end of the document`);
    if (typeof c === 'number') {
      pieces.push(doc.slice(i, next));
      applied.push(c);
    } else {
      const removed = doc.slice(i, next);
      if (typeof c.d === 'string' && removed !== c.d) return fail('delete_mismatch', `op.${k}.d`, `deleted text differs from the document at code point ${i}`);
      applied.push({ d: removed });
      deleted += n;
    }
    i = next;
  }
  const { maxDocLength } = withDefaults(limits);
  const after = doc.length + inserted - deleted;
  if (inserted > deleted && after > maxDocLength) return fail('doc_too_large', 'op', `the document would have ${after} characters (limit ${maxDocLength})`);
  pieces.push(doc.slice(i));
  return { ok: true, doc: pieces.join(''), op: baseNormalize(applied), inserted, deleted };
}

function applyGeneral(doc: string, op: unknown, limits?: Partial<OpLimits>): CheckedApply {
  const valid = validateOp(doc, op, limits);
  if (!valid.ok) return valid;
  const invertible = makeInvertible(valid.op, doc);
  const { inserted, deleted } = summarize(valid.op);
  return { ok: true, doc: baseApply(doc, invertible), op: invertible, inserted, deleted };
}
