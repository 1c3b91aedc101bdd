import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import type { ReplyEnvelope, RequestEnvelope } from './envelope';
import type { TransportObserver } from './observer';
import { withReceiveSpan } from './tracing';
import { TransportContext } from './transport.context';
import { TransportErrorCode, toErrorBody } from './transport.error';

/** Connection status of a server or client, as emitted on Nest's `status` observable. */
export type TransportStatus = 'connected' | 'disconnected' | 'reconnecting';

/**
 * What the Redis server and its in-process twin share: how one message meets its Nest handler. Delivery,
 * acknowledgement and concurrency are the subclasses' business; this never throws, so a read loop that
 * calls it cannot die of a handler's failure.
 */
export abstract class BaseTransportServer extends Server implements CustomTransportStrategy {
  protected currentStatus: TransportStatus = 'disconnected';
  /** Metrics hooks (`observe()`); none by default. */
  protected observer: TransportObserver = {};

  constructor(transportId: symbol) {
    super();
    this.transportId = transportId;
  }

  /** Reports receipts, handler outcomes, takeovers and dead letters to `observer` (the runtime's metrics). */
  observe(observer: TransportObserver): void {
    this.observer = observer;
  }

  /** The service this server consumes for (the consumer group). */
  protected abstract get serviceName(): string;

  /** For a terminus health indicator: true while the transport can receive messages. */
  isHealthy(): boolean {
    return this.currentStatus === 'connected';
  }

  protected setStatus(status: TransportStatus): void {
    this.currentStatus = status;
    this._status$.next(status);
  }

  /** Patterns of the registered `@EventPattern` handlers: the events this service subscribes to. */
  protected eventPatterns(): string[] {
    return [...this.messageHandlers.entries()].filter(([, h]) => h.isEventHandler).map(([pattern]) => pattern);
  }

  /**
   * Runs the handler for one message. Resolves with the reply for a request, undefined for an event.
   * Invariant: never rejects. A thrown or observable error becomes an error reply (requests) or a log line
   * (events); either way the message counts as handled and will be acknowledged.
   */
  protected handleMessage(env: RequestEnvelope, ctx: TransportContext): Promise<ReplyEnvelope | undefined> {
    const started = performance.now();
    return withReceiveSpan(this.serviceName, env, ctx.getDeliveryCount(), () => this.dispatch(env, ctx), (reply) => reply?.e).then((reply) => {
      this.observer.handled?.(env.p, (performance.now() - started) / 1000, reply?.e === undefined ? 'ok' : String(reply.e.code));
      return reply;
    });
  }

  private async dispatch(env: RequestEnvelope, ctx: TransportContext): Promise<ReplyEnvelope | undefined> {
    const isRequest = env.r !== undefined;
    // Our clients send the normalised route already: a direct lookup. Nest's getHandlerByPattern tries
    // JSON.parse on every pattern and pays for a thrown exception on each plain string (the top hot spot).
    const handler = this.messageHandlers.get(env.p) ?? this.getHandlerByPattern(env.p);
    if (!handler || handler.isEventHandler !== !isRequest) {
      if (!isRequest) {
        this.logger.error(`No event handler for pattern "${env.p}"`);
        return undefined;
      }
      return { i: env.i, e: { code: TransportErrorCode.NO_HANDLER, message: `No handler for pattern "${env.p}"`, retryable: false } };
    }
    try {
      const result = await this.runHandler(handler, env.d, ctx);
      if (!isRequest) return undefined;
      return result === undefined ? { i: env.i } : { i: env.i, r: result };
    } catch (error) {
      if (!isRequest) {
        // At-least-once does not mean retry-forever: a failing event is logged and acknowledged, like a
        // request's handled error. Redelivery is for replicas that die, not for handlers that fail.
        this.logger.error(`Event handler for "${env.p}" failed: ${toErrorBody(error).message}`);
        return undefined;
      }
      return { i: env.i, e: toErrorBody(error) };
    }
  }

  private runHandler(handler: MessageHandler, data: unknown, ctx: TransportContext): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const run = async (): Promise<void> => {
        try {
          const out: unknown = await handler(data, ctx);
          // A streamed (multi-value) result is reduced to its last value: one request, one reply.
          resolve(isObservable(out) ? await lastValueFrom(out, { defaultValue: undefined }) : out);
        } catch (error) {
          reject(error);
        } finally {
          this.onProcessingEndHook?.(this.transportId as symbol, ctx);
        }
      };
      try {
        this.onProcessingStartHook(this.transportId as symbol, ctx, run);
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Nest's `on()` is for transport-specific events; status changes are on the `status` observable. */
  on(_event: string, _callback: unknown): void {
    throw new Error(`${this.constructor.name} has no native events: subscribe to the "status" observable instead.`);
  }
}
