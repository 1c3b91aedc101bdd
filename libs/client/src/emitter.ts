/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

/**
 * A small typed event emitter: `E` maps each event name to its payload type, so `on('chat', (m) => …)` is typed
 * from the name alone. Works the same in browsers and Node (no EventEmitter, no DOM EventTarget).
 */
export class TypedEmitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<(payload: never) => void>>();

  /**
   * @param onListenerError where an exception thrown by a listener goes: it never breaks the SDK's own state
   *   machine, and it is never swallowed either (default: `console.error`).
   */
  constructor(private readonly onListenerError: (error: unknown, event: string) => void = defaultListenerError) {}

  /** Calls `listener` on every `event`; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): Unsubscribe {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  /** Calls `listener` on the next `event` only. */
  once<K extends keyof E>(event: K, listener: (payload: E[K]) => void): Unsubscribe {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof E>(event: K, listener: (payload: E[K]) => void): void {
    this.listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  protected emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: E[K]) => void)(payload);
      } catch (err) {
        this.onListenerError(err, String(event));
      }
    }
  }
}

function defaultListenerError(error: unknown, event: string): void {
  // eslint-disable-next-line no-console -- the app's listener failed; the SDK has no logger of its own by default
  console.error(`[chorus] a listener of "${event}" threw`, error);
}
