import type Redis from 'ioredis';

/** One stream entry as Redis returns it: id and flat field/value list. */
export type StreamEntry = [id: string, fields: string[]];

/** The value of field `name` of an entry (the transport writes a single field `m`). */
export function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Parses an XREAD/XREADGROUP reply: null (timeout) or [[stream, entries], ...]. */
export function parseRead(reply: unknown): Array<[stream: string, entries: StreamEntry[]]> {
  return Array.isArray(reply) ? (reply as Array<[string, StreamEntry[]]>) : [];
}

/**
 * Creates the group at id 0 with MKSTREAM: a service started after messages were written still gets them
 * (`$` would silently skip everything sent while it was down). BUSYGROUP means it exists: fine.
 */
export async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('BUSYGROUP')) throw error;
  }
}

/** Delivery counts (after the claim) of entries just claimed, from the pending entries list. */
export async function deliveryCounts(redis: Redis, stream: string, group: string, ids: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const rows = await Promise.all(ids.map((id) => redis.call('XPENDING', stream, group, id, id, 1) as Promise<Array<[string, string, number, number]>>));
  for (const row of rows) if (row[0]) counts.set(row[0][0], Number(row[0][3]));
  return counts;
}

/**
 * XAUTOCLAIM: takes up to `count` entries of `stream` idle for at least `minIdleMs`, starting at `cursor`.
 * Entries trimmed away meanwhile come back as deleted ids and leave the pending list by themselves.
 */
export async function autoClaim(
  redis: Redis,
  stream: string,
  group: string,
  consumer: string,
  minIdleMs: number,
  cursor: string,
  count: number,
): Promise<{ next: string; entries: StreamEntry[] }> {
  const reply = (await redis.call('XAUTOCLAIM', stream, group, consumer, minIdleMs, cursor, 'COUNT', count)) as [string, Array<StreamEntry | null>];
  return { next: reply[0], entries: reply[1].filter((e): e is StreamEntry => Array.isArray(e)) };
}

/** Waits for `promise` to settle, but not past `deadline` (epoch ms); never rejects. */
export async function settleBy(promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
  ]);
  clearTimeout(timer);
}

/** Runs `task` every `intervalMs`, never overlapping itself, never dying of an error. */
export class Ticker {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.task()
        .catch(this.onError)
        .finally(() => this.schedule());
    }, this.intervalMs);
  }
}

/** A sleep that `wake()` cuts short: read-loop back-off must not delay shutdown. */
export class Backoff {
  private failures = 0;
  private wakeUp?: () => void;

  reset(): void {
    this.failures = 0;
  }

  async wait(): Promise<void> {
    this.failures++;
    const ms = Math.min(50 * 2 ** Math.min(this.failures, 6), 2_000);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }

  wake(): void {
    this.wakeUp?.();
  }
}
