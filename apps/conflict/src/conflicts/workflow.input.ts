import { z } from 'zod';
import { ChorusError, conflictStrategySchema, conflictsQuerySchema } from '@chorus/protocol';

// The conflict workflow's payloads as the service checks them (the gateway validated the wire message already;
// the service stays safe to call from anywhere).

const schemas = {
  resolve: z.object({ session_id: z.uuid(), conflict_id: z.uuid(), strategy: conflictStrategySchema, text: z.string().max(64_000).optional() }),
  get: z.object({ session_id: z.uuid(), conflict_id: z.uuid() }),
  list: z.object({ session_id: z.uuid(), query: conflictsQuerySchema }),
} as const;

export function parseWorkflowInput<K extends keyof typeof schemas>(kind: K, value: unknown): z.infer<(typeof schemas)[K]> {
  const result = schemas[kind].safeParse(value);
  if (result.success) return result.data as z.infer<(typeof schemas)[K]>;
  const issue = result.error.issues[0];
  const field = issue.path.map(String).join('.') || kind;
  throw ChorusError.validation(field, `${field}: ${issue.message}`);
}
