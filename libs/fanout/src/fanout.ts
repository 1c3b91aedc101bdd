/**
 * Fan-out of session messages to every node that has members of the session (centrifuge calls this the
 * broker's publish/subscribe half). Generic over the message type `M`: the broker moves JSON; what a message
 * means is the codec's business (Chorus's one outbound road: libs/contracts `OutboundMessage`).
 *
 * Contract:
 * - Delivery is at-most-once and best-effort: a message published while a node is not subscribed, or lost with
 *   a connection, is not redelivered. Durable session events carry their `seq`, so a receiver detects a gap
 *   and reads the missing events from the session stream; ephemeral messages (presence, typing) are simply
 *   superseded by the next one.
 * - Per session, messages from one publisher arrive in publish order. Messages of different publishers
 *   interleave arbitrarily (order durable events by `seq`, not by arrival).
 * - A listener sees every message published to its session after `subscribe()` resolved, including its own
 *   node's.
 * - Every message a listener sees passed the codec: one that does not parse (a bug of a publisher, or something
 *   that is not ours on the channel) is dropped, counted in `dropped` and reported to `onDropped` — never passed on.
 * - Listeners must not throw; an error is reported the same way and does not affect other listeners.
 */
export interface Fanout<M> {
  publish(sessionId: string, message: M): Promise<void>;
  /** Starts delivery to `listener`; resolves once delivery is active. Returns the unsubscribe function. */
  subscribe(sessionId: string, listener: FanoutListener<M>): Promise<() => Promise<void>>;
  /** Messages dropped so far because they did not parse or a listener threw (exported as a metric). */
  readonly dropped: number;
  close(): Promise<void>;
}

export type FanoutListener<M> = (message: M) => void;

/** How a broker turns what it received back into a message: validates, or throws saying what is wrong. */
export interface FanoutCodec<M> {
  parse(raw: unknown): M;
}

/** Told about every dropped message (the runtime logs it); must not throw. */
export type DropReporter = (reason: string, sessionId: string) => void;

/** Shared by both brokers: parse, then call each listener in isolation; count and report what goes wrong. */
export class Delivery<M> {
  dropped = 0;

  constructor(
    private readonly codec: FanoutCodec<M>,
    private readonly onDropped: DropReporter,
  ) {}

  deliver(sessionId: string, raw: unknown, listeners: Iterable<FanoutListener<M>>): void {
    let message: M;
    try {
      message = this.codec.parse(raw);
    } catch (err) {
      this.drop(`invalid message: ${(err as Error).message}`, sessionId);
      return;
    }
    for (const listener of listeners) {
      try {
        listener(message);
      } catch (err) {
        this.drop(`listener threw: ${(err as Error).message}`, sessionId);
      }
    }
  }

  drop(reason: string, sessionId: string): void {
    this.dropped++;
    try {
      this.onDropped(reason, sessionId);
    } catch {
      // the reporter is a logger; if even that fails, the count above still tells
    }
  }
}
