import type { z } from 'zod';
import { ChorusError, validationErrorFrom } from '@chorus/protocol';

/** Validates a REST input (body, query, path parameter) with its libs/protocol schema, or VALIDATION_ERROR naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, prefix?: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const error = validationErrorFrom(result.error);
  if (prefix === undefined) throw error;
  const field = error.details.field === '(message)' ? prefix : `${prefix}.${error.details.field}`;
  throw ChorusError.validation(field, error.message.replace(`"${error.details.field}"`, `"${field}"`));
}
