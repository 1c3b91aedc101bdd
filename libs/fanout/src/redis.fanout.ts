import Redis from 'ioredis';
import type { Fanout, FanoutListener, FanoutMessage } from './fanout';
import { safeCall } from './memory.fanout';

/**
 * Redis pub/sub fan-out: one channel per session (`<prefix>:fanout:<session>`), so a node receives only the
 * sessions it has members in. One publishing and one subscribing connection per process; ioredis re-subscribes
 * every channel after a reconnect (messages published meanwhile are lost — see the contract).
 */
export class RedisFanout implements Fanout {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly listeners = new Map<string, Set<FanoutListener>>();

  constructor(url: string, private readonly prefix: string, name: string) {
    this.pub = new Redis(url, { connectionName: `${name}:fanout-pub`, maxRetriesPerRequest: 2 });
    this.sub = new Redis(url, { connectionName: `${name}:fanout-sub`, autoResubscribe: true });
    // Connection errors surface through readiness checks and reconnects; they must not crash the process.
    this.pub.on('error', () => undefined);
    this.sub.on('error', () => undefined);
    this.sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      const set = this.listeners.get(channel.toString());
      if (!set || set.size === 0) return;
      let message: FanoutMessage;
      try {
        message = JSON.parse(payload.toString('utf8')) as FanoutMessage;
      } catch {
        return; // not ours: every channel is prefixed, but never trust the wire
      }
      for (const listener of [...set]) safeCall(listener, message);
    });
  }

  private channel(sessionId: string): string {
    return `${this.prefix}:fanout:${sessionId}`;
  }

  async publish(sessionId: string, message: FanoutMessage): Promise<void> {
    await this.pub.publish(this.channel(sessionId), JSON.stringify(message));
  }

  async subscribe(sessionId: string, listener: FanoutListener): Promise<() => Promise<void>> {
    const channel = this.channel(sessionId);
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await this.sub.subscribe(channel);
    }
    set.add(listener);
    return async () => {
      const current = this.listeners.get(channel);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) {
        this.listeners.delete(channel);
        await this.sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.sub.disconnect();
    await this.pub.quit().catch(() => this.pub.disconnect());
  }
}
