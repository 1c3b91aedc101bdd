import { ChorusError, type BuiltInChannel, type ClientPayload, type ReplyOf, type ChannelDataOf, type ChannelEventMessage, type Publisher } from '@chorus/protocol';
import { backoffDelay } from './backoff';
import type { ChorusClient } from './client';
import { TypedEmitter, type Unsubscribe } from './emitter';
import { ClientClosedError } from './errors';
import { randomId } from './random-id';

/** The `data` of a channel: typed for the built-in channels, `unknown` JSON for custom `x-<name>` channels. */
export type ChannelData<C extends string> = C extends BuiltInChannel ? ChannelDataOf<C> : unknown;

/** One event of a channel, delivered once, in the channel's `seq` order. */
export interface ChannelEvent<C extends string = string> {
  channel: C;
  /** The channel's position of this event (1, 2, 3, … per session and channel). */
  seq: number;
  data: ChannelData<C>;
  /** When the server stored it (epoch ms). */
  timestamp: number;
  /** Who published it. */
  publisher: Publisher;
}

/**
 * Events the SDK could not deliver: after a reconnect the channel's history no longer held all of them
 * (`recovered: false`). Whatever the channel describes must be reloaded (re-run the linter, re-read the files).
 */
export interface ChannelGap {
  channel: string;
  /** The last seq delivered before the gap. */
  afterSeq: number;
  /** The channel's position when it was resubscribed: events up to it were missed (some of them may not exist anymore). */
  seq: number;
}

/** Events of one {@link ChannelSubscription}. */
export interface ChannelSubscriptionEvents<C extends string> {
  /** Every event, once, in seq order — also those replayed after a reconnect. */
  event: ChannelEvent<C>;
  /** Events were lost beyond the channel's retention (`recovered: false`): reload what the channel describes. */
  gap: ChannelGap;
  /** (Re)subscribed: after `subscribe()`, and again after every reconnect (`resumed: true`). */
  subscribed: { seq: number; recovered: boolean; replayed: number; resumed: boolean };
}

/** Events of {@link SessionChannels}: every subscription's events, for an app that shows all channels in one place. */
export interface SessionChannelsEvents {
  event: ChannelEvent;
  gap: ChannelGap;
}

/**
 * One channel this client subscribed to in a session. It stays subscribed across reconnects: after every rejoin
 * the SDK subscribes again with `since` = the last delivered seq, so the events missed meanwhile arrive first, in
 * order, none twice (or a `gap` when the history no longer has them).
 */
export class ChannelSubscription<C extends string = string> extends TypedEmitter<ChannelSubscriptionEvents<C>> {
  /** @internal Whether the subscription should exist (false after `unsubscribe()`). */
  wanted = true;
  /** @internal The server has this subscription on the current connection. */
  live = false;
  private last = 0;
  private positioned: boolean;
  /** Events that arrived while a subscribe was under way (the replay, live events racing it), delivered after it. */
  private held: ChannelEventMessage[] | null = null;

  constructor(
    private readonly owner: SessionChannels,
    /** The channel name. */
    readonly channel: C,
    since: number | undefined,
  ) {
    super();
    this.positioned = since !== undefined;
    this.last = since ?? 0;
  }

  /** The highest seq delivered (what a resubscribe sends as `since`); 0 before the first. */
  get lastSeq(): number {
    return this.last;
  }

  /** Stops receiving this channel (idempotent). */
  unsubscribe(): Promise<void> {
    return this.owner.unsubscribe(this.channel);
  }

