import type { LoggerService } from '@nestjs/common';
import type { OutboundMessage, SessionStreamEvent } from '@chorus/contracts';
import type { Fanout } from '@chorus/fanout';
import type { LocalHub } from './local-hub';
import { membershipEffect, toWireEvent, type MembershipEffect } from './wire-events';

/** A local connection's membership of one session, as the stream relay sees it. */
export interface StreamMember {
  /** The socket's id: the hub writes to it. */
  readonly id: string;
  readonly userId: string;
  /** The member's peer id in the session: its own chat messages reach it as acks, never as pushes. */
  readonly peerId: string;
  /** A durable event changed this member's role or ended its membership. */
  onEffect(effect: Exclude<MembershipEffect, null>): void;
}

/** Reads the session stream back (the session service's `session.events`). */
export type EventSource = (sessionId: string, userId: string, afterSeq: number, limit: number) => Promise<{ events: SessionStreamEvent[]; head: number }>;

interface Member {
  readonly member: StreamMember;
  /** The last seq this member has been sent (or was told about in `joined`). */
  cursor: number;
  /**
   * While its replay is read (outside the chain): the live events after it, written once the replay is. Unset
   * for a member that is live.
   */
  held?: SessionStreamEvent[];
}

interface LocalStream {
  /** The last seq delivered to every member; -1 until the first member attaches. */
  head: number;
  readonly members: Map<string, Member>;
  /** Durable events are processed one at a time, in this chain: order and dedupe need no locks. */
  chain: Promise<void>;
  buffered: SessionStreamEvent[];
  unsubscribe: (() => Promise<void>) | undefined;
  /** Members attaching or opened-but-not-attached: the stream is kept while > 0. */
  holds: number;
  /** `catchUp` calls waiting for live delivery to bring a member to a seq; woken by `deliver` and `detach`. */
  readonly waiters: Set<Waiter>;
}

interface Waiter {
  readonly memberId: string;
  readonly seq: number;
  readonly wake: () => void;
}

export interface AttachResult {
  /** The seq the client is now at: its next `last_seq`. */
  readonly seq: number;
  /** False when `last_seq` was too far behind to replay: the client must reload session state. */
  readonly recovered: boolean;
}

/**
 * Delivers each session's durable events to this node's members exactly once and in `seq` order, whatever the
 * fan-out does: duplicates (seq ≤ head) are dropped; a gap (a publish lost, or a node that subscribed late) is
 * filled by reading the missing events back from the session stream before going on. A joining member is
 * replayed what it missed since its `last_seq`, inside the same chain, so no live event can overtake the replay
 * or be delivered twice. Pushes (ops, presence, typing, locks) go straight to the hub, which writes them to
 * their audience among this node's sockets. This is the receiving end of the one outbound road: nothing else
 * on a gateway writes pushes to sockets.
 */
export class SessionStreams {
  private readonly streams = new Map<string, LocalStream>();
  /** Told of every durable event this node delivers, once per seq (caches that a durable event invalidates). */
  private readonly observers: Array<(event: SessionStreamEvent) => void> = [];

  constructor(
    private readonly fanout: Fanout<OutboundMessage>,
    private readonly source: EventSource,
    private readonly hub: LocalHub,
    private readonly logger: LoggerService,
    private readonly maxReplay = 1_000,
    /** How long `catchUp` waits for the fan-out before reading the gap itself (a read is a transport round trip). */
    private readonly liveWaitMs = 100,
  ) {}

  /** Calls `observer` with every durable event this node delivers (after its members got it). */
  observe(observer: (event: SessionStreamEvent) => void): void {
    this.observers.push(observer);
  }

  /** Subscribes this node to the session before the join is recorded, so no event of it can be missed. */
  async open(sessionId: string): Promise<void> {
    let stream = this.streams.get(sessionId);
    if (!stream) {
      stream = { head: -1, members: new Map(), chain: Promise.resolve(), buffered: [], unsubscribe: undefined, holds: 0, waiters: new Set() };
      this.streams.set(sessionId, stream);
      const s = stream;
      s.holds++;
      try {
        s.unsubscribe = await this.fanout.subscribe(sessionId, (m) => this.onMessage(sessionId, s, m));
      } catch (err) {
        s.holds--;
        await this.dropIfIdle(sessionId, s);
        throw err;
      }
      return;
    }
    stream.holds++;
  }

  /** Undoes `open` when the join failed. */
  async release(sessionId: string): Promise<void> {
    const stream = this.streams.get(sessionId);
    if (!stream) return;
    stream.holds--;
    await this.dropIfIdle(sessionId, stream);
  }

