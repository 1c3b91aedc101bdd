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
  /** SUBSCRIBEs in flight: a second subscriber of the channel waits for the same confirmation. */
  private readonly subscribing = new Map<string, Promise<unknown>>();
  /** Subscribed for the connection's lifetime, so it never drops out of subscriber mode between sessions. */
  private readonly anchor: Promise<unknown>;

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
    // When the last channel is unsubscribed, ioredis leaves subscriber mode; a SUBSCRIBE racing that transition
    // (a session's last member leaving while another joins) can then lose the new channel's messages. A
    // channel nobody publishes to keeps the connection in subscriber mode for good.
    this.anchor = this.sub.subscribe(`${prefix}:fanout:~anchor`).catch(() => undefined);
  }

  private channel(sessionId: string): string {
    return `${this.prefix}:fanout:${sessionId}`;
  }

  async publish(sessionId: string, message: FanoutMessage): Promise<void> {
    await this.pub.publish(this.channel(sessionId), JSON.stringify(message));
  }

  async subscribe(sessionId: string, listener: FanoutListener): Promise<() => Promise<void>> {
    await this.anchor;
    const channel = this.channel(sessionId);
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      const confirmed = this.sub.subscribe(channel);
      this.subscribing.set(channel, confirmed);
      try {
        await confirmed;
      } finally {
        if (this.subscribing.get(channel) === confirmed) this.subscribing.delete(channel);
      }
    } else {
      // The channel's SUBSCRIBE may still be in flight: delivery is active only once it is confirmed.
      await this.subscribing.get(channel);
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