  /** @internal Subscribes on the current connection: with `since` when a position is known. */
  async run(resumed: boolean): Promise<void> {
    this.held = [];
    try {
      const reply = await this.owner.request('subscribe', this.positioned ? { channel: this.channel, since: this.last } : { channel: this.channel });
      const afterSeq = this.last;
      const held = this.held;
      this.held = null;
      this.live = true;
      if (!reply.recovered && this.positioned && reply.seq > afterSeq) {
        // Beyond retention: nothing was replayed; skip to the channel's position and say so.
        this.last = reply.seq;
        const gap = { channel: this.channel, afterSeq, seq: reply.seq };
        this.emit('gap', gap);
        this.owner.noteGap(gap);
      }
      if (!reply.recovered && this.positioned && reply.seq < afterSeq) this.last = reply.seq; // the channel started over
      for (const m of held.sort((a, b) => a.seq - b.seq)) this.deliver(m);
      if (reply.seq > this.last) this.last = reply.seq;
      this.positioned = true;
      this.emit('subscribed', { seq: reply.seq, recovered: reply.recovered, replayed: reply.replayed, resumed });
    } catch (err) {
      this.held = null;
      throw err;
    }
  }

  /** @internal A pushed event of this channel. */
  receive(m: ChannelEventMessage): void {
    if (!this.wanted) return;
    if (this.held) {
      this.held.push(m);
      return;
    }
    if (m.seq > this.last + 1 && this.positioned) {
      // A jump the server could not repair: subscribe again from the last delivered seq (docs/protocol.md).
      this.owner.repair(this, m);
      return;
    }
    this.deliver(m);
  }

  /** @internal Holds events while a repair is under way. */
  hold(m: ChannelEventMessage): void {
    (this.held ??= []).push(m);
  }

  /** @internal The connection was lost: subscribed again after the rejoin. */
  connectionLost(): void {
    this.live = false;
    this.held = null;
  }

  private deliver(m: ChannelEventMessage): void {
    if (m.seq <= this.last) return; // a replay overlapping what was delivered: never twice
    this.last = m.seq;
    const event: ChannelEvent<C> = { channel: this.channel, seq: m.seq, data: m.data as ChannelData<C>, timestamp: m.timestamp, publisher: m.publisher };
    this.emit('event', event);
    this.owner.noteEvent(event);
  }
}

/**
 * The channels of one session (docs/protocol.md "Channels"): subscribe, unsubscribe, publish. Built-in channels
 * (`files`, `diagnostics`, `ai-response`, `search`, `validation`, `git`) have typed `data`; custom channels
 * `x-<name>` carry any JSON.
 *
 * ```ts
 * const diagnostics = await session.channels.subscribe('diagnostics');
 * diagnostics.on('event', (e) => show(e.data.file, e.data.diagnostics)); // typed from the channel's name
 * await session.channels.publish('files', { file: 'src/a.ts', event: 'change', timestamp: Date.now() });
 * ```
 */
export class SessionChannels extends TypedEmitter<SessionChannelsEvents> {
  private readonly subscriptions = new Map<string, ChannelSubscription<string>>();

  constructor(
    private readonly client: ChorusClient,
    private readonly sessionId: string,
    private readonly ready: () => Promise<void>,
  ) {
    super();
  }

  /** The current subscription of a channel, if any. */
  get<C extends string>(channel: C): ChannelSubscription<C> | undefined {
    return this.subscriptions.get(channel) as ChannelSubscription<C> | undefined;
  }

  /** The channels subscribed. */
  list(): string[] {
    return [...this.subscriptions.keys()];
  }

  /**
   * Subscribes (idempotent: the same object for the same channel) and resolves once the server confirmed it.
   * `since`: resume from a stored position — the events after it are delivered first (or a `gap`).
   */
  async subscribe<C extends BuiltInChannel | `x-${string}`>(channel: C, options: { since?: number; onEvent?: (event: ChannelEvent<C>) => void } = {}): Promise<ChannelSubscription<C>> {
    let sub = this.subscriptions.get(channel) as ChannelSubscription<C> | undefined;
    if (!sub) {
      sub = new ChannelSubscription<C>(this, channel, options.since);
      this.subscriptions.set(channel, sub as ChannelSubscription<string>);
    }
    if (options.onEvent) sub.on('event', options.onEvent);
    if (sub.live) return sub;
    await this.retrying(`subscribe ${channel}`, async () => {
      if (!sub.wanted) throw new ChorusError('NOT_FOUND', `unsubscribed from ${channel} meanwhile`);
      if (!sub.live) await sub.run(false);
    });
    return sub;
  }