  /**
   * Adds a member after its join was recorded as event `joinSeq`: replays (lastSeq, head] to it (its own
   * `peer_joined` excluded) unless that is more than `maxReplay` events, then delivers live events after it.
   *
   * The chain only places the member (its cursor at the head, taken in order with live events); its replay is
   * read outside the chain, while live events after the head are held for it and written right after the
   * replay. So a thousand streams attaching at once do not queue every live event of the session (the others'
   * included) behind a thousand replay reads, and the joiner still gets each seq once, in order.
   */
  async attach(sessionId: string, member: StreamMember, joinSeq: number, lastSeq: number | undefined): Promise<AttachResult> {
    const stream = this.streams.get(sessionId);
    if (!stream) throw new Error(`attach without open for ${sessionId}`);
    const placed = await this.enqueue(stream, async () => {
      stream.holds--;
      // First member: events up to its own join are history, not live.
      if (stream.head < 0) stream.head = joinSeq - 1;
      const upTo = Math.max(joinSeq, stream.head);
      // A last_seq from the future (another incarnation of the session?) cannot be trusted: reload.
      let recovered = lastSeq === undefined || lastSeq <= upTo;
      const from = lastSeq ?? joinSeq;
      const replay = recovered && from < upTo && upTo - from <= this.maxReplay;
      if (recovered && from < upTo && !replay) recovered = false;
      const entry: Member = { member, cursor: upTo, ...(replay ? { held: [] } : {}) };
      stream.members.set(member.id, entry);
      this.processBuffered(sessionId, stream);
      return { entry, from, upTo, recovered, replay };
    });
    const { entry, from, upTo, recovered, replay } = placed;
    if (replay) {
      try {
        const events = await this.read(sessionId, member.userId, from, upTo);
        for (const e of events) if (e.seq !== joinSeq) this.hub.toSockets([member.id], toWireEvent(e));
      } finally {
        // Live from here: what arrived meanwhile (all after upTo, in seq order), then everything else as it comes.
        // Also when the read failed (the caller detaches): nothing stays held.
        const held = entry.held ?? [];
        delete entry.held;
        if (stream.members.get(member.id) === entry) for (const e of held) this.hub.toSockets([member.id], toWireEvent(e));
        this.wake(stream);
      }
    }
    return { seq: upTo, recovered };
  }

  /** Removes a member; the node unsubscribes from the session when its last member is gone. */
  async detach(sessionId: string, memberId: string): Promise<void> {
    const stream = this.streams.get(sessionId);
    if (!stream) return;
    stream.members.delete(memberId);
    this.wake(stream);
    await this.dropIfIdle(sessionId, stream);
  }

