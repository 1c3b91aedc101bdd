import * as otText from 'ot-text-unicode';
import { TextOp, TextOpComponent } from './text-op';

/**
 * The typed part of ot-text-unicode we rely on. Its .d.ts omits makeInvertible/isInvertible from `type`, and
 * some of its functions reuse the caller's delete objects in their output and then extend them in place
 * (normalize/makeInvertible on adjacent deletes): every call goes through a copy of the op.
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
export const baseTransform = (op: readonly TextOpComponent[], other: readonly TextOpComponent[], side: 'left' | 'right'): TextOp =>
  base.transform(copyOp(op), copyOp(other), side);
export const baseCompose = (a: readonly TextOpComponent[], b: readonly TextOpComponent[]): TextOp => base.compose(copyOp(a), copyOp(b));
export const baseNormalize = (op: readonly TextOpComponent[]): TextOp => base.normalize(copyOp(op));
export const baseInvert = (op: readonly TextOpComponent[]): TextOp => base.invert(copyOp(op));
export const baseMakeInvertible = (op: readonly TextOpComponent[], doc: string): TextOp => base.makeInvertible(copyOp(op), doc);
export const baseIsInvertible = (op: readonly TextOpComponent[]): boolean => base.isInvertible(copyOp(op));