  /** Stops receiving a channel (idempotent). */
  async unsubscribe(channel: string): Promise<void> {
    const sub = this.subscriptions.get(channel);
    if (!sub) return;
    sub.wanted = false;
    this.subscriptions.delete(channel);
    if (!sub.live || this.client.state !== 'connected') return;
    sub.live = false;
    await this.request('unsubscribe', { channel });
  }

  /**
   * Publishes an event (typed by the channel) and resolves with its `seq` and server timestamp. Idempotent: it
   * carries a `client_msg_id` (generated unless given) and is resent with the same key after a lost ack or a
   * reconnect; the server answers a resend with the original seq, so it is stored and delivered once.
   */
  async publish<C extends BuiltInChannel | `x-${string}`>(channel: C, data: ChannelData<C>, options: { clientMsgId?: string } = {}): Promise<{ seq: number; timestamp: number }> {
    const client_msg_id = options.clientMsgId ?? randomId(this.client.random);
    const reply = await this.retrying(`publish ${channel} ${client_msg_id}`, () => this.request('publish', { channel, data, client_msg_id }));
    return { seq: reply.seq, timestamp: reply.timestamp };
  }

  /** Listens to one channel's events without keeping the subscription object (subscribes if needed). */
  async listen<C extends BuiltInChannel | `x-${string}`>(channel: C, onEvent: (event: ChannelEvent<C>) => void): Promise<Unsubscribe> {
    const sub = await this.subscribe(channel);
    return sub.on('event', onEvent);
  }

  /** @internal A typed request of this session (session_id filled in). */
  request<T extends 'subscribe' | 'unsubscribe' | 'publish'>(type: T, payload: Omit<ClientPayload<T>, 'session_id'>): Promise<ReplyOf<T>> {
    return this.client.request(type, { ...payload, session_id: this.sessionId } as ClientPayload<T>);
  }

  /** @internal A pushed `event` of this session. */
  handlePush(m: ChannelEventMessage): void {
    this.subscriptions.get(m.channel)?.receive(m);
  }

  /** @internal After every rejoin: each wanted channel subscribed again from its last delivered seq. */
  async resume(): Promise<void> {
    const results = await Promise.allSettled([...this.subscriptions.values()].filter((s) => s.wanted && !s.live).map((s) => s.run(true)));
    for (const r of results) if (r.status === 'rejected') this.client.warn(`resubscribing a channel of ${this.sessionId} failed`, r.reason);
  }

  /** @internal The connection was lost. */
  connectionLost(): void {
    for (const sub of this.subscriptions.values()) sub.connectionLost();
  }

  /** @internal A seq jump the server did not repair: unsubscribe and subscribe again from the last delivered seq. */
  repair(sub: ChannelSubscription<string>, first: ChannelEventMessage): void {
    sub.hold(first);
    this.client.warn(`channel ${sub.channel}: seq jumped from ${sub.lastSeq} to ${first.seq}, resubscribing with since`);
    void (async () => {
      try {
        await this.request('unsubscribe', { channel: sub.channel });
        sub.live = false;
        if (sub.wanted) await sub.run(true);
      } catch (err) {
        this.client.warn(`repairing channel ${sub.channel} failed (the next rejoin resubscribes)`, err);
      }
    })();
  }

  /** @internal */
  noteEvent(event: ChannelEvent): void {
    this.emit('event', event);
  }

  /** @internal */
  noteGap(gap: ChannelGap): void {
    this.emit('gap', gap);
  }

  private async retrying<T>(what: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.ready();
      try {
        return await run();
      } catch (err) {
        if (!(err instanceof ChorusError) || !err.retryable || err instanceof ClientClosedError || attempt >= 50) throw err;
        this.client.warn(`${what}: ${err.code}, resending`, err);
        await new Promise((resolve) => setTimeout(resolve, err.details.retry_after_ms ?? backoffDelay(attempt, this.client.random, { initialDelayMs: 100, maxDelayMs: 5_000 })));
      }
    }
  }
}
