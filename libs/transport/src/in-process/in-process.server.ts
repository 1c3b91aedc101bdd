import { randomBytes } from 'node:crypto';
import { BaseTransportServer } from '../base.server';
import type { RequestEnvelope } from '../envelope';
import { TransportContext } from '../transport.context';
import type { InProcessBroker, InProcessReplica } from './broker';

export const IN_PROCESS_TRANSPORT = Symbol('IN_PROCESS');

export interface InProcessServerOptions {
  broker: InProcessBroker;
  service: string;
  /** Used in the consumer name, as on Redis. Default 'local'. */
  nodeId?: string;
  /** Messages handled at once by this replica. Default 64 (as on Redis). */
  concurrency?: number;
  /** As RedisStreamsServerOptions.keyedMode: 'serial' (default) or 'affinity' (keyed requests run concurrently). */
  keyedMode?: 'serial' | 'affinity';
  /** On close, how long to wait for in-flight handlers. Default 10000 ms. */
  shutdownTimeoutMs?: number;
}

/** The in-process twin of RedisStreamsServer: same handler contract, context and shutdown behaviour. */
export class InProcessServer extends BaseTransportServer implements InProcessReplica {
  readonly consumer: string;
  private readonly concurrency: number;
  private readonly shutdownTimeoutMs: number;
  private inflight = 0;
  private attached = false;
  private onIdle?: () => void;

  constructor(private readonly options: InProcessServerOptions) {
    super(IN_PROCESS_TRANSPORT);
    this.consumer = `${options.nodeId ?? 'local'}:${randomBytes(4).toString('hex')}`;
    this.concurrency = options.concurrency ?? 64;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  }
  protected get serviceName(): string {
    return this.options.service;
  }


  listen(callback: (error?: unknown) => void): void {
    this.attached = true;
    this.options.broker.attach(this.options.service, this, this.eventPatterns(), this.options.keyedMode ?? 'serial');
    this.setStatus('connected');
    callback();
  }

  /** Stops taking messages, waits for in-flight handlers (up to shutdownTimeoutMs), then reports disconnected. */
  async close(): Promise<void> {
    if (!this.attached) return;
    this.attached = false;
    this.options.broker.detach(this.options.service, this);
    const deadline = Date.now() + this.shutdownTimeoutMs;
    while (this.inflight > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.setStatus('disconnected');
  }

  unwrap<T>(): T {
    return this.options.broker as T;
  }

  inflightCount(): number {
    return this.inflight;
  }

  hasCapacity(): boolean {
    return this.attached && this.inflight < this.concurrency;
  }

  deliver(env: RequestEnvelope, done: () => void): void {
    this.inflight++;
    void this.process(env).finally(() => {
      this.inflight--;
      this.onIdle?.();
      done();
    });
  }

  private async process(env: RequestEnvelope): Promise<void> {
    const isRequest = env.r !== undefined;
    // Past its deadline the caller has already been told UNAVAILABLE: drop it without running the handler.
    if (isRequest && env.t !== undefined && env.t < Date.now()) return;
    const ctx = new TransportContext({
      pattern: env.p,
      requestId: env.i,
      deliveryCount: 1,
      consumer: this.consumer,
      kind: isRequest ? 'request' : 'event',
      ...(env.k !== undefined && { key: env.k }),
    });
    const reply = await this.handleMessage(env, ctx);
    if (env.r !== undefined && reply) this.options.broker.reply(env.r, reply);
  }
}
