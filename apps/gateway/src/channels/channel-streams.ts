import type { LoggerService } from '@nestjs/common';
import type { OutboundPush } from '@chorus/contracts';
import type { ChannelEventMessage } from '@chorus/protocol';
import type { LocalHub } from '../fanout/local-hub';
import { rooms } from '../socket/connection';
import type { ChannelEntry, ChannelHistory } from './channel-history';

/** A local connection subscribing to a channel: the hub writes to it by id, the relay moves it in and out of the room. */
export interface ChannelSubscriber {
  readonly id: string;
  join(room: string): void | Promise<void>;
  leave(room: string): void | Promise<void>;
}

export interface SubscribeResult {
  readonly seq: number;
  readonly recovered: boolean;
  readonly replayed: number;
}

/** Counts what the relays do (metrics): gaps filled from the history, and failures (logged too). */
export interface ChannelCounters {
  gapRead(): void;
  failed(): void;
}

interface Relay {
  readonly sessionId: string;
  readonly channel: string;
  /** The last seq written to the room; -1 until the first subscribe read the history. */
  head: number;
  readonly members: Map<string, ChannelSubscriber>;
  /** Subscribes, live events, gap reads and unsubscribes run one at a time, in this chain. */
  chain: Promise<void>;
  /** Subscribes queued but not run yet: the relay is kept while > 0. */
  pending: number;
  /** Events that arrived ahead of head + 1 (another gateway's publisher overtook), waiting for the missing ones. */
  readonly early: Map<number, ChannelEntry>;
  /** Set while early events wait: when it fires, what is still missing is read from the history. */
  gapTimer: NodeJS.Timeout | undefined;
}

/** Early events kept per relay before the gap is read at once rather than waited for. */
const MAX_EARLY = 1_000;

export function channelEvent(sessionId: string, channel: string, e: ChannelEntry): ChannelEventMessage {
  return { type: 'event', session_id: sessionId, channel, data: e.data, timestamp: e.timestamp, seq: e.seq, publisher: e.publisher };
}

/**
 * Delivers each channel's events to this node's subscribers in seq order, each exactly once, whatever the
 * fan-out does (as SessionStreams does for durable session events): an event at or below the relay's head is a
 * duplicate and dropped; one beyond head + 1 waits briefly for the events before it (another gateway's publisher
 * overtook), and what is still missing then — lost by the fan-out — is read back from the channel history. A subscribe with `since` reads the history and writes the missed events to the
 * subscriber inside the same chain, then puts it in the channel's room — so a live event racing the replay is
 * queued behind it, and either the replay or the room carries it, never both, never neither. Live events are
 * written to the room by the hub (encoded once for every local subscriber); the hub is still the only writer.
 */
export class ChannelStreams {
  private readonly relays = new Map<string, Relay>();

  constructor(
    private readonly history: ChannelHistory,
    private readonly hub: LocalHub,
    private readonly nodeId: string,
    private readonly counters: ChannelCounters,
    private readonly logger: LoggerService,
    /** CHANNEL_HISTORY_SIZE: how many of the latest events a lagging relay can still deliver after a skip. */
    private readonly retainedEvents = 100,
    /**
     * How long an event that arrived ahead of its predecessors waits for them on the fan-out before they are
     * read from the history. Publishers on different gateways overtake each other all the time (each one's
     * order is kept, not theirs together): a short wait fills such a gap without a read, and only a lost
     * message costs one.
     */
    private readonly gapWaitMs = 50,
  ) {}

