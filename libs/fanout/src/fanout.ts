/**
 * Fan-out of session messages to every node that has members of the session (centrifuge calls this the
 * broker's publish/subscribe half).
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
 * - Listeners must not throw; an error is reported and does not affect other listeners.
 */
export interface Fanout {
  publish(sessionId: string, message: FanoutMessage): Promise<void>;
  /** Starts delivery to `listener`; resolves once delivery is active. Returns the unsubscribe function. */
  subscribe(sessionId: string, listener: FanoutListener): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface FanoutMessage {
  /** `event`: a durable session event (has `seq`); `ephemeral`: a wire message for the session's members. */
  readonly kind: 'event' | 'ephemeral';
  readonly body: Record<string, unknown>;
  /** The node that published it (for logs, and to tell own messages apart). */
  readonly origin_node: string;
}

export type FanoutListener = (message: FanoutMessage) => void;
