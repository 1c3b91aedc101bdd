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

/**
 * How a broker turns what it received back into a message: validates, or throws saying what is wrong. A codec
 * whose messages may carry bytes (a compact file chunk) also says how to take them out (`split`): the broker then
 * moves them beside the JSON, as bytes, and hands them back to `parse` (never base64 inside the JSON: on a
 * 256 KiB chunk that encoding, its JSON escaping scan and its decoding on every node cost more than the relay).
 */
export interface FanoutCodec<M> {
  /** `binary`: the bytes the publisher's `split` took out, when it took any. */
  parse(raw: unknown, binary?: Uint8Array): M;
  /** The message as JSON plus its bytes, or undefined for a message without bytes (sent as JSON, as ever). */
  split?(message: M): { json: unknown; binary: Uint8Array } | undefined;
}

/**
 * How a broker writes a message with bytes (`FanoutCodec.split`) as one payload: a NUL byte (no JSON text starts
 * with one, so the two kinds never mix up), a 4-byte big-endian length, that many bytes of UTF-8 JSON, the bytes.
 */
export function encodeWithBinary(json: string, binary: Uint8Array): Buffer {
  const header = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(5 + header.length + binary.length);
  out[0] = 0;
  out.writeUInt32BE(header.length, 1);
  header.copy(out, 5);
  out.set(binary, 5 + header.length);
  return out;
}

/** The JSON text and the bytes (a view, not a copy) of a payload: `binary` only if it was written by `encodeWithBinary`. */
export function decodePayload(payload: Buffer): { ok: true; json: string; binary?: Uint8Array } | { ok: false; reason: string } {
  if (payload.length === 0 || payload[0] !== 0) return { ok: true, json: payload.toString('utf8') };
  if (payload.length < 5) return { ok: false, reason: 'binary payload without its header length' };
  const length = payload.readUInt32BE(1);
  if (5 + length > payload.length) return { ok: false, reason: `binary payload header of ${length} bytes does not fit` };
  return { ok: true, json: payload.toString('utf8', 5, 5 + length), binary: payload.subarray(5 + length) };
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

  deliver(sessionId: string, raw: unknown, listeners: Iterable<FanoutListener<M>>, binary?: Uint8Array): void {
    let message: M;
    try {
      message = this.codec.parse(raw, binary);
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
