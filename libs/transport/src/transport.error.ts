/**
 * Errors that cross the transport. A handler's coded error travels to the caller as exactly
 * `{ code, message, details?, retryable? }`; the caller's `send()` observable errors with a `TransportError`
 * carrying those same fields, so the gateway maps `code` to its wire protocol in one place.
 */

/**
 * Codes the transport itself produces. Handlers may use any other string code of their domain. Named so none
 * collides with a client protocol code of a different meaning (the gateway maps these, never forwards them):
 * a missing handler once travelled as NOT_FOUND and reached clients as "the session does not exist".
 */
export const TransportErrorCode = {
  /** No replica answered before the request's deadline, or the client is closed/not connected. Retry is sensible. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The service has no handler for this pattern. A caller bug: do not retry. */
  NO_HANDLER: 'NO_HANDLER',
  /** The message failed `maxDeliveries` times (replicas died holding it) and went to the dead-letter stream. */
  DEAD_LETTER: 'DEAD_LETTER',
  /** A handler failed with an error that carries no code. */
  INTERNAL: 'INTERNAL',
} as const;

/** The serialisable form of an error, as it travels in a reply. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
  retryable?: boolean;
}

export class TransportError extends Error {
  readonly code: 'UNAVAILABLE' | 'NO_HANDLER' | 'DEAD_LETTER' | 'INTERNAL' | (string & {});
  readonly details?: unknown;
  readonly retryable?: boolean;

  constructor(body: ErrorBody) {
    super(body.message);
    this.name = 'TransportError';
    this.code = body.code;
    if (body.details !== undefined) this.details = body.details;
    if (body.retryable !== undefined) this.retryable = body.retryable;
  }

  static unavailable(message: string): TransportError {
    return new TransportError({ code: TransportErrorCode.UNAVAILABLE, message, retryable: true });
  }

  /** Exactly the fields of the error contract (what a gateway logs or maps). */
  toJSON(): ErrorBody {
    return toErrorBody(this);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Turns whatever a handler threw (or what Nest's RPC exception layer made of it) into the wire error body.
 * - `{ code: string, message: string, details?, retryable? }` (an Error or plain object, e.g. from
 *   `new RpcException({...})`) keeps exactly those fields;
 * - Nest's own `{ status: 'error', message }` (an unknown exception it already masked) becomes INTERNAL;
 * - anything else, including an uncoded `Error`, becomes INTERNAL with a generic message: an internal message
 *   (a SQL error, a stack) must not leak to callers.
 */
export function toErrorBody(error: unknown): ErrorBody {
  if (isCoded(error)) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    if (typeof error.retryable === 'boolean') body.retryable = error.retryable;
    return body;
  }
  if (isRecord(error) && !(error instanceof Error) && typeof error.message === 'string') {
    return { code: TransportErrorCode.INTERNAL, message: error.message };
  }
  if (typeof error === 'string') return { code: TransportErrorCode.INTERNAL, message: error };
  return { code: TransportErrorCode.INTERNAL, message: 'Internal error' };
}

/**
 * A coded error that may cross to the caller as it is: the domain's own (ChorusError), the transport's, or one
 * that already crossed as plain data. Any other Error with a `code` is a failure of a library — a Postgres
 * error (`code: '23505'`), a socket's (`ECONNRESET`) — and is masked as INTERNAL (and logged by the server),
 * never passed on: its code means nothing to the caller, and its message may carry SQL or data.
 */
function isCoded(error: unknown): error is Record<string, unknown> & { code: string; message: string } {
  if (!isRecord(error) || typeof error.code !== 'string' || typeof error.message !== 'string') return false;
  return !(error instanceof Error) || error.name === 'ChorusError' || error.name === 'TransportError';
}
