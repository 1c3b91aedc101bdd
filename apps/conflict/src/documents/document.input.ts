import { z } from 'zod';
import { ChorusError } from '@chorus/protocol';
import type { Caller } from './document.types';
import { isStorableText } from './storable-text';

// Checks of what reaches the service. The gateway validates the wire messages once at the edge; these checks
// repeat the few rules the service's correctness depends on, so it is safe to call from anywhere (tests,
// other transports). The op itself is validated by libs/ot (shape here, bounds against the head at commit).

const MAX_DOC_ID_LENGTH = 1_024;

/**
 * A document id is a relative project path (`src/main.rs`): '/'-separated, no empty, '.' or '..' segment, no
 * leading '/', no backslash or control character. One path, one spelling: no two ids name the same file.
 */
export const docIdSchema = z
  .string()
  .min(1)
  .max(MAX_DOC_ID_LENGTH)
  .refine((p) => ![...p].some((ch) => ch === '\\' || ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), 'no backslash or control characters')
  .refine((p) => p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), 'a relative path without empty, "." or ".." segments')
  .refine(isStorableText, 'no unpaired UTF-16 surrogates');

/** An id stored as Postgres text (user, client): no NUL, no unpaired surrogate (storable-text.ts). */
const storedId = z.string().min(1).max(128).refine(isStorableText, 'no NUL character and no unpaired UTF-16 surrogates');

const version = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const schemas = {
  open: z.object({ session_id: z.uuid(), doc_id: docIdSchema }),
  create: z.object({ session_id: z.uuid(), doc_id: docIdSchema, content: z.string().refine(isStorableText, 'no NUL character and no unpaired UTF-16 surrogates') }),
  submit: z.object({ session_id: z.uuid(), doc_id: docIdSchema, version, op: z.unknown(), seq: version }),
  fetch: z.object({ session_id: z.uuid(), doc_id: docIdSchema, from_version: version, limit: z.number().int().positive().optional() }),
  at: z.object({ session_id: z.uuid(), doc_id: docIdSchema, version }),
  history: z.object({ session_id: z.uuid(), doc_id: docIdSchema, from_version: version.optional(), limit: z.number().int().positive().optional() }),
  purge: z.object({ session_id: z.uuid() }),
  lock: z.object({ session_id: z.uuid(), doc_id: docIdSchema, ttl_ms: z.number().int().positive().optional() }),
  unlock: z.object({ session_id: z.uuid(), doc_id: docIdSchema, force: z.boolean().optional() }),
  locks: z.object({ session_id: z.uuid() }),
  selection: z.object({
    session_id: z.uuid(),
    doc_id: docIdSchema,
    version,
    selection: z.object({ anchor: version, head: version }),
    owner_client_id: storedId,
  }),
  caller: z.object({ user_id: storedId, client_id: storedId, role: z.enum(['owner', 'admin', 'editor', 'viewer', 'agent']) }),
} as const;

export type InputKind = keyof typeof schemas;

/** Parses `value` with the schema of `kind`, or throws VALIDATION_ERROR naming the first bad field. */
export function parseInput<K extends InputKind>(kind: K, value: unknown): z.infer<(typeof schemas)[K]> {
  const result = schemas[kind].safeParse(value);
  if (result.success) return result.data as z.infer<(typeof schemas)[K]>;
  const issue = result.error.issues[0];
  const field = issue.path.map(String).join('.') || kind;
  throw ChorusError.validation(field, `${field}: ${issue.message}`);
}

/** The caller is built by the gateway, but a malformed one must never reach the op log. */
export function parseCaller(caller: Caller): Caller {
  return parseInput('caller', caller);
}
