import { ArgumentsHost, Catch, Logger, RpcExceptionFilter } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import { toErrorBody } from './transport.error';

/**
 * Nest's default RPC exception handling masks every error that is not an RpcException as
 * `{ status: 'error', message: 'Internal server error' }`, losing its code. With this filter
 * (`app.useGlobalFilters(new TransportExceptionFilter())` on the microservice, or `@UseFilters`), a domain
 * error that carries `code` and `message` (plus optional `details`, `retryable`) reaches the caller with
 * exactly those fields; an RpcException keeps its payload; anything else becomes INTERNAL and is logged here,
 * never sent to the caller.
 */
@Catch()
export class TransportExceptionFilter implements RpcExceptionFilter {
  private readonly logger = new Logger('TransportExceptionFilter');

  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    const error = exception instanceof RpcException ? exception.getError() : exception;
    const body = toErrorBody(error);
    if (body.code === 'INTERNAL') this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return throwError(() => body);
  }
}