  /**
   * Makes `last_seq` trustworthy: resolves once every event up to `seq` has been sent to the member (written to
   * its socket, so an ack sent afterwards follows them on the wire). A client that keeps the ack's seq and drops
   * at once then can never rejoin past an event it did not get. The fan-out usually got there first; otherwise
   * it is given `liveWaitMs`, then the gap is read from the session stream (in the chain, so order and dedupe
   * hold). A member that is not attached (detached meanwhile) needs nothing. Rejects when the read fails: the
   * caller must then not ack with `seq`.
   */
  async catchUp(sessionId: string, memberId: string, seq: number): Promise<void> {
    const stream = this.streams.get(sessionId);
    if (!stream) return;
    const reached = () => {
      const m = stream.members.get(memberId);
      return !m || (m.held === undefined && m.cursor >= seq);
    };
    if (reached()) return;
    await new Promise<void>((resolve) => {
      const waiter: Waiter = {
        memberId,
        seq,
        wake: () => {
          clearTimeout(timer);
          stream.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, this.liveWaitMs);
      stream.waiters.add(waiter);
    });
    if (reached()) return;
    await this.enqueue(stream, async () => {
      const m = stream.members.get(memberId);
      if (!m || m.cursor >= seq) return;
      // Every attached member's cursor is ≥ head, so the member is missing at most (head, seq].
      for (const e of await this.read(sessionId, m.member.userId, stream.head, seq)) this.deliver(stream, e);
      if (m.cursor < seq) throw new Error(`the session stream ended at ${m.cursor}, before ${seq}`);
    });
  }

  /**
   * Position check (as centrifuge does it): asks the session stream for anything after each local stream's head
   * and delivers it. Fan-out is at-most-once, and a gap is otherwise only noticed when a later event arrives —
   * an event lost at the tail of a quiet session would wait for the next one. Called periodically (every few
   * seconds); costs one read per session with members on this node.
   */
  async checkPositions(): Promise<void> {
    await Promise.all(
      [...this.streams].map(([sessionId, stream]) =>
        this.enqueue(stream, async () => {
          const anyone = stream.members.values().next().value as Member | undefined;
          if (!anyone || stream.head < 0) return;
          const { events } = await this.source(sessionId, anyone.member.userId, stream.head, 500);
          for (const e of events) this.deliver(stream, e);
        }).catch((err: unknown) => this.logger.warn(`Session ${sessionId}: position check failed: ${(err as Error).message}`, 'SessionStreams')),
      ),
    );
  }

  /** Sessions with members on this node (for metrics and shutdown). */
  get size(): number {
    return this.streams.size;
  }

  private onMessage(sessionId: string, stream: LocalStream, message: OutboundMessage): void {
    switch (message.kind) {
      case 'push':
        this.hub.push(sessionId, message);
        return;
      case 'event':
        stream.buffered.push(message.event);
        this.processBuffered(sessionId, stream);
        return;
      default: {
        const unknown: never = message;
        throw new Error(`unknown outbound message ${JSON.stringify(unknown)}`);
      }
    }
  }

  private processBuffered(sessionId: string, stream: LocalStream): void {
    if (stream.head < 0 || stream.buffered.length === 0) return;
    const batch = stream.buffered.sort((a, b) => a.seq - b.seq);
    stream.buffered = [];
    void this.enqueue(stream, async () => {
      for (const event of batch) await this.deliverInOrder(sessionId, stream, event);
    }).catch((err: unknown) => this.logger.warn(`Session ${sessionId}: delivery failed: ${(err as Error).message}`, 'SessionStreams'));
  }

  private async deliverInOrder(sessionId: string, stream: LocalStream, event: SessionStreamEvent): Promise<void> {
    if (event.seq <= stream.head) return;
    if (event.seq > stream.head + 1) {
      const anyone = stream.members.values().next().value as Member | undefined;
      if (!anyone) {
        stream.head = event.seq - 1;
      } else {
        for (const missed of await this.read(sessionId, anyone.member.userId, stream.head, event.seq - 1)) this.deliver(stream, missed);
      }
    }
    this.deliver(stream, event);
  }

  private deliver(stream: LocalStream, event: SessionStreamEvent): void {
    if (event.seq <= stream.head) return;
    stream.head = event.seq;
    const effect = membershipEffect(event);
    const recipients: string[] = [];
    const affected: StreamMember[] = [];
    for (const m of stream.members.values()) {
      if (event.seq <= m.cursor) continue;
      m.cursor = event.seq;
      // Still replaying: held for it, written after its replay (membership effects still apply at once).
      if (m.held !== undefined) {
        const own = event.type === 'chat_message' && event.payload.peer_id === m.member.peerId;
        if (!own) m.held.push(event);
        if (effect && (effect.kind === 'session_deleted' || effect.user_id === m.member.userId)) affected.push(m.member);
        continue;
      }
      // A chat message's sender already has it in its ack. The sender is named in the event itself (its peer
      // id), so the rule holds however the event arrived: fan-out, gap read or position check.
      const own = event.type === 'chat_message' && event.payload.peer_id === m.member.peerId;
      if (!own) recipients.push(m.member.id);
      if (effect && (effect.kind === 'session_deleted' || effect.user_id === m.member.userId)) affected.push(m.member);
    }
    // One write for every member at this seq: encoded once, whatever the session's size.
    if (recipients.length > 0) this.hub.toSockets(recipients, toWireEvent(event));
    for (const member of affected) if (effect) member.onEffect(effect);
    for (const observer of this.observers) observer(event);
    this.wake(stream);
  }

  /** Wakes the `catchUp` waiters whose member reached its seq (or is gone). */
  private wake(stream: LocalStream): void {
    for (const w of [...stream.waiters]) {
      const m = stream.members.get(w.memberId);
      // A member still replaying has not been written its held events: not there yet.
      if (!m || (m.held === undefined && m.cursor >= w.seq)) w.wake();
    }
  }

  /** Events in (after, upTo], paging through the session stream. */
  private async read(sessionId: string, userId: string, after: number, upTo: number): Promise<SessionStreamEvent[]> {
    const out: SessionStreamEvent[] = [];
    let cursor = after;
    while (cursor < upTo) {
      const { events } = await this.source(sessionId, userId, cursor, Math.min(500, upTo - cursor));
      if (events.length === 0) break;
      for (const e of events) if (e.seq <= upTo) out.push(e);
      cursor = events[events.length - 1].seq;
    }
    return out;
  }

  private enqueue<T>(stream: LocalStream, work: () => Promise<T>): Promise<T> {
    const run = stream.chain.then(work);
    stream.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async dropIfIdle(sessionId: string, stream: LocalStream): Promise<void> {
    if (stream.members.size > 0 || stream.holds > 0 || this.streams.get(sessionId) !== stream) return;
    this.streams.delete(sessionId);
    await stream.unsubscribe?.().catch(() => undefined);
  }
}
