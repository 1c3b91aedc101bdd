import Redis from 'ioredis';
import type { TransportStatus } from '../base.server';
import type { ResolvedStreamsOptions } from '../options';
import { defineScripts, type ScriptedRedis } from './scripts';

/**
 * One ioredis connection configured for the transport:
 * - it never gives up reconnecting (a Redis restart must not end the process or the read loops);
 * - commands issued while disconnected wait in the offline queue (`maxRetriesPerRequest: null`): callers
 *   are bounded by their own deadlines, and read loops simply resume;
 * - `autoPipelining` batches every command issued in one tick into one write (the throughput lever).
 */
export function createConnection(options: ResolvedStreamsOptions, name: string, autoPipelining: boolean): ScriptedRedis {
  const redis = new Redis(options.redisUrl, {
    ...options.redisOptions,
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: null,
    enableAutoPipelining: autoPipelining,
    retryStrategy: (times) => Math.min(50 * times, 1_000),
  });
  return defineScripts(redis);
}

/**
 * Folds the states of several connections into one transport status: `connected` when all are ready,
 * `reconnecting` while any is retrying, `disconnected` once closed on purpose.
 */
export class ConnectionStatus {
  private readonly ready = new Set<Redis>();

  constructor(
    private readonly connections: Redis[],
    private readonly onChange: (status: TransportStatus) => void,
    onReady: (connection: Redis) => void = () => undefined,
  ) {
    for (const c of connections) {
      c.on('ready', () => {
        this.ready.add(c);
        this.publish();
        onReady(c);
      });
      c.on('close', () => {
        this.ready.delete(c);
        this.publish();
      });
      // ioredis emits 'error' on every failed attempt; without a listener Node would crash the process.
      c.on('error', () => undefined);
    }
  }

  private closed = false;

  markClosed(): void {
    this.closed = true;
    this.onChange('disconnected');
  }

  private publish(): void {
    if (this.closed) return;
    this.onChange(this.ready.size === this.connections.length ? 'connected' : 'reconnecting');
  }
}

/** Resolves once `redis` is ready; rejects after `timeoutMs` (the connection keeps retrying). */
export function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
    if (redis.status === 'wait') redis.connect().catch(() => undefined);
  });
}

/** Redis error replies we react to (others are logged and retried with back-off). */
export function isNoGroupError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOGROUP');
}
