import type { ScriptedRedis } from './scripts';

/**
 * Client-side batching: every XADD a client issues within one tick goes out as a single script call (one
 * command for Redis and ioredis instead of one per message; each message still its own stream entry).
 * Under load, replies arrive in batches and the callers' next sends follow in the same tick, so batches
 * form by themselves; an idle client's lone request waits only until the end of the current tick.
 */
export class SendBatcher {
  private pending = new Map<string, string[]>();
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private scheduled = false;

  constructor(
    private readonly redis: () => ScriptedRedis | undefined,
    private readonly maxLen: number,
  ) {}

  add(stream: string, payload: string): Promise<void> {
    const list = this.pending.get(stream);
    if (list) list.push(payload);
    else this.pending.set(stream, [payload]);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.flush());
    }
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private flush(): void {
    const batch = this.pending;
    const waiters = this.waiters;
    this.pending = new Map();
    this.waiters = [];
    this.scheduled = false;
    const redis = this.redis();
    if (!redis) {
      for (const w of waiters) w.reject(new Error('client closed'));
      return;
    }
    const args: (string | number)[] = [...batch.keys(), this.maxLen];
    for (const payloads of batch.values()) args.push(payloads.length, ...payloads);
    redis.chorusXaddBatch(batch.size, ...args).then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (error: Error) => {
        for (const w of waiters) w.reject(error);
      },
    );
  }
}
