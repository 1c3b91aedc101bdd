import { ChorusError } from './errors';
import { UNSTORABLE_TEXT_MESSAGE, isStorableText, sanitizeText } from './text';

/**
 * The deepest nesting any inbound JSON may have (top-level object = 1). The deepest schema needs 3
 * (`submit_op.op[i].d`); REST `settings` are free-form, so the bound is generous but far below what a
 * recursive consumer (JSON.stringify, a jsonb encoder, a deep copy) survives.
 */
export const MAX_JSON_DEPTH = 32;

export interface JsonBounds {
  /** Bytes of the JSON encoding allowed; the walk stops as soon as it is certain to exceed it. */
  readonly maxBytes: number;
  readonly maxDepth: number;
  /** Prepended to every field path (a REST parameter's name); also the field of a top-level problem. */
  readonly prefix?: string;
  /** The field named for a problem with the value itself when there is no prefix. */
  readonly rootField: string;
  readonly tooLarge: () => ChorusError;
}

/** On failure, `path` and `reason` locate the problem for callers that build their own error (a zod issue). */
export type JsonCheck = { ok: true; bytes: number } | { ok: false; error: ChorusError; path?: Array<string | number>; reason?: string };

interface Frame {
  readonly value: unknown;
  readonly parent: Frame | undefined;
  readonly key: string | number | undefined;
  readonly depth: number;
}

const MAX_FIELD_CHARS = 200;
// Characters JSON.stringify writes as themselves, one byte each; anything else takes the slow path.
const NEEDS_SCAN = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/**
 * Checks that a value received from a client is plain JSON data a server can hold: bounded depth and size,
 * only plain objects, arrays, finite numbers, booleans, null and storable text (keys included), no getters,
 * no `__proto__` key, no binary attachment. Iterative with early exit, so it is safe on anything — 50,000
 * levels of nesting, a sparse array of length 2^32-1, a Proxy — and it runs before anything recursive sees the
 * value. Returns the exact byte length of the JSON encoding when the value passes. Never throws.
 */
export function inspectJson(value: unknown, bounds: JsonBounds): JsonCheck {
  try {
    return walk(value, bounds);
  } catch {
    // Only a hostile in-process object (a Proxy whose traps throw) gets here; nothing off the wire can.
    return { ok: false, error: ChorusError.validation(bounds.prefix ?? bounds.rootField, 'The input could not be read as JSON data.') };
  }
}

