import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
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
      field: {
        type: 'string',
        description: 'VALIDATION_ERROR: the offending field — a body field (dot path), a path parameter, `path`, `content-encoding`, `content-type` or `(body)`',
      },
      retry_after_ms: { type: 'integer', description: 'RATE_LIMITED: when to retry' },
      request_id: { type: 'string', description: 'The X-Request-Id of this request (yours when sane, else generated): quote it when reporting a problem, it is in the access log' },
    },
  };
}

/** The zod schema as an OpenAPI schema (JSON Schema draft 2020-12 is what OpenAPI 3.1 speaks). */
function toSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): SchemaObject {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return json as SchemaObject;
}

export interface RouteDoc {
  summary: string;
  body?: z.ZodType;
  /** The success response's body (a view schema of libs/protocol/src/rest.ts). */
  response?: z.ZodType;
  query?: z.ZodObject;
  status?: number;
  /** Error statuses this route can answer; 429, 500 and 503 apply to every route and are added here. */
  errors: number[];
}

/** OpenAPI for one route, from the same zod schemas that validate it: the docs cannot drift from the checks. */
export function Documented(doc: RouteDoc): MethodDecorator {
  const success = doc.response ? { schema: toSchema(doc.response, 'output') } : {};
  const decorators = [ApiOperation({ summary: doc.summary }), ApiResponse({ status: doc.status ?? 200, description: 'Success', ...success })];
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

/**
 * Errors the edge answers before any route runs, on every operation (health and metrics included): 400 for a
 * path that is not valid percent-encoding or an unknown Content-Encoding/charset, 413 for a body over 100 KB.
 */
export function withEdgeErrors(document: OpenAPIObject): OpenAPIObject {
  const edge: Record<string, string> = {
    '400': 'VALIDATION_ERROR: also a path that is not valid percent-encoded UTF-8 (field `path`), an unknown Content-Encoding (`content-encoding`) or charset (`content-type`)',
    '413': 'PAYLOAD_TOO_LARGE: a request body over 100 KB',
  };
  for (const methods of Object.values(document.paths)) {
    for (const op of Object.values(methods) as Array<{ responses?: Record<string, unknown> }>) {
      if (typeof op !== 'object' || op === null || op.responses === undefined) continue;
      for (const [status, description] of Object.entries(edge)) {
        op.responses[status] ??= { description, content: { 'application/json': { schema: errorSchema(Number(status)) } } };
      }
    }
  }
  return document;
}

/**
 * Operation ids a generated client reads well: `<controller noun>_<method>` in snake_case, as the wire protocol
 * names things (SessionsController.updateRole → sessions_update_role). Unique: one controller per noun.
 */
export function operationId(controllerKey: string, methodKey: string): string {
  const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  return `${snake(controllerKey.replace(/Controller$/, ''))}_${snake(methodKey)}`;
}

/** The version Nest writes is 3.0.0, but the schemas are JSON Schema 2020-12 (from zod): that is OpenAPI 3.1. */
export const OPENAPI_VERSION = '3.1.0';
