import type { z } from 'zod';
import { ChorusError, MAX_JSON_DEPTH, inspectJson, validationErrorFrom } from '@chorus/protocol';

/**
 * Validates a REST input (body, query, path parameter) with its libs/protocol schema, or VALIDATION_ERROR naming
 * the field. The bounded walk runs first: depth and storable text of everything, `settings` included, before the
 * schema (or a jsonb encoder further on) recurses over it. Body size is capped by the body parser (100 KB).
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, prefix?: string): z.infer<S> {
  const checked = inspectJson(value, {
    maxBytes: Number.POSITIVE_INFINITY,
    maxDepth: MAX_JSON_DEPTH,
    ...(prefix !== undefined ? { prefix } : {}),
    rootField: '(body)',
    tooLarge: () => new ChorusError('PAYLOAD_TOO_LARGE', 'The request is too large.'),
  });
  if (!checked.ok) throw checked.error;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const error = validationErrorFrom(result.error);
  if (prefix === undefined) throw error;
  const field = error.details.field === '(message)' ? prefix : `${prefix}.${error.details.field}`;
  throw ChorusError.validation(field, error.message.replace(`"${error.details.field}"`, `"${field}"`));
}
