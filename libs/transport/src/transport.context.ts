import { BaseRpcContext } from '@nestjs/microservices';

/** What a handler may learn about the message it is handling. */
export interface MessageInfo {
  /** The normalised pattern (route) of the message. */
  pattern: string;
  /**
   * Stable id chosen by the caller, the same on every redelivery of this message: the idempotency key.
   * (Redelivery happens when a replica died holding the message: see docs/transport.md.)
   */
  requestId: string;
  /** 1 on the first delivery, 2+ when another replica claimed it after the first one died. */
  deliveryCount: number;
  /** The consumer (one per process) handling it: `<nodeId>:<random>`. */
  consumer: string;
  /** The ordering key when the caller gave one (messages with the same key are handled one at a time, in order). */
  key?: string;
  /** Whether this is an event (`emit`, no reply) or a request (`send`). */
  kind: 'request' | 'event';
}

/**
 * The handler context of both transports (inject with `@Ctx() ctx: TransportContext`), the counterpart of
 * Nest's `RedisContext`.
 */
export class TransportContext extends BaseRpcContext<[MessageInfo]> {
  constructor(info: MessageInfo) {
    super([info]);
  }

  get info(): MessageInfo {
    return this.args[0];
  }

  getPattern(): string {
    return this.args[0].pattern;
  }

  getRequestId(): string {
    return this.args[0].requestId;
  }

  getDeliveryCount(): number {
    return this.args[0].deliveryCount;
  }

  getConsumer(): string {
    return this.args[0].consumer;
  }

  getKey(): string | undefined {
    return this.args[0].key;
  }

  /** True when an earlier delivery may already have run (part of) the handler: dedupe on `getRequestId()`. */
  isRedelivery(): boolean {
    return this.args[0].deliveryCount > 1;
  }
}
