import type { RedisOptions } from 'ioredis';
import type { OrderingKeys } from './envelope';

/**
 * Options of the Redis Streams transport. Only `redisUrl`, `prefix` and `nodeId` are required; every tuning
 * knob has a default chosen for Chorus (see docs/transport.md for the reasoning). Server and client of the
 * same service must agree on `prefix` and `orderingShards`.
 */
export interface StreamsTransportOptions {
  /** e.g. `redis://127.0.0.1:6379/0`. */
  redisUrl: string;
  /** Every key and stream starts with `<prefix>:` (namespacing; tests use a unique prefix each). */
  prefix: string;
  /** This node (pod/process) name, e.g. the pod name. The consumer name adds a random part per process. */
  nodeId: string;
  /** Server: messages handled at once by this replica (read but not yet acknowledged). Default 64. */
  concurrency?: number;
  /**
   * Server: a pending message whose holder has not touched it for this long is claimed by another replica,
   * even though the holder is still connected (hung). Live replicas touch their in-flight messages every
   * claimIdleMs/6, so a slow handler is not stolen and a pause up to 5/6 of it (GC, SIGSTOP) takes nothing
   * away. Also the lease time of an ordering shard. A holder whose connections are gone (dead) is taken over
   * after ~2 × livenessCheckMs instead. Default 6000 ms.
   */
  claimIdleMs?: number;
  /**
   * Server: how often a replica checks whether the replicas holding pending messages or shard leases still
   * have a connection to Redis (CLIENT LIST); absent twice in a row = dead, taken over at once. Default 200 ms.
   */
  livenessCheckMs?: number;
  /** Server: after this many deliveries a claimed message goes to the dead-letter stream. Default 3. */
  maxDeliveries?: number;
  /** Client: deadline of every request, and the bound on an `emit()` waiting for Redis. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** Approximate MAXLEN of request, event and dead-letter streams (oldest entries trimmed). Default 100000. */
  maxLen?: number;
  /** Approximate MAXLEN of a reply stream (the client also trims what it has read). Default 10000. */
  replyMaxLen?: number;
  /** A reply stream expires this long after its last reply: a crashed client leaks nothing. Default 60000 ms. */
  replyTtlMs?: number;
  /** Upper bound of COUNT of one XREAD/XREADGROUP. Default 256. */
  readBatch?: number;
  /** BLOCK of the blocking reads (bounds how stale the set of read streams can get). Default 1000 ms. */
  blockMs?: number;
  /** Ordering shards per service (keyed requests go to shard hash(key) mod N). Default 16. */
  orderingShards?: number;
  /** Server: on close, how long to wait for in-flight handlers before leaving them to be claimed. Default 10000 ms. */
  shutdownTimeoutMs?: number;
  /** Extra ioredis options (TLS, password, ...). The transport sets reconnection and pipelining itself. */
  redisOptions?: Partial<RedisOptions>;
}

export interface RedisStreamsServerOptions extends StreamsTransportOptions {
  /** The service this replica serves: its consumer group name and request streams. */
  service: string;
  /**
   * What an ordering key buys a keyed request on this service. 'serial' (default): same-key requests reach one
   * replica and run one at a time, in send order. 'affinity': they reach one replica (the shard's lease holder)
   * and start in stream order, but run concurrently — for a handler that decides order itself (the conflict
   * service's commit) and wants a key's requests together on one replica to batch them.
   */
  keyedMode?: KeyedMode;
}

export type KeyedMode = 'serial' | 'affinity';

export interface RedisStreamsClientOptions extends StreamsTransportOptions {
  /** The service this client calls. */
  service: string;
  /** Per-pattern ordering key extractors (or wrap a payload with `ordered(key, data)`). */
  orderingKeys?: OrderingKeys;
}

export type ResolvedStreamsOptions = Required<Omit<StreamsTransportOptions, 'redisOptions'>> & Pick<StreamsTransportOptions, 'redisOptions'>;

export const STREAMS_DEFAULTS = {
  concurrency: 64,
  claimIdleMs: 6_000,
  livenessCheckMs: 200,
  maxDeliveries: 3,
  requestTimeoutMs: 10_000,
  maxLen: 100_000,
  replyMaxLen: 10_000,
  replyTtlMs: 60_000,
  readBatch: 256,
  blockMs: 1_000,
  orderingShards: 16,
  shutdownTimeoutMs: 10_000,
} as const;

export function resolveStreamsOptions(options: StreamsTransportOptions): ResolvedStreamsOptions {
  const resolved = { ...STREAMS_DEFAULTS, ...stripUndefined(options) } as ResolvedStreamsOptions;
  for (const [name, value] of Object.entries(resolved)) {
    if (typeof value === 'number' && !(Number.isFinite(value) && value > 0)) {
      throw new Error(`Transport option ${name} must be a positive number, got ${value}`);
    }
  }
  if (!resolved.prefix || !resolved.nodeId || !resolved.redisUrl) throw new Error('Transport options redisUrl, prefix and nodeId are required');
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
