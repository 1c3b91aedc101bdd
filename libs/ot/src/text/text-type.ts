import { applyChecked } from './apply';
import { baseCompose, baseNormalize, baseTransform } from './base-type';
import { transformCursor, transformSelection, TextSelection } from './cursor';
import { TextOp, TextOpComponent } from './text-op';
import { invert, isInvertible, makeInvertible } from './transform';
import { findLoneSurrogate } from './unicode';
import { ApplyResult, OpLimits, OtValidationError } from './validate';

/**
 * `ot-text-unicode` in the ottypes shape (name, uri, create, apply, transform, compose, invert, normalize,
 * transformPosition, …), so ottypes tools (ot-fuzzer, ShareDB-style servers) run on it unchanged. The op format
 * and transform/compose are the library's; the differences are ours and deliberate:
 *   - apply validates first (validateOp with DEFAULT_OP_LIMITS) and throws OtValidationError: a bad op is never
 *     applied, never truncated;
 *   - transformPosition/transformCursor/transformPresence follow the tie rule of cursor.ts.
 * Same name and uri as the library: ops are wire-compatible with it.
 */
export const textType = {
  name: 'text-unicode',
  uri: 'http://sharejs.org/types/text-unicode',

  create(initial: string = ''): string {
    if (typeof initial !== 'string') throw new TypeError('the initial document must be a string');
    if (findLoneSurrogate(initial) !== -1) throw new TypeError('the initial document is not well-formed UTF-16');
    return initial;
  },
  apply(doc: string, op: readonly TextOpComponent[]): string {
    const result = applyChecked(doc, op);
    if (!result.ok) throw new OtValidationError(result.error);
    return result.doc;
  },
  transform(op: readonly TextOpComponent[], other: readonly TextOpComponent[], side: 'left' | 'right'): TextOp {
    return baseTransform(op, other, side);
  },
  compose(a: readonly TextOpComponent[], b: readonly TextOpComponent[]): TextOp {
    return baseCompose(a, b);
  },
  /** Canonical form: merges neighbours, drops empty components and the trailing skip. */
  normalize(op: readonly TextOpComponent[]): TextOp {
    return baseNormalize(op);
  },
  invert,
  isInvertible,
  makeInvertible,
  /** A peer's cursor (isOwnOp = false): see cursor.ts. */
  transformPosition(cursor: number, op: readonly TextOpComponent[]): number {
    return transformCursor(cursor, op, false);
  },
  transformCursor,
  /** ShareDB's presence hook: presence is a selection {anchor, head}. */
  transformPresence(presence: TextSelection, op: readonly TextOpComponent[], isOwnOp: boolean): TextSelection {
    return transformSelection(presence, op, isOwnOp);
  },
};

/** Validate against `doc` and `limits`, then apply. Never throws for a bad op; returns the error instead. */
export function applyOp(doc: string, op: unknown, limits?: Partial<OpLimits>): ApplyResult {
  const result = applyChecked(doc, op, limits);
  return result.ok ? { ok: true, doc: result.doc } : result;
}
