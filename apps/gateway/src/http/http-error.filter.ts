import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { ChorusError, httpStatusOf, type ErrorCode } from '@chorus/protocol';

/** HTTP statuses Nest or Express raise before our code runs, mapped onto protocol codes. */
const FROM_HTTP_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

/**
 * The one place REST errors take their shape: HTTP status + `{code, message, field?, retry_after_ms?}`.
 * Domain errors keep their code; framework errors (unknown route, malformed JSON, body too large) get the
 * matching code; anything else is a SERVER_ERROR whose details stay in the log, never in the response.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const error = this.toChorusError(exception);
    // RATE_LIMITED and an overloaded UNAVAILABLE both say when to come back.
    if (error.details.retry_after_ms !== undefined) {
      res.setHeader('Retry-After', Math.ceil(error.details.retry_after_ms / 1000).toString());
    }
    const { type: _type, retryable: _retryable, ...body } = error.toWire();
    res.status(httpStatusOf(error.code)).json(body);
  }

  private toChorusError(exception: unknown): ChorusError {
    if (exception instanceof ChorusError) return exception;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = FROM_HTTP_STATUS[status];
      if (code === 'NOT_FOUND') return new ChorusError('NOT_FOUND', 'No such endpoint. See /api/docs for the API.');
      if (code === 'VALIDATION_ERROR') return ChorusError.validation('(body)', 'The request body is not valid JSON.');
      if (code === 'PAYLOAD_TOO_LARGE') return new ChorusError('PAYLOAD_TOO_LARGE', 'The request body is too large.');
      if (code !== undefined) return new ChorusError(code, exception.message);
    }
    const fromData = ChorusError.from(exception);
    if (fromData.code === 'SERVER_ERROR') this.logger.error((exception as Error)?.stack ?? String(exception));
    return fromData;
  }
}
