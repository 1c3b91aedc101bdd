import { BaseTransportClient } from '../base.client';
import type { OrderingKeys, RequestEnvelope } from '../envelope';
import type { InProcessBroker } from './broker';

export interface InProcessClientOptions {
  broker: InProcessBroker;
  service: string;
  /** Deadline of every request. Default 10000 ms (as on Redis). */
  requestTimeoutMs?: number;
  nodeId?: string;
  orderingKeys?: OrderingKeys;
}

/** The in-process twin of RedisStreamsClient. */
export class InProcessClient extends BaseTransportClient {
  private readonly address: string;
  private registered = false;

  constructor(private readonly options: InProcessClientOptions) {
    super({
      service: options.service,
      nodeId: options.nodeId ?? 'local',
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      orderingKeys: options.orderingKeys,
    });
    this.address = `${options.nodeId ?? 'local'}:${this.instanceId}`;
  }

  connect(): Promise<void> {
    if (!this.registered) {
      this.registered = true;
      this.options.broker.registerClient(this.address, (reply) => this.onReply(reply));
      this.setStatus('connected');
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (!this.registered) return;
    this.registered = false;
    this.failAll(`Client of "${this.options.service}" closed`);
    this.options.broker.unregisterClient(this.address);
    this.setStatus('disconnected');
  }

  unwrap<T>(): T {
    return this.options.broker as T;
  }

  protected replyAddress(): string {
    return this.address;
  }

  protected async transmitRequest(env: RequestEnvelope): Promise<void> {
    this.options.broker.submit(this.options.service, env);
  }

  protected async transmitEvent(env: RequestEnvelope): Promise<void> {
    this.options.broker.publish(env);
  }
}
