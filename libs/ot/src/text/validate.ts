import { baseNormalize } from './base-type';
import { codePointLength, findLoneSurrogate } from './unicode';
import { TextOp, TextOpComponent } from './text-op';

/**
 * Validation of untrusted text ops. ot-text-unicode's own `checkOp` only looks at the shape, and its `apply`
 * silently truncates a delete past the end and never compares the text of `{d:'str'}`: every op that comes
 * from a client or an agent goes through here before it is transformed or applied.
 */

export interface OpLimits {
  /** Components in one op. Default 10,000: a large multi-cursor or replace-all edit, far above typing. */
  maxComponents: number;
  /** Code points carried by one op (inserted text + text of `{d:'str'}` deletes). Default 1,000,000 (≈ a 1–4 MB paste). */
  maxOpChars: number;
  /**
   * Code points of the document after the op. Default 5,000,000 (a source file far larger than any editor handles
   * well). Only an op that grows the document can break it: an op that keeps or shrinks an oversized document
   * is accepted, so a document over a lowered limit can still be cut down.
   */
  maxDocLength: number;
}

export const DEFAULT_OP_LIMITS: Readonly<OpLimits> = Object.freeze({
  maxComponents: 10_000,
  maxOpChars: 1_000_000,
  maxDocLength: 5_000_000,
});

/** Stable reasons; `code` is always VALIDATION_ERROR (never worth retrying the same op). */
export type OpValidationReason =
  | 'not_array'
  | 'bad_component'
  | 'bad_number'
  | 'empty_component'
  | 'adjacent_skips'
  | 'trailing_skip'
  | 'lone_surrogate'
  | 'too_many_components'
  | 'op_too_large'
  | 'out_of_bounds'
  | 'delete_mismatch'
  | 'doc_too_large'
  | 'bad_document';

export interface OpValidationIssue {
  code: 'VALIDATION_ERROR';
  reason: OpValidationReason;
  /** Where, as a dot path like the wire contract's `field`: `op`, `op.3`, `op.3.d`, or `doc`. */
  field: string;
  message: string;
}

export type OpValidation = { ok: true; op: TextOp } | { ok: false; error: OpValidationIssue };
export type ApplyResult = { ok: true; doc: string } | { ok: false; error: OpValidationIssue };

export class OtValidationError extends Error {
  readonly code = 'VALIDATION_ERROR' as const;
  readonly reason: OpValidationReason;
  readonly field: string;

  constructor(issue: OpValidationIssue) {
    super(issue.message);
    this.name = 'OtValidationError';
    this.reason = issue.reason;
    this.field = issue.field;
  }
}

export const fail = (reason: OpValidationReason, field: string, message: string): { ok: false; error: OpValidationIssue } => ({
  ok: false,
  error: { code: 'VALIDATION_ERROR', reason, field, message },
});

export const withDefaults = (limits?: Partial<OpLimits>): OpLimits => ({ ...DEFAULT_OP_LIMITS, ...limits });

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n > 0;

/**
 * Shape and size checks that need no document: run this before `transformAgainst` (transform assumes a
 * well-formed op). On success, `op` is the canonical form (adjacent inserts and adjacent deletes merged):
 * store and forward that one.
 */
export function validateOpShape(op: unknown, limits?: Partial<OpLimits>): OpValidation {
  const shape = checkShape(op, limits);
  return shape.ok ? { ok: true, op: baseNormalize(shape.op) } : shape;
}

