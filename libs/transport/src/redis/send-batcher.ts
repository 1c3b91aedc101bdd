import type { ScriptedRedis } from './scripts';

/**
 * Client-side batching: every XADD a client issues within one tick goes out as a single script call (one
 * command for Redis and ioredis instead of one per message; each message still its own stream entry).
 * Under load, replies arrive in batches and the callers' next sends follow in the same tick, so batches
 * form by themselves; an idle client's lone request waits only until the end of the current tick.
 */
export class SendBatcher {
  private pending = new Map<string, string[]>();
  /** One promise per batch, shared by every message in it (no allocation per message). */
  private batch?: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void };

  constructor(
    private readonly redis: () => ScriptedRedis | undefined,
    private readonly maxLen: number,
  ) {}

  add(stream: string, payload: string): Promise<void> {
    const list = this.pending.get(stream);
    if (list) list.push(payload);
    else this.pending.set(stream, [payload]);
    if (!this.batch) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.batch = { promise, resolve, reject };
      process.nextTick(() => this.flush());
    }
    return this.batch.promise;
  }

  private flush(): void {
    const streams = this.pending;
    const batch = this.batch!;
    this.pending = new Map();
    this.batch = undefined;
    const redis = this.redis();
    if (!redis) {
      batch.reject(new Error('client closed'));
      return;
    }
    const args: (string | number)[] = [...streams.keys(), this.maxLen];
    for (const payloads of streams.values()) args.push(payloads.length, ...payloads);
    redis.chorusXaddBatch(streams.size, ...args).then(() => batch.resolve(), batch.reject);
  }
}
