/** Anything that tells time in epoch ms (structurally the Clock of the domain libs). */
export interface Clock {
  now(): number;
}

/** A clock tests move by hand: time-based logic (leases, idle, typing, coalescing) is tested without sleeping. */
export class ManualClock implements Clock {
  constructor(private current = 1_700_000_000_000) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): number {
    this.current += ms;
    return this.current;
  }
}

/**
 * A TimerScheduler driven by a ManualClock: `advance(ms)` runs every timer that falls due, in due order,
 * with the clock set to each timer's due time (timers scheduled by callbacks run too if they fall due).
 */
export class ManualTimers {
  private queue: { due: number; seq: number; callback: () => void }[] = [];
  private seq = 0;

  constructor(readonly clock: ManualClock) {}

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { due: this.clock.now() + Math.max(0, ms), seq: this.seq++, callback };
    this.queue.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((t) => t !== handle);
  }

  get pending(): number {
    return this.queue.length;
  }

  advance(ms: number): void {
    const target = this.clock.now() + ms;
    for (;;) {
      const next = this.queue.filter((t) => t.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.queue = this.queue.filter((t) => t !== next);
      this.clock.advance(next.due - this.clock.now());
      next.callback();
    }
    this.clock.advance(target - this.clock.now());
  }
}
