import { z } from 'zod';
import { text } from './text';

/**
 * Every error a client can receive, over REST or WebSocket. The code is the contract: messages are for
 * humans and may change. `retryable` tells a client whether sending the same request again can succeed
 * (after `retry_after_ms` when given); `http` is the status REST answers with.
 */
export const ERROR_CODES = {
  VALIDATION_ERROR: { retryable: false, http: 400, meaning: 'The message or body is malformed; `field` names the offending field. Fix the request.' },
  UNAUTHENTICATED: { retryable: false, http: 401, meaning: 'No valid access or join token. Obtain a new token, then retry.' },
  PERMISSION_DENIED: { retryable: false, http: 403, meaning: 'Your role in the session does not allow this action.' },
  NOT_FOUND: { retryable: false, http: 404, meaning: 'The session, document, invite or participant does not exist (or is no longer retained).' },
  CONFLICT: { retryable: false, http: 409, meaning: 'The request conflicts with the current state in a way none of the codes below names.' },
  RELOAD_REQUIRED: { retryable: false, http: 409, meaning: 'Your copy of the document is unusable (`version` ahead of head, too far behind, or its ops are no longer retained): `open_document` again and rebase local edits.' },
  FILE_LOCKED: { retryable: true, http: 423, meaning: 'Someone else holds the file\'s lock (`locked_by`, until `locked_until`); retry after it is unlocked (`file_unlocked`) or after `retry_after_ms`, when it expires.' },
  ALREADY_JOINED: { retryable: false, http: 409, meaning: 'This connection already joined the session; carry on, or send `leave` first to join again.' },
  OWNER_CANNOT_LEAVE: { retryable: false, http: 409, meaning: 'The owner cannot leave the session; delete it instead (or transfer ownership first).' },
  PAYLOAD_TOO_LARGE: { retryable: false, http: 413, meaning: 'The message exceeds the size limit for its kind.' },
  RATE_LIMITED: { retryable: true, http: 429, meaning: 'Too many requests; retry after `retry_after_ms`.' },
  SESSION_FULL: { retryable: true, http: 409, meaning: 'The session has reached its participant limit; retry when someone leaves.' },
  SERVER_ERROR: { retryable: true, http: 500, meaning: 'An unexpected error on our side; retry with backoff.' },
  UNAVAILABLE: { retryable: true, http: 503, meaning: 'A backing service did not answer in time; retry with backoff.' },
  PEER_DISCONNECTED: { retryable: true, http: 409, meaning: 'The peer a file transfer needs (the file host) is not connected; `paths` names the files not received. Retry when it is back (or another peer hosts).' },
  FILE_INTEGRITY: { retryable: true, http: 422, meaning: 'A received file does not match its manifest sha256 (or size); `paths` names it. Nothing was written; request it again.' },
} as const satisfies Record<string, { retryable: boolean; http: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const errorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].http;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/** Optional structured details an error may carry on the wire. */
export interface ErrorDetails {
  /** The offending field (dot path) of a VALIDATION_ERROR. */
  field?: string;
  /** When to retry: a RATE_LIMITED request; a FILE_LOCKED one (the lock's time left, unless `file_unlocked` comes first). */
  retry_after_ms?: number;
  /** FILE_LOCKED: the user holding the lock. */
  locked_by?: string;
  /** FILE_LOCKED: when the lock expires (ISO 8601). */
  locked_until?: string;
  /** PEER_DISCONNECTED, FILE_INTEGRITY: the files concerned. */
  paths?: string[];
  /** PERMISSION_DENIED by a per-file path rule: the rule's name (docs/files.md). */
  rule?: string;
}

/**
 * The one error type domain code throws. Transports map it to their own shape exactly once (the WebSocket
 * `error` message, the REST `{code, message}` body); domain code never throws framework exceptions.
 */
export class ChorusError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'ChorusError';
    this.code = code;
    this.details = details;
  }

  get retryable(): boolean {
    return isRetryable(this.code);
  }

  static validation(field: string, message: string): ChorusError {
    return new ChorusError('VALIDATION_ERROR', message, { field });
  }

  /**
   * Rebuilds a ChorusError from anything carrying `{code, message}` (e.g. an error that crossed the service
   * transport as plain data). Anything else becomes SERVER_ERROR without leaking its text.
   */
  static from(value: unknown): ChorusError {
    if (value instanceof ChorusError) return value;
    if (typeof value === 'object' && value !== null) {
      const v = value as { code?: unknown; message?: unknown; details?: unknown };
      if (isErrorCode(v.code)) {
        const details: ErrorDetails = {};
        const source = (typeof v.details === 'object' && v.details !== null ? v.details : v) as Record<keyof ErrorDetails, unknown>;
        if (typeof source.field === 'string') details.field = source.field;
        if (typeof source.retry_after_ms === 'number') details.retry_after_ms = source.retry_after_ms;
        if (typeof source.locked_by === 'string') details.locked_by = source.locked_by;
        if (typeof source.locked_until === 'string') details.locked_until = source.locked_until;
        if (Array.isArray(source.paths) && source.paths.every((p) => typeof p === 'string')) details.paths = source.paths as string[];
        if (typeof source.rule === 'string') details.rule = source.rule;
        return new ChorusError(v.code, typeof v.message === 'string' ? v.message : v.code, details);
      }
    }
    return new ChorusError('SERVER_ERROR', 'Internal error; retry with backoff. If it persists, report it with the time of the request.');
  }

  /** The wire form: `{type: 'error', code, message, retryable, field?, retry_after_ms?, locked_by?, locked_until?, id?}`. */
  toWire(id?: MessageId): ErrorMessage {
    return {
      type: 'error',
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.details.field !== undefined ? { field: this.details.field } : {}),
      ...(this.details.retry_after_ms !== undefined ? { retry_after_ms: this.details.retry_after_ms } : {}),
      ...(this.details.locked_by !== undefined ? { locked_by: this.details.locked_by } : {}),
      ...(this.details.locked_until !== undefined ? { locked_until: this.details.locked_until } : {}),
      ...(this.details.paths !== undefined ? { paths: this.details.paths } : {}),
      ...(this.details.rule !== undefined ? { rule: this.details.rule } : {}),
      ...(id !== undefined ? { id } : {}),
    };
  }
}

export const messageIdSchema = z.union([text().min(1).max(64), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]);
export type MessageId = z.infer<typeof messageIdSchema>;

export const errorMessageSchema = z.strictObject({
  type: z.literal('error'),
  id: messageIdSchema.optional(),
  code: errorCodeSchema,
  message: text(),
  retryable: z.boolean(),
  field: text().optional(),
  retry_after_ms: z.number().int().nonnegative().optional(),
  locked_by: text().optional(),
  locked_until: text().optional(),
  paths: z.array(text()).optional(),
  rule: text().optional(),
});
export type ErrorMessage = z.infer<typeof errorMessageSchema>;