function walk(value: unknown, bounds: JsonBounds): JsonCheck {
  let bytes = 0;
  const stack: Frame[] = [{ value, parent: undefined, key: undefined, depth: 1 }];
  const invalid = (frame: Frame, reason: string): JsonCheck => {
    const field = fieldOf(frame, bounds);
    return { ok: false, error: ChorusError.validation(field, `Invalid field "${field}": ${reason}`), path: pathOf(frame), reason };
  };
  const tooLarge = (): JsonCheck => ({ ok: false, error: bounds.tooLarge() });

  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const v = frame.value;
    switch (typeof v) {
      case 'string': {
        const size = stringBytes(v, bounds.maxBytes - bytes);
        if (size < 0) return tooLarge();
        if (!isStorableText(v)) return invalid(frame, UNSTORABLE_TEXT_MESSAGE);
        bytes += size;
        break;
      }
      case 'number':
        if (!Number.isFinite(v)) return invalid(frame, 'must be a finite number');
        bytes += String(v).length;
        break;
      case 'boolean':
        bytes += v ? 4 : 5;
        break;
      case 'undefined':
        // Only an array hole (or an in-process caller) gives undefined here: JSON writes it as null.
        bytes += 4;
        break;
      case 'object': {
        if (v === null) {
          bytes += 4;
          break;
        }
        if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return invalid(frame, 'binary attachments are not accepted; send JSON (text as a string)');
        if (frame.depth > bounds.maxDepth) return invalid(topLevelOf(frame), `nested deeper than ${bounds.maxDepth} levels`);
        const proto: unknown = Object.getPrototypeOf(v);
        if (Array.isArray(v)) {
          if (!isPlainArrayPrototype(proto)) return invalid(frame, 'must be plain JSON data');
          const n = v.length;
          // Every element costs at least one byte and a comma: refuse a huge (even sparse) array unread.
          if (bytes + 2 + 2 * n - 1 > bounds.maxBytes) return tooLarge();
          bytes += 2 + Math.max(0, n - 1);
          for (let i = n - 1; i >= 0; i--) {
            const d = Object.getOwnPropertyDescriptor(v, i);
            const child: Frame = { value: d?.value, parent: frame, key: i, depth: frame.depth + 1 };
            if (d !== undefined && !('value' in d)) return invalid(child, 'must be a data property, not a getter');
            stack.push(child);
          }
          break;
        }
        if (!isPlainObjectPrototype(proto)) return invalid(frame, 'must be plain JSON data');
        const keys = Object.keys(v);
        // `"":0` is at least 4 bytes, plus a comma (an undefined value is omitted, but none comes off the wire).
        if (bytes + 2 + 5 * keys.length - 1 > bounds.maxBytes) return tooLarge();
        const children: Frame[] = [];
        for (const key of keys) {
          const d = Object.getOwnPropertyDescriptor(v, key) as PropertyDescriptor;
          const child: Frame = { value: d.value, parent: frame, key, depth: frame.depth + 1 };
          if (!('value' in d)) return invalid(child, 'must be a data property, not a getter');
          if (d.value === undefined) continue; // JSON omits it
          if (typeof d.value === 'function' || typeof d.value === 'symbol') return invalid(child, 'must be JSON data');
          if (key === '__proto__') return invalid(child, 'is a reserved name');
          if (!isStorableText(key)) return invalid(child, `the field name ${UNSTORABLE_TEXT_MESSAGE}`);
          const size = stringBytes(key, bounds.maxBytes - bytes);
          if (size < 0) return tooLarge();
          bytes += size + 1;
          children.push(child);
        }
        bytes += 2 + Math.max(0, children.length - 1);
        for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
        break;
      }
      default:
        // bigint, function, symbol: nothing JSON can carry.
        return invalid(frame, 'must be JSON data');
    }
    if (bytes > bounds.maxBytes) return tooLarge();
  }
  return { ok: true, bytes };
}

// Prototype checks that hold across realms (a vm context, an iframe) without reading anything the input could
// intercept: Object.prototype is the object whose own prototype is null; Array.prototype is an array whose
// prototype is Object.prototype. Class instances, Dates, Maps and Array subclasses fail them.
function isPlainObjectPrototype(proto: unknown): boolean {
  return proto === null || (typeof proto === 'object' && Object.getPrototypeOf(proto) === null);
}

function isPlainArrayPrototype(proto: unknown): boolean {
  return Array.isArray(proto) && isPlainObjectPrototype(Object.getPrototypeOf(proto));
}

/** Bytes of `JSON.stringify(s)` in UTF-8, or -1 as soon as they exceed `budget`. */
function stringBytes(s: string, budget: number): number {
  // Every UTF-16 unit takes at least one byte, plus the two quotes.
  if (s.length + 2 > budget) return -1;
  if (!NEEDS_SCAN.test(s)) return s.length + 2;
  let bytes = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) bytes += 2;
    else if (c < 0x20) bytes += 6;
    else if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) bytes += 6; // a lone surrogate is written as \udXXX
    else bytes += 3;
    if (bytes > budget) return -1;
  }
  return bytes;
}

/** The top-level field a frame is inside: what a depth error names (not `message.0.0.0…` 32 times). */
function topLevelOf(frame: Frame): Frame {
  let f = frame;
  while (f.parent !== undefined && f.parent.parent !== undefined) f = f.parent;
  return f;
}

function pathOf(frame: Frame): Array<string | number> {
  const path: Array<string | number> = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) path.push(typeof f.key === 'number' ? f.key : sanitizeText(f.key));
  return path.reverse();
}

function fieldOf(frame: Frame, bounds: JsonBounds): string {
  const path: string[] = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) path.push(typeof f.key === 'number' ? String(f.key) : sanitizeText(f.key));
  if (bounds.prefix !== undefined) path.push(bounds.prefix);
  const field = path.length > 0 ? path.reverse().join('.') : bounds.rootField;
  return field.length > MAX_FIELD_CHARS ? `${field.slice(0, MAX_FIELD_CHARS)}…` : field;
}
