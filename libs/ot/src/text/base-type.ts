import * as otText from 'ot-text-unicode';
import { TextOp, TextOpComponent } from './text-op';

/**
 * The typed part of ot-text-unicode we rely on, and two of its sharp edges, found by our property tests:
 *   - some functions put the caller's delete objects in their output and later extend them in place
 *     (normalize/makeInvertible on adjacent deletes): every call goes through a copy of the op;
 *   - transform breaks TP1 when an op has adjacent inserts ("a","b" instead of "ab"): on a tie it moves only
 *     the first one ahead. checkOp accepts such ops, so transform and compose normalize their inputs first.
 */
interface BaseTextType {
  apply(doc: string, op: TextOp): string;
  transform(op: TextOp, other: TextOp, side: 'left' | 'right'): TextOp;
  compose(a: TextOp, b: TextOp): TextOp;
  normalize(op: TextOp): TextOp;
  invert(op: TextOp): TextOp;
  makeInvertible(op: TextOp, doc: string): TextOp;
  isInvertible(op: TextOp): boolean;
}

const base = otText.type as unknown as BaseTextType;

/** Copies the op so that the library never shares (and later mutates) a caller's component objects. */
export const copyOp = (op: readonly TextOpComponent[]): TextOp => op.map((c) => (typeof c === 'object' ? { d: c.d } : c));

export const baseApply = (doc: string, op: readonly TextOpComponent[]): string => base.apply(doc, copyOp(op));
export const baseNormalize = (op: readonly TextOpComponent[]): TextOp => base.normalize(copyOp(op));
export const baseTransform = (op: readonly TextOpComponent[], other: readonly TextOpComponent[], side: 'left' | 'right'): TextOp =>
  base.transform(baseNormalize(op), baseNormalize(other), side);
export const baseCompose = (a: readonly TextOpComponent[], b: readonly TextOpComponent[]): TextOp =>
  base.compose(baseNormalize(a), baseNormalize(b));
export const baseInvert = (op: readonly TextOpComponent[]): TextOp => base.invert(copyOp(op));
export const baseMakeInvertible = (op: readonly TextOpComponent[], doc: string): TextOp => base.makeInvertible(copyOp(op), doc);
export const baseIsInvertible = (op: readonly TextOpComponent[]): boolean => base.isInvertible(copyOp(op));
