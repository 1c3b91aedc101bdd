import type { Publisher } from '@chorus/protocol';

/** One retained event of a channel. `seq` counts from 1 per (session, channel); `timestamp` is epoch ms. */
export interface ChannelEntry {
  readonly seq: number;
  readonly timestamp: number;
  readonly publisher: Publisher;
  readonly data: unknown;
}

export interface AppendInput {
  readonly publisher: Publisher;
  readonly data: unknown;
  /**
   * The publisher's own key of this event (`publish.client_msg_id`): a resend with the same key by the same user
   * within the retention time is answered with the original event and appends nothing.
   */
  readonly clientMsgId?: string;
}

export interface Appended {
  readonly seq: number;
  readonly timestamp: number;
  readonly duplicate: boolean;
  /** The event as retained; absent only for a duplicate whose original has already been trimmed. */
  readonly entry: ChannelEntry | undefined;
}

export interface HistoryRead {
  /** The channel's last seq (0: nothing published yet). */
  readonly head: number;
  /** Every event after `since` up to `head`, in seq order — empty when not `recovered`, or without `since`. */
  readonly events: ChannelEntry[];
  /**
   * False when events after `since` are no longer retained (trimmed by count or age) or `since` is ahead of the
   * channel (another incarnation of it): the reader missed events and must say so, never skip silently.
   */
  readonly recovered: boolean;
}

export interface ChannelHistoryLimits {
  /** Events kept per channel (CHANNEL_HISTORY_SIZE). */
  readonly size: number;
  /** How long an event stays retained (CHANNEL_HISTORY_TTL_MS). */
  readonly ttlMs: number;
}

/**
 * The bounded recent history of every session channel (centrifuge's history half of the broker).
 *
 * Contract:
 * - `append` is atomic: it assigns the next seq (1, 2, ... per session and channel, no gaps, no two events with
 *   one seq, whatever the number of gateways appending), stores the event and trims the channel to the last
 *   `size` events and to those younger than `ttlMs`, in one step. It resolves once the event is stored, so a
 *   push sent afterwards never announces an event that a `read` could not return (durable record first).
 * - An append with a `clientMsgId` already used by the same publisher's user on the channel within `ttlMs` is a
 *   duplicate: nothing is stored, the original seq (and event, while retained) is returned.
 * - `read(since)` returns exactly the events with seq in (since, head] in order, or `recovered: false` when any
 *   of them is gone; both from one consistent view.
 * - A channel with no append for a day is forgotten (seq and history): a later `since` from before is ahead of
 *   the new channel and reads `recovered: false`.
 */
export interface ChannelHistory {
  append(sessionId: string, channel: string, input: AppendInput): Promise<Appended>;
  read(sessionId: string, channel: string, since: number | undefined): Promise<HistoryRead>;
}

/** How long a quiet channel's seq and history are kept (the Redis keys' expiry). */
export const CHANNEL_IDLE_TTL_MS = 24 * 3600 * 1000;

/** The read rule both implementations share: `retained` are the events still kept, oldest first. */
export function readFrom(head: number, retained: readonly ChannelEntry[], since: number | undefined): HistoryRead {
  if (since === undefined) return { head, events: [], recovered: true };
  if (since > head) return { head, events: [], recovered: false };
  const oldest = retained.length > 0 ? retained[0].seq : head + 1;
  if (since < oldest - 1) return { head, events: [], recovered: false };
  return { head, events: retained.filter((e) => e.seq > since), recovered: true };
}