/** Returns the op as given (not normalized): text checks must see every `{d:'str'}` before merging drops text. */
export function checkShape(op: unknown, limits?: Partial<OpLimits>): OpValidation {
  const { maxComponents, maxOpChars } = withDefaults(limits);
  if (!Array.isArray(op)) return fail('not_array', 'op', 'an op must be an array of components');
  if (op.length > maxComponents) {
    return fail('too_many_components', 'op', `an op may have at most ${maxComponents} components (got ${op.length})`);
  }
  let chars = 0;
  for (let i = 0; i < op.length; i++) {
    const c: unknown = op[i];
    const field = `op.${i}`;
    let text: string | null = null;
    if (typeof c === 'number') {
      if (!isCount(c)) return fail('bad_number', field, `a skip must be a positive safe integer (got ${c})`);
      if (typeof op[i - 1] === 'number') return fail('adjacent_skips', field, 'adjacent skips must be merged');
      if (i === op.length - 1) return fail('trailing_skip', field, 'an op must not end with a skip');
    } else if (typeof c === 'string') {
      if (c.length === 0) return fail('empty_component', field, 'an insert must not be empty');
      text = c;
    } else if (typeof c === 'object' && c !== null && !Array.isArray(c) && Object.keys(c).length === 1 && 'd' in c) {
      const d: unknown = c.d;
      if (typeof d === 'number') {
        if (!isCount(d)) return fail('bad_number', `${field}.d`, `a delete count must be a positive safe integer (got ${d})`);
      } else if (typeof d === 'string') {
        if (d.length === 0) return fail('empty_component', `${field}.d`, 'a delete must not be empty');
        text = d;
      } else {
        return fail('bad_component', `${field}.d`, 'a delete is {d: count} or {d: "deleted text"}');
      }
    } else {
      return fail('bad_component', field, 'a component is a skip (number), an insert (string) or a delete ({d})');
    }
    if (text !== null) {
      const at = findLoneSurrogate(text);
      if (at !== -1) return fail('lone_surrogate', typeof c === 'string' ? field : `${field}.d`, `unpaired UTF-16 surrogate at code unit ${at}`);
      chars += codePointLength(text);
      if (chars > maxOpChars) return fail('op_too_large', field, `an op may carry at most ${maxOpChars} characters`);
    }
  }
  return { ok: true, op: op as TextOp };
}

/** Walks `doc` by code points while keeping the UTF-16 index, so deleted text can be compared in place. */
function advance(doc: string, from: number, points: number): number {
  let i = from;
  for (let n = 0; n < points; n++) {
    if (i >= doc.length) return -1;
    const unit = doc.charCodeAt(i);
    const pair = unit >= 0xd800 && unit <= 0xdbff && i + 1 < doc.length && (doc.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    i += pair ? 2 : 1;
  }
  return i;
}

/**
 * Full validation of `op` against the document it will be applied to: shape and size (see `validateOpShape`),
 * skips and deletes within the document, `{d:'str'}` equal to the text it removes, and the resulting document
 * size. An op accepted here applies without error and without truncation. On success, `op` is canonical.
 */
export function validateOp(doc: string, op: unknown, limits?: Partial<OpLimits>): OpValidation {
  if (typeof doc !== 'string') return fail('bad_document', 'doc', 'the document must be a string');
  const shape = checkShape(op, limits);
  if (!shape.ok) return shape;
  let i = 0; // UTF-16 index into doc
  let pos = 0; // code points consumed from doc
  let delta = 0; // growth of the document in code points
  for (let k = 0; k < shape.op.length; k++) {
    const c: TextOpComponent = shape.op[k];
    if (typeof c === 'string') {
      delta += codePointLength(c);
      continue;
    }
    const n = typeof c === 'number' ? c : typeof c.d === 'number' ? c.d : codePointLength(c.d);
    const next = advance(doc, i, n);
    if (next === -1) {
      return fail('out_of_bounds', `op.${k}`, `component reaches code point ${pos + n}, past the end of the document`);
    }
    if (typeof c === 'object') {
      if (typeof c.d === 'string' && doc.slice(i, next) !== c.d) {
        return fail('delete_mismatch', `op.${k}.d`, `deleted text differs from the document at code point ${pos}`);
      }
      delta -= n;
    }
    i = next;
    pos += n;
  }
  const { maxDocLength } = withDefaults(limits);
  if (delta > 0) {
    const after = codePointLength(doc) + delta;
    if (after > maxDocLength) return fail('doc_too_large', 'op', `the document would have ${after} characters (limit ${maxDocLength})`);
  }
  return { ok: true, op: baseNormalize(shape.op) };
}

/** `validateOp` that throws an OtValidationError instead; returns the typed op. */
export function checkOp(doc: string, op: unknown, limits?: Partial<OpLimits>): TextOp {
  const result = validateOp(doc, op, limits);
  if (!result.ok) throw new OtValidationError(result.error);
  return result.op;
}