  /**
   * Subscribes (idempotent: an existing subscription is kept, nothing replayed). `since`: replays the events
   * after it, or answers `recovered: false` when the history no longer has them all (or is behind `since`).
   */
  subscribe(sessionId: string, channel: string, subscriber: ChannelSubscriber, since: number | undefined): Promise<SubscribeResult> {
    const relay = this.relay(sessionId, channel);
    relay.pending++;
    const run = this.enqueue(relay, async () => {
      relay.pending--;
      if (relay.members.has(subscriber.id)) return { seq: relay.head, recovered: true, replayed: 0 };
      let replay: ChannelEntry[] = [];
      let recovered = true;
      if (relay.head < 0) {
        const read = await this.history.read(sessionId, channel, since);
        relay.head = read.head;
        replay = read.events;
        recovered = read.recovered;
      } else {
        // Bring the room up to the history's head first (events the fan-out has not brought yet), so none of
        // them can reach the newcomer twice: once replayed, once through the room.
        await this.catchUpRoom(relay);
        this.flushEarly(relay);
        if (since !== undefined && since !== relay.head) {
          const read = await this.history.read(sessionId, channel, since);
          for (const e of read.events) if (e.seq > relay.head) this.writeToRoom(relay, e);
          replay = read.recovered ? read.events.filter((e) => e.seq <= relay.head) : [];
          recovered = read.recovered && read.head >= relay.head;
        }
      }
      for (const e of replay) this.hub.toSockets([subscriber.id], channelEvent(sessionId, channel, e));
      await subscriber.join(rooms.channel(sessionId, channel));
      relay.members.set(subscriber.id, subscriber);
      return { seq: relay.head, recovered, replayed: replay.length };
    });
    return run.finally(() => this.dropIfIdle(relay));
  }

  /** Unsubscribes (idempotent). */
  async unsubscribe(sessionId: string, channel: string, subscriberId: string): Promise<void> {
    const relay = this.relays.get(key(sessionId, channel));
    if (!relay) return;
    await this.enqueue(relay, async () => {
      const subscriber = relay.members.get(subscriberId);
      if (!subscriber) return;
      relay.members.delete(subscriberId);
      await subscriber.leave(rooms.channel(sessionId, channel));
    });
    this.dropIfIdle(relay);
  }

  /** Ends every subscription of a subscriber in a session (it left or disconnected). */
  async leaveSession(sessionId: string, subscriberId: string): Promise<void> {
    const mine = [...this.relays.values()].filter((r) => r.sessionId === sessionId && r.members.has(subscriberId));
    await Promise.all(mine.map((r) => this.unsubscribe(sessionId, r.channel, subscriberId)));
  }

  /** The channels a subscriber is in, in a session (for tests and `leave`). */
  channelsOf(sessionId: string, subscriberId: string): string[] {
    return [...this.relays.values()].filter((r) => r.sessionId === sessionId && r.members.has(subscriberId)).map((r) => r.channel);
  }

  /** A channel event that arrived on the fan-out (the session's one road). */
  receive(sessionId: string, push: OutboundPush): void {
    const message = push.message;
    if (message.type !== 'event' || push.audience.to !== 'channel') return;
    const relay = this.relays.get(key(sessionId, message.channel));
    // No subscriber of the channel on this node: nothing to write, nothing to keep.
    if (!relay) return;
    const entry: ChannelEntry = { seq: message.seq, timestamp: message.timestamp, publisher: message.publisher, data: message.data };
    void this.enqueue(relay, async () => {
      if (relay.head < 0 || entry.seq <= relay.head) return;
      if (entry.seq === relay.head + 1) {
        this.writeToRoom(relay, entry);
        this.flushEarly(relay);
        return;
      }
      relay.early.set(entry.seq, entry);
      if (relay.early.size > MAX_EARLY) await this.fillGap(relay);
      else relay.gapTimer ??= setTimeout(() => void this.enqueue(relay, () => this.fillGap(relay)).catch((err: unknown) => this.fail(relay, 'gap read', err)), this.gapWaitMs);
    }).catch((err: unknown) => this.fail(relay, `delivery of #${entry.seq}`, err));
  }

  /** Reads what the fan-out has not brought after the head from the history (inside the chain). */
  private async fillGap(relay: Relay): Promise<void> {
    clearTimeout(relay.gapTimer);
    relay.gapTimer = undefined;
    if (relay.early.size === 0) return;
    this.counters.gapRead();
    await this.catchUpRoom(relay);
    this.flushEarly(relay);
  }

