// Public surface of @chorus/ot: pure OT, no framework, no I/O, no clock. Imported by the services and the client SDK.
export { textType, applyOp } from './text/text-type';
export { applyChecked } from './text/apply';
export type { CheckedApply } from './text/apply';
export { summarize, deleteLength } from './text/text-op';
export type { TextOp, TextOpComponent, OpSummary } from './text/text-op';
export { DEFAULT_OP_LIMITS, OtValidationError, validateOp, validateOpShape, checkOp } from './text/validate';
export type { OpLimits, OpValidation, OpValidationIssue, OpValidationReason, ApplyResult } from './text/validate';
export { transformCursor, transformSelection } from './text/cursor';
export type { TextSelection } from './text/cursor';
export { transformAgainst, transformX, composeAll, invert, makeInvertible, isInvertible, OtNotInvertibleError } from './text/transform';
export { overlaps, findConflicts } from './text/overlap';
export type { TextRange, OpConflict } from './text/overlap';
export { codePointLength, codePointsToUtf16, utf16ToCodePoints, sliceCodePoints, isWellFormedUtf16, findLoneSurrogate } from './text/unicode';
