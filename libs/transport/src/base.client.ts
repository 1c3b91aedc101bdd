import { randomBytes } from 'node:crypto';
import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception';
import type { TransportStatus } from './base.server';
import { type OrderingKeys, type ReplyEnvelope, type RequestEnvelope, resolveKey } from './envelope';
import { endSpan, startSendSpan } from './tracing';
import { TransportError } from './transport.error';
import type { Span } from '@opentelemetry/api';

interface PendingRequest {
  callback: (packet: WritePacket) => void;
  /** Epoch ms after which the caller gets UNAVAILABLE. */
  deadline: number;
  pattern: string;
  /** The request's CLIENT span (a no-op while tracing is off): ends with the reply, the deadline or the teardown. */
  span: Span;
}

export interface BaseClientOptions {
  service: string;
  nodeId: string;
  requestTimeoutMs: number;
  orderingKeys?: OrderingKeys;
}

/**
 * What the Redis client and its in-process twin share: request ids, deadlines and the table of requests
 * waiting for a reply.
 *
 * Invariant: every entry of `pending` leaves it exactly once — on its reply, on its deadline (UNAVAILABLE),
 * when the caller unsubscribes, or when the client closes. So a caller never hangs, and no reply state
 * outlives its request. A reply that arrives after that (late, or a duplicate after a redelivery) finds no
 * entry and is dropped: each `send()` completes at most once.
 *
 * Deadlines: one timeout for every request of a client, so `pending` (a Map, iterated in insertion order)
 * is also in deadline order. One sweeper timer fails the expired entries at the front, instead of a timer
 * per request: a request fails at most `sweepMs` after its deadline.
 */
export abstract class BaseTransportClient extends ClientProxy {
  protected readonly pending = new Map<string, PendingRequest>();
  protected currentStatus: TransportStatus = 'disconnected';
  /** Unique per client instance: ids are `<instanceId>.<seq>`, unique without coordination. */
  protected readonly instanceId = randomBytes(6).toString('base64url');
  private seq = 0;
  private sweeper?: NodeJS.Timeout;
  private readonly sweepMs: number;

  constructor(protected readonly baseOptions: BaseClientOptions) {
    super();
    this.sweepMs = Math.min(50, Math.max(1, Math.floor(baseOptions.requestTimeoutMs / 20)));
  }

  /** Sends one request envelope to the service. Rejection means it was not sent. */
  protected abstract transmitRequest(env: RequestEnvelope): Promise<void>;
  /** Publishes one event envelope to every service subscribed to its pattern. */
  protected abstract transmitEvent(env: RequestEnvelope): Promise<void>;
  /** Where the server sends this client's replies. */
  protected abstract replyAddress(): string;

  isHealthy(): boolean {
    return this.currentStatus === 'connected';
  }

  /** Number of requests waiting for a reply (a gauge, and the leak check of the tests). */
  pendingCount(): number {
    return this.pending.size;
  }

  /**
   * `send()` as a promise: the same envelope, deadline, ordering key and reply handling, without an Observable
   * and Nest's per-call wrapping (what TypedClient calls on the hot path; `send()` stays for Nest-style callers).
   * Rejects with a TransportError (UNAVAILABLE on deadline or when not sent; the service's error otherwise).
   */
  async request<T>(pattern: string, data: unknown): Promise<T> {
    // As send(): a request carries data (undefined or null would not survive the wire as the same value).
    if (data === undefined || data === null) throw new InvalidMessageException();
    await this.connect();
    return new Promise<T>((resolve, reject) => {
      this.publish({ pattern, data }, (packet) => {
        if (packet.err !== undefined && packet.err !== null) reject(packet.err);
        else resolve(packet.response as T);
      });
    });
  }

  protected setStatus(status: TransportStatus): void {
    this.currentStatus = status;
    this._status$.next(status);
  }

  protected nextId(): string {
    return `${this.instanceId}.${(this.seq++).toString(36)}`;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const pattern = this.normalizePattern(packet.pattern);
    const { data, key } = resolveKey(pattern, packet.data, this.baseOptions.orderingKeys);
    const id = this.nextId();
    const deadline = Date.now() + this.baseOptions.requestTimeoutMs;
    const { span, carrier } = startSendSpan(this.baseOptions.service, pattern, 'request');
    this.pending.set(id, { callback, deadline, pattern, span });
    this.sweeper ??= setInterval(() => this.sweep(), this.sweepMs);
    const env: RequestEnvelope = { i: id, p: pattern, d: data, r: this.replyAddress(), t: deadline, o: this.baseOptions.nodeId };
    if (key !== undefined) env.k = key;
    if (carrier !== undefined) env.c = carrier;
    this.transmitRequest(env).catch((error: Error) =>
      this.fail(id, TransportError.unavailable(`Could not send "${pattern}" to service "${this.baseOptions.service}": ${error.message}`)),
    );
    // Teardown: the caller unsubscribed (or the observable settled). Dropping the entry is all it takes;
    // the request may still run on a replica, and its reply will be ignored.
    return () => this.forget(id);
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const pattern = this.normalizePattern(packet.pattern);
    const { data, key } = resolveKey(pattern, packet.data, this.baseOptions.orderingKeys);
    const env: RequestEnvelope = { i: this.nextId(), p: pattern, d: data, o: this.baseOptions.nodeId };
    if (key !== undefined) env.k = key;
    const { span, carrier } = startSendSpan(this.baseOptions.service, pattern, 'event');
    if (carrier !== undefined) env.c = carrier;
    let failure: Error | undefined;
    const timeoutMs = this.baseOptions.requestTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.transmitEvent(env),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(TransportError.unavailable(`Could not publish "${pattern}" within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      failure = error instanceof TransportError ? error : TransportError.unavailable(`Could not publish "${pattern}": ${(error as Error).message}`);
      throw failure;
    } finally {
      clearTimeout(timer);
      endSpan(span, failure);
    }
    return undefined as T;
  }

  /** Delivers a reply to its waiting caller, if it still waits. */
  protected onReply(reply: ReplyEnvelope): void {
    const entry = this.pending.get(reply.i);
    if (!entry) return;
    endSpan(entry.span, reply.e);
    this.forget(reply.i, false);
    if (reply.e) entry.callback({ err: new TransportError(reply.e) });
    else entry.callback({ response: reply.r, isDisposed: true });
  }

  protected fail(id: string, error: TransportError): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    endSpan(entry.span, error);
    this.forget(id, false);
    entry.callback({ err: error });
  }

  /** Fails every waiting request: used when the client closes. */
  protected failAll(reason: string): void {
    for (const id of [...this.pending.keys()]) this.fail(id, TransportError.unavailable(reason));
  }

  /** `endsSpan` false: the reply or failure has ended the span already; true: a teardown (the caller unsubscribed). */
  private forget(id: string, endsSpan = true): void {
    if (endsSpan) this.pending.get(id)?.span.end();
    this.pending.delete(id);
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.pending) {
      if (entry.deadline > now) return; // deadline order: the rest are later
      this.fail(id, TransportError.unavailable(`No reply from service "${this.baseOptions.service}" to "${entry.pattern}" within ${this.baseOptions.requestTimeoutMs} ms`));
    }
  }

  /** The underlying ClientProxy contract: errors reach subscribers as they are (TransportError). */
  protected override serializeError(err: unknown): unknown {
    return err;
  }

  override on(_event: never, _callback: never): void {
    throw new Error(`${this.constructor.name} has no native events: subscribe to the "status" observable instead.`);
  }
}
