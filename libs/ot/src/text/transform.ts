import { baseCompose, baseInvert, baseIsInvertible, baseMakeInvertible, baseTransform } from './base-type';
import { TextOp, TextOpComponent } from './text-op';

/**
 * Transform-to-head and friends. Tie rule for concurrent inserts at the same position: the op that was
 * committed first wins (its text comes first). The server transforms an incoming op with side 'right'
 * against each committed op; a client holding an unacknowledged op does the mirror image (transformX), so both
 * reach the same document. (ShareDB gives the *incoming* op 'left'; we deliberately do not: first committed,
 * first placed, which is also what a reader of the op log expects.)
 */

/**
 * `op`, based on version v, rewritten to apply after `committed` = the ops of versions v+1, v+2, … in version
 * order (each based on the result of the previous). Committed ops win ties. `op` and `committed` must be
 * well-formed (validateOpShape); bounds are checked afterwards against the head document (validateOp).
 */
export function transformAgainst(op: readonly TextOpComponent[], committed: readonly (readonly TextOpComponent[])[]): TextOp {
  let out: TextOp = [...op];
  for (const other of committed) out = baseTransform(out, other, 'right');
  return out;
}

/**
 * Client side of the same rule: `pending` (local, not yet acknowledged) and `incoming` (committed by the
 * server) share a base. Returns [pending', incoming']: apply incoming' locally after pending, and send
 * pending' as based on the incoming version. Both sides reach apply(apply(doc, incoming), pending').
 */
export function transformX(pending: readonly TextOpComponent[], incoming: readonly TextOpComponent[]): [TextOp, TextOp] {
  return [baseTransform(pending, incoming, 'right'), baseTransform(incoming, pending, 'left')];
}

/** One op with the effect of applying `ops` in order ([] for none: the identity op). */
export function composeAll(ops: readonly (readonly TextOpComponent[])[]): TextOp {
  let out: TextOp = [];
  for (const op of ops) out = baseCompose(out, op);
  return out;
}

export class OtNotInvertibleError extends Error {
  readonly code = 'NOT_INVERTIBLE' as const;
  constructor() {
    super('op has a {d: count} delete: call makeInvertible(op, doc) with the document it applies to first');
    this.name = 'OtNotInvertibleError';
  }
}

/** True when every delete carries its text, i.e. `invert` works. */
export const isInvertible = (op: readonly TextOpComponent[]): boolean => baseIsInvertible(op);

/** The same op with every `{d: N}` replaced by `{d: text}` read from `doc` (the document the op applies to; op valid for it). */
export const makeInvertible = (op: readonly TextOpComponent[], doc: string): TextOp => baseMakeInvertible(op, doc);

/** The op that undoes `op` (apply(apply(doc, op), invert(op)) = doc). Throws OtNotInvertibleError on `{d: N}`. */
export function invert(op: readonly TextOpComponent[]): TextOp {
  if (!isInvertible(op)) throw new OtNotInvertibleError();
  return baseInvert(op);
}
