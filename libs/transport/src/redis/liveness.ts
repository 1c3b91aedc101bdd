import type Redis from 'ioredis';

/**
 * Tells a dead replica from a slow one by its connections to Redis.
 *
 * Every connection of a server is named after its consumer (`<consumer>:read`, `<consumer>:cmd`; ioredis
 * sends the name again on every reconnect). When a process dies — kill -9, OOM kill, crash — the kernel
 * closes its sockets at once and Redis drops those clients within a round trip. A process that is merely
 * paused (GC, SIGSTOP, a blocked event loop) keeps its sockets open: Redis still lists its clients. So
 * "no client named after the consumer" means dead, whatever the idle time of its messages says.
 *
 * One observation is not trusted: a connection that drops and reconnects (a network blip, a Redis
 * failover) is absent for a moment. A consumer is reported dead only when it was absent in `confirmations`
 * consecutive checks (with checks every 200 ms: absent for 200–400 ms).
 */
export class PeerLiveness {
  /** Consumers absent at the last check, with how many checks in a row they were absent. */
  private readonly absent = new Map<string, number>();
  /** CLIENT LIST calls made (the cost of the check, for tests and metrics). */
  listCalls = 0;

  constructor(
    private readonly redis: Redis,
    private readonly confirmations = 2,
  ) {}

  /** Which of `consumers` are dead (absent in `confirmations` checks in a row). Lists clients only if asked about someone. */
  async dead(consumers: Set<string>): Promise<string[]> {
    for (const name of this.absent.keys()) if (!consumers.has(name)) this.absent.delete(name);
    if (consumers.size === 0) return [];
    const alive = await this.connectedConsumers();
    const dead: string[] = [];
    for (const consumer of consumers) {
      if (alive.has(consumer)) {
        this.absent.delete(consumer);
        continue;
      }
      const times = (this.absent.get(consumer) ?? 0) + 1;
      this.absent.set(consumer, times);
      if (times >= this.confirmations) dead.push(consumer);
    }
    return dead;
  }

  /** Forget a consumer once its work was taken over (a later check starts counting again). */
  forget(consumer: string): void {
    this.absent.delete(consumer);
  }

  /** Consumer names of the normal clients connected now (a name `<consumer>:<role>` counts for `<consumer>`). */
  private async connectedConsumers(): Promise<Set<string>> {
    this.listCalls++;
    const list = (await this.redis.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
    const names = new Set<string>();
    for (const line of list.split('\n')) {
      const match = / name=(\S+)/.exec(line);
      if (!match) continue;
      const cut = match[1].lastIndexOf(':');
      if (cut > 0) names.add(match[1].slice(0, cut));
    }
    return names;
  }
}
