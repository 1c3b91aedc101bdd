import { Delivery, type DropReporter, type Fanout, type FanoutCodec, type FanoutListener } from './fanout';

/**
 * In-process twin: one per process (standalone, fast tests). Messages are JSON round-tripped (their bytes, if the
 * codec splits any off, copied beside) and parsed like Redis.
 */
export class MemoryFanout<M> implements Fanout<M> {
  private readonly listeners = new Map<string, Set<FanoutListener<M>>>();
  private readonly delivery: Delivery<M>;

  constructor(
    private readonly codec: FanoutCodec<M>,
    onDropped: DropReporter,
  ) {
    this.delivery = new Delivery(codec, onDropped);
  }

  get dropped(): number {
    return this.delivery.dropped;
  }

  async publish(sessionId: string, message: M): Promise<void> {
    const set = this.listeners.get(sessionId);
    if (!set || set.size === 0) return;
    const parts = this.codec.split?.(message);
    const json = JSON.stringify(parts ? parts.json : message);
    // The bytes are copied as the network would: what the publisher does with its buffer afterwards is its own.
    const binary = parts ? new Uint8Array(parts.binary) : undefined;
    const listeners = [...set];
    // Asynchronous like the network: a publisher never runs listeners inside its own call stack.
    queueMicrotask(() => this.delivery.deliver(sessionId, JSON.parse(json) as unknown, listeners, binary));
  }

  async subscribe(sessionId: string, listener: FanoutListener<M>): Promise<() => Promise<void>> {
    const set = this.listeners.get(sessionId) ?? new Set<FanoutListener<M>>();
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
