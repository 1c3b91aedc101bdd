/** Schedules callbacks; injected so tests drive time by hand. */
export interface TimerScheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: TimerScheduler = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface CoalescerOptions {
  /**
   * Minimum time between two emissions of one key. Default 50 ms: at most 20 `presence_update`s per second
   * per peer, so 200 peers dragging cursors cost a session at most 4,000 messages/s instead of one per
   * mouse event, while a cursor still moves smoothly (human perception of "live" is ~100 ms).
   */
  minIntervalMs?: number;
  timers?: TimerScheduler;
}

export const DEFAULT_COALESCE_INTERVAL_MS = 50;

interface KeyState<V> {
  pending: { value: V } | null;
  timer: unknown;
}

/**
 * A per-key rate limiter for broadcasts (pure: no I/O; the timer scheduler is injected, and time is whatever
 * that scheduler says: tests drive it by hand).
 *
 * `offer(key, value)`: a key that has not emitted within the last interval emits at once (leading edge);
 * otherwise the value replaces any pending one and is emitted when the interval since the last emission
 * ends (trailing edge, latest value only). Invariants:
 *   - at most one emission per key per `minIntervalMs` (flush() excepted: it emits on demand);
 *   - the last value offered for a key is always emitted, unless `cancel(key)` or `close()` drops it;
 *   - memory: a key is forgotten one quiet interval after its last emission.
 * `emit` must not throw (it runs from timers); the state is updated before `emit` is called.
 */
export class Coalescer<K, V> {
  private readonly minIntervalMs: number;
  private readonly timers: TimerScheduler;
  private readonly keys = new Map<K, KeyState<V>>();
  private closed = false;

  constructor(
    private readonly emit: (key: K, value: V) => void,
    options: CoalescerOptions = {},
  ) {
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_COALESCE_INTERVAL_MS;
    this.timers = options.timers ?? systemTimers;
    if (!(this.minIntervalMs >= 0)) throw new RangeError(`minIntervalMs must be >= 0 (got ${this.minIntervalMs})`);
  }

  offer(key: K, value: V): void {
    if (this.closed) return;
    const state = this.keys.get(key);
    if (state) {
      state.pending = { value };
      return;
    }
    // Every emission arms a timer one interval later: it emits the pending value, or forgets the key.
    this.keys.set(key, { pending: null, timer: this.arm(key) });
    this.emit(key, value);
  }

  /** Emits every pending value now (e.g. before shutdown), ignoring the interval. */
  flush(): void {
    for (const [key, state] of [...this.keys]) {
      if (!state.pending) continue;
      const { value } = state.pending;
      state.pending = null;
      this.timers.clearTimeout(state.timer);
      state.timer = this.arm(key);
      this.emit(key, value);
    }
  }

  /**
   * Forgets a key and drops its pending value (e.g. the peer left: no presence_update may follow its
   * removal). A later offer for the key emits at once.
   */
  cancel(key: K): void {
    const state = this.keys.get(key);
    if (!state) return;
    this.timers.clearTimeout(state.timer);
    this.keys.delete(key);
  }

  /** Stops for good: cancels every timer and drops pending values (call flush() first to send them). */
  close(): void {
    this.closed = true;
    for (const key of [...this.keys.keys()]) this.cancel(key);
  }

  /** Keys currently tracked (emitted within the last interval or pending). */
  get size(): number {
    return this.keys.size;
  }

  private arm(key: K): unknown {
    return this.timers.setTimeout(() => this.onTimer(key), this.minIntervalMs);
  }

  private onTimer(key: K): void {
    const state = this.keys.get(key);
    if (!state) return;
    if (!state.pending) {
      this.keys.delete(key);
      return;
    }
    const { value } = state.pending;
    state.pending = null;
    state.timer = this.arm(key);
    this.emit(key, value);
  }
}
