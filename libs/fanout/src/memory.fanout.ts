import type { Fanout, FanoutListener, FanoutMessage } from './fanout';

/** In-process twin: one per process (standalone, fast tests). Messages are JSON round-tripped like Redis. */
export class MemoryFanout implements Fanout {
  private readonly listeners = new Map<string, Set<FanoutListener>>();

  async publish(sessionId: string, message: FanoutMessage): Promise<void> {
    const copy = JSON.parse(JSON.stringify(message)) as FanoutMessage;
    for (const listener of [...(this.listeners.get(sessionId) ?? [])]) {
      // Asynchronous like the network: a publisher never runs listeners inside its own call stack.
      queueMicrotask(() => safeCall(listener, copy));
    }
  }

  async subscribe(sessionId: string, listener: FanoutListener): Promise<() => Promise<void>> {
    const set = this.listeners.get(sessionId) ?? new Set<FanoutListener>();
    set.add(listener);
    this.listeners.set(sessionId, set);
    return async () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(sessionId);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

export function safeCall(listener: FanoutListener, message: FanoutMessage): void {
  try {
    listener(message);
  } catch {
    // A listener's bug must not break delivery to the others (the contract says listeners do not throw).
  }
}
