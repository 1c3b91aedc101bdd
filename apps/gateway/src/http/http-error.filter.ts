import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { ChorusError, httpStatusOf, type ErrorCode } from '@chorus/protocol';
import { requestIdOf } from '@chorus/runtime';

/** HTTP statuses Nest or Express raise before our code runs, mapped onto protocol codes. */
const FROM_HTTP_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'VALIDATION_ERROR',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

/**
 * The body parser's (body-parser / raw-body) error types: each is the client's mistake, with what to do next.
 * 415s become VALIDATION_ERROR naming the header — the protocol has no 415 code, and the fix is the same: send
 * a body the server can read.
 */
const BODY_ERRORS: Record<string, () => ChorusError> = {
  'entity.too.large': () => new ChorusError('PAYLOAD_TOO_LARGE', 'The request body is too large: at most 100 KB of JSON.'),
  'parameters.too.many': () => new ChorusError('PAYLOAD_TOO_LARGE', 'The request body has too many parameters.'),
  'entity.parse.failed': () => ChorusError.validation('(body)', 'The request body is not valid JSON.'),
  'querystring.parse.rangeError': () => ChorusError.validation('(body)', 'The form body is nested too deeply; send JSON.'),
  'encoding.unsupported': () => ChorusError.validation('content-encoding', 'Unsupported Content-Encoding: send the body as identity, gzip, deflate or br.'),
  'charset.unsupported': () => ChorusError.validation('content-type', 'Unsupported charset in Content-Type: send JSON as UTF-8.'),
  'request.aborted': () => ChorusError.validation('(body)', 'The request was aborted before its body was complete.'),
  'request.size.invalid': () => ChorusError.validation('content-length', 'The body length does not match Content-Length.'),
};

/** An http-errors error as body-parser raises it: a client error when `expose` is set. */
interface FrameworkHttpError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  type?: unknown;
  code?: unknown;
}

/**
 * The one place REST errors take their shape: HTTP status + `{code, message, field?, retry_after_ms?}`.
 * Domain errors keep their code; framework errors (unknown route, malformed or oversized body, unknown content
 * encoding, bad percent-encoding) get the matching code and a message saying what to fix; anything else is a
 * SERVER_ERROR whose details stay in the log, never in the response. Client mistakes are counted, not logged.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  constructor(private readonly refused?: Counter<'code'>) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    // The request id (X-Request-Id, observeHttp) goes into the body and the log line: a user's report finds the log.
    const requestId = requestIdOf(host.switchToHttp().getRequest());
    const error = this.toChorusError(exception, requestId);
    if (error.code !== 'SERVER_ERROR') this.refused?.inc({ code: error.code });
    if (res.headersSent) return; // an aborted request: nobody is listening for the answer
    // RATE_LIMITED and an overloaded UNAVAILABLE both say when to come back.
    if (error.details.retry_after_ms !== undefined) {
      res.setHeader('Retry-After', Math.ceil(error.details.retry_after_ms / 1000).toString());
    }
    const { type: _type, retryable: _retryable, ...body } = error.toWire();
    res.status(httpStatusOf(error.code)).json(requestId === undefined ? body : { ...body, request_id: requestId });
  }

  private toChorusError(exception: unknown, requestId: string | undefined): ChorusError {
    if (exception instanceof ChorusError) return exception;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = FROM_HTTP_STATUS[status];
      if (code === 'NOT_FOUND') return new ChorusError('NOT_FOUND', 'No such endpoint. See /api/docs for the API.');
      // Nest turns body-parser's SyntaxError into a 400 before we see it; a bad path encoding never gets here
      // (refuseUndecodablePath answers it first), so a 400 from the framework is a body that is not JSON.
      if (code === 'VALIDATION_ERROR') return ChorusError.validation('(body)', 'The request body is not valid JSON.');
      if (code === 'PAYLOAD_TOO_LARGE') return new ChorusError('PAYLOAD_TOO_LARGE', 'The request body is too large.');
      if (code !== undefined) return new ChorusError(code, exception.message);
    }
    const framework = fromFrameworkError(exception);
    if (framework) return framework;
    const fromData = ChorusError.from(exception);
    if (fromData.code === 'SERVER_ERROR') this.logger.error(`request ${requestId ?? '-'}: ${(exception as Error)?.stack ?? String(exception)}`);
    return fromData;
  }
}

/** body-parser's and Express's own client errors (http-errors with `expose`), by type, then by status. */
function fromFrameworkError(exception: unknown): ChorusError | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const e = exception as FrameworkHttpError;
  if (typeof e.type === 'string' && Object.prototype.hasOwnProperty.call(BODY_ERRORS, e.type)) return BODY_ERRORS[e.type]();
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  if (e.expose !== true || typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  // A decompression failure (gzip announced, plain body sent) carries zlib's code and a 400.
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) return ChorusError.validation('content-encoding', 'The body does not match its Content-Encoding (e.g. gzip announced, plain JSON sent).');
  const code = FROM_HTTP_STATUS[status] ?? 'VALIDATION_ERROR';
  return code === 'VALIDATION_ERROR' ? ChorusError.validation('(body)', 'The request could not be read; check its headers and body.') : new ChorusError(code, 'The request was refused.');
}

/** Counts REST refusals by code (`chorus_http_refused_total`): client mistakes are metrics, not error logs. */
export function httpRefusedCounter(registry: Registry): Counter<'code'> {
  return new Counter({ name: 'chorus_http_refused_total', help: 'REST requests answered with a client error, by protocol code', labelNames: ['code'], registers: [registry] });
}
