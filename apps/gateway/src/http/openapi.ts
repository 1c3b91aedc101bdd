import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '@chorus/protocol';

const CODES_BY_STATUS = new Map<number, ErrorCode[]>();
for (const [code, spec] of Object.entries(ERROR_CODES) as Array<[ErrorCode, (typeof ERROR_CODES)[ErrorCode]]>) {
  CODES_BY_STATUS.set(spec.http, [...(CODES_BY_STATUS.get(spec.http) ?? []), code]);
}

function errorSchema(status: number): SchemaObject {
  return {
    type: 'object',
    required: ['code', 'message'],
    properties: {
      code: { type: 'string', enum: CODES_BY_STATUS.get(status) ?? [] },
      message: { type: 'string' },
      field: { type: 'string', description: 'VALIDATION_ERROR: the offending field' },
      retry_after_ms: { type: 'integer', description: 'RATE_LIMITED: when to retry' },
    },
  };
}

/** The zod schema as an OpenAPI schema (JSON Schema draft 2020-12 is what OpenAPI 3.1 speaks). */
function toSchema(schema: z.ZodType): SchemaObject {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return json as SchemaObject;
}

export interface RouteDoc {
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  status?: number;
  /** Error statuses this route can answer; 429, 500 and 503 apply to every route and are added here. */
  errors: number[];
}

/** OpenAPI for one route, from the same zod schemas that validate it: the docs cannot drift from the checks. */
export function Documented(doc: RouteDoc): MethodDecorator {
  const decorators = [ApiOperation({ summary: doc.summary }), ApiResponse({ status: doc.status ?? 200, description: 'Success' })];
  if (doc.body) decorators.push(ApiBody({ schema: toSchema(doc.body) }));
  if (doc.query) {
    for (const [name, field] of Object.entries(doc.query.shape)) {
      decorators.push(ApiQuery({ name, required: false, schema: toSchema(field as z.ZodType) }));
    }
  }
  for (const status of [...new Set([...doc.errors, 429, 500, 503])]) {
    decorators.push(ApiResponse({ status, description: (CODES_BY_STATUS.get(status) ?? []).join(', '), schema: errorSchema(status) }));
  }
  return applyDecorators(...decorators);
}
