import { z } from 'zod';

// Storable text: what every string of the wire contract must be. Postgres `text` (and `jsonb`) cannot hold
// U+0000, and an unpaired UTF-16 surrogate has no UTF-8 encoding — both would reach the database and fail
// there as a server error (or worse, a retryable one that can never succeed). Refused at the edge instead.

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what must be found
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export const UNSTORABLE_TEXT_MESSAGE = 'must not contain NUL (U+0000) or unpaired surrogate characters (not valid UTF-8)';

export function isStorableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/** The string with every unstorable character replaced by U+FFFD: safe to echo back (e.g. as a field name). */
export function sanitizeText(value: string): string {
  return value.replace(UNSTORABLE_ALL, '\uFFFD');
}

/**
 * The one string schema of libs/protocol: a zod string that refuses what Postgres cannot store. Every string
 * field is built from it (a test fails on any bare `z.string()` in this library), so no field can forget it.
 * The check runs first, so its message wins over length limits.
 */
export function text(): z.ZodString {
  return z.string().refine(isStorableText, { message: UNSTORABLE_TEXT_MESSAGE, abort: true });
}
