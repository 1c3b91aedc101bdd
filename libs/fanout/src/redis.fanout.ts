import Redis from 'ioredis';
import { Delivery, decodePayload, encodeWithBinary, type DropReporter, type Fanout, type FanoutCodec, type FanoutListener } from './fanout';

/**
 * Redis pub/sub fan-out: one channel per session (`<prefix>:fanout:<session>`), so a node receives only the
 * sessions it has members in. One publishing and one subscribing connection per process; ioredis re-subscribes
 * every channel after a reconnect (messages published meanwhile are lost — see the contract). A message with
 * bytes (`FanoutCodec.split`) is published as one binary payload (`encodeWithBinary`), all others as JSON text.
 */
export class RedisFanout<M> implements Fanout<M> {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly listeners = new Map<string, Set<FanoutListener<M>>>();
  /** SUBSCRIBEs in flight: a second subscriber of the channel waits for the same confirmation. */
  private readonly subscribing = new Map<string, Promise<unknown>>();
  /** Subscribed for the connection's lifetime, so it never drops out of subscriber mode between sessions. */
  private readonly anchor: Promise<unknown>;
  private readonly delivery: Delivery<M>;

  constructor(
    url: string,
    private readonly prefix: string,
    name: string,
    private readonly codec: FanoutCodec<M>,
    onDropped: DropReporter,
  ) {
    this.delivery = new Delivery(codec, onDropped);
    this.pub = new Redis(url, { connectionName: `${name}:fanout-pub`, maxRetriesPerRequest: 2 });
    this.sub = new Redis(url, { connectionName: `${name}:fanout-sub`, autoResubscribe: true });
    // Connection errors surface through readiness checks and reconnects; they must not crash the process.
    this.pub.on('error', () => undefined);
    this.sub.on('error', () => undefined);
    this.sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      const name = channel.toString();
      const set = this.listeners.get(name);
      if (!set || set.size === 0) return;
      const sessionId = name.slice(this.prefix.length + ':fanout:'.length);
      const decoded = decodePayload(payload);
      if (!decoded.ok) return this.delivery.drop(decoded.reason, sessionId);
      let raw: unknown;
      try {
        raw = JSON.parse(decoded.json);
      } catch {
        this.delivery.drop('not JSON', sessionId); // every channel is prefixed, but never trust the wire
        return;
      }
      this.delivery.deliver(sessionId, raw, [...set], decoded.binary);
    });
    // When the last channel is unsubscribed, ioredis leaves subscriber mode; a SUBSCRIBE racing that transition
    // (a session's last member leaving while another joins) can then lose the new channel's messages. A
    // channel nobody publishes to keeps the connection in subscriber mode for good.
    this.anchor = this.sub.subscribe(`${prefix}:fanout:~anchor`).catch(() => undefined);
  }

  get dropped(): number {
    return this.delivery.dropped;
  }

  private channel(sessionId: string): string {
    return `${this.prefix}:fanout:${sessionId}`;
  }

  async publish(sessionId: string, message: M): Promise<void> {
    const parts = this.codec.split?.(message);
    await this.pub.publish(this.channel(sessionId), parts ? encodeWithBinary(JSON.stringify(parts.json), parts.binary) : JSON.stringify(message));
  }

  async subscribe(sessionId: string, listener: FanoutListener<M>): Promise<() => Promise<void>> {
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
