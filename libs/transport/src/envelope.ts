import type { ErrorBody } from './transport.error';

/**
 * The wire format shared by both transports (the in-process twin round-trips it through JSON too, so a
 * payload that would not survive Redis fails the same way in fast tests). Short field names: these are
 * parsed once per message on the hot path.
 */
export interface RequestEnvelope {
  /** Message id, chosen by the caller; the same on every redelivery (the idempotency key). */
  i: string;
  /** Normalised pattern (route). */
  p: string;
  /** Payload. */
  d: unknown;
  /** Reply address (Redis: the caller's reply stream). Absent for events. */
  r?: string;
  /** Deadline, epoch ms. A request read after its deadline is acknowledged without running the handler. */
  t?: number;
  /** Ordering key: messages with the same key are handled one at a time, in send order. */
  k?: string;
  /** Origin node id (for logs and tracing). */
  o: string;
  /** Trace context of the sender (W3C traceparent/tracestate; tracing.ts). Absent when tracing is off. */
  c?: Record<string, string>;
}

export interface ReplyEnvelope {
  i: string;
  /** The handler's result (absent when it returned undefined). */
  r?: unknown;
  /** The error, when the handler failed or the transport gave up. */
  e?: ErrorBody;
}

const ORDERED = Symbol('chorus.transport.ordered');

/** A payload tagged with an ordering key; the client strips the tag, the handler receives `data` only. */
export interface OrderedPayload<T> {
  readonly [ORDERED]: true;
  readonly key: string;
  readonly data: T;
}

/**
 * `client.send('op.submit', ordered(docId, op))`: every message sent with the same key to the same service
 * is handled one at a time, in the order the sends were issued by this process (see docs/transport.md).
 */
export function ordered<T>(key: string, data: T): OrderedPayload<T> {
  return { [ORDERED]: true, key, data };
}

function isOrdered(value: unknown): value is OrderedPayload<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ORDERED] === true;
}

/** Per-pattern ordering key extractors, an alternative to wrapping each payload with `ordered()`. */
export type OrderingKeys = Record<string, (data: never) => string | undefined>;

/** Splits a send/emit payload into the data to transmit and its ordering key, if any. */
export function resolveKey(pattern: string, data: unknown, keys: OrderingKeys | undefined): { data: unknown; key?: string } {
  if (isOrdered(data)) return { data: data.data, key: data.key };
  const extract = keys?.[pattern] as ((d: unknown) => string | undefined) | undefined;
  const key = extract?.(data);
  return key === undefined ? { data } : { data, key };
}

/** FNV-1a: a stable, dependency-free hash so every process maps a key to the same shard. */
export function shardOf(key: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}
