/**
 * Per-key FIFO: tasks with the same key run one at a time, in the order they were added; tasks with
 * different keys run concurrently. Used by both servers for keyed messages (ordering per key).
 * Tasks must not reject (the servers' handler wrapper never does); a rejection is swallowed so that one
 * failure cannot wedge its key.
 */
export class KeyQueue {
  private readonly queues = new Map<string, Array<() => Promise<void>>>();

  run(key: string, task: () => Promise<void>): void {
    const waiting = this.queues.get(key);
    if (waiting) {
      waiting.push(task);
      return;
    }
    this.queues.set(key, []);
    void this.drain(key, task);
  }

  /** Keys with a running task. */
  get activeKeys(): number {
    return this.queues.size;
  }

  private async drain(key: string, first: () => Promise<void>): Promise<void> {
    let task: (() => Promise<void>) | undefined = first;
    while (task) {
      await task().catch(() => undefined);
      task = this.queues.get(key)?.shift();
    }
    this.queues.delete(key);
  }
}