  /** Writes the early events that are next now; drops those the head passed; keeps waiting for the rest. */
  private flushEarly(relay: Relay): void {
    for (const seq of relay.early.keys()) if (seq <= relay.head) relay.early.delete(seq);
    for (let next = relay.early.get(relay.head + 1); next !== undefined; next = relay.early.get(relay.head + 1)) {
      relay.early.delete(next.seq);
      this.writeToRoom(relay, next);
    }
    if (relay.early.size === 0) {
      clearTimeout(relay.gapTimer);
      relay.gapTimer = undefined;
    } else {
      relay.gapTimer ??= setTimeout(() => void this.enqueue(relay, () => this.fillGap(relay)).catch((err: unknown) => this.fail(relay, 'gap read', err)), this.gapWaitMs);
    }
  }

  /**
   * Position check: the fan-out is at-most-once, and a lost event is otherwise only noticed when a later one
   * arrives — the last event of a quiet channel would wait for the next. Called every few seconds; one history
   * read per channel with subscribers on this node.
   */
  async checkPositions(): Promise<void> {
    await Promise.all(
      [...this.relays.values()].map((relay) =>
        this.enqueue(relay, async () => {
          if (relay.head < 0 || relay.members.size === 0) return;
          await this.catchUpRoom(relay);
          this.flushEarly(relay);
        }).catch((err: unknown) => this.fail(relay, 'position check', err)),
      ),
    );
  }

  get size(): number {
    return this.relays.size;
  }

  /** Writes to the room what the history has after the relay's head (inside the chain). */
  private async catchUpRoom(relay: Relay): Promise<void> {
    let read = await this.history.read(relay.sessionId, relay.channel, relay.head);
    if (!read.recovered) {
      // This relay fell further behind than the history keeps (the gateway was overloaded or cut off): the room's
      // subscribers miss the events no longer kept — they see a seq gap (docs/protocol.md: resubscribe with
      // `since`, which answers `recovered: false`) — but still get the retained latest ones, in order. Logged and
      // counted, never silent here.
      const from = Math.max(relay.head, read.head - this.retainedEvents);
      this.counters.failed();
      this.logger.warn(`Channel ${relay.channel} of session ${relay.sessionId}: events after #${relay.head} are no longer retained; subscribers here skip to #${from}`, 'ChannelStreams');
      relay.head = from;
      read = await this.history.read(relay.sessionId, relay.channel, from);
      if (!read.recovered) relay.head = read.head;
    }
    for (const e of read.events) this.writeToRoom(relay, e);
  }

  private writeToRoom(relay: Relay, e: ChannelEntry): void {
    if (e.seq <= relay.head && relay.head >= 0) return;
    relay.head = e.seq;
    if (relay.members.size === 0) return;
    this.hub.push(relay.sessionId, { kind: 'push', message: channelEvent(relay.sessionId, relay.channel, e), audience: { to: 'channel', channel: relay.channel }, origin_node: this.nodeId });
  }

  private relay(sessionId: string, channel: string): Relay {
    const k = key(sessionId, channel);
    let relay = this.relays.get(k);
    if (!relay) {
      relay = { sessionId, channel, head: -1, members: new Map(), chain: Promise.resolve(), pending: 0, early: new Map(), gapTimer: undefined };
      this.relays.set(k, relay);
    }
    return relay;
  }

  private dropIfIdle(relay: Relay): void {
    const k = key(relay.sessionId, relay.channel);
    if (relay.members.size === 0 && relay.pending === 0 && this.relays.get(k) === relay) {
      this.relays.delete(k);
      clearTimeout(relay.gapTimer);
    }
  }

  private fail(relay: Relay, what: string, err: unknown): void {
    this.counters.failed();
    this.logger.warn(`Channel ${relay.channel} of session ${relay.sessionId}: ${what} failed: ${(err as Error).message}`, 'ChannelStreams');
  }

  private enqueue<T>(relay: Relay, work: () => Promise<T>): Promise<T> {
    const run = relay.chain.then(work);
    relay.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

function key(sessionId: string, channel: string): string {
  return `${sessionId}\n${channel}`;
}

/** The hub as the session streams see it: channel events go through their relay (order, dedupe, gaps) first. */
export function routeChannelPushes(hub: LocalHub, channels: ChannelStreams): LocalHub {
  return {
    toSockets: (socketIds, message) => hub.toSockets(socketIds, message),
    push: (sessionId, push) => (push.audience.to === 'channel' ? channels.receive(sessionId, push) : hub.push(sessionId, push)),
  };
}
