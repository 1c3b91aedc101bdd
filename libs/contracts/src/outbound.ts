import { z } from 'zod';
import { parseServerMessageStrict, parseSessionEventBody, type ServerMessage } from '@chorus/protocol';
import type { SessionStreamEvent } from './session.contract';

/**
 * The one outbound road: every push to clients crosses nodes as an `OutboundMessage` on the session's fan-out
 * channel (libs/fanout), and only the gateway's local hub writes it to sockets. A new feature adds a message type
 * to libs/protocol's server messages (a push) or a durable event type (an event), never a second road.
 *
 * - `event`: a durable session event, already committed (durable first). Gateways deliver events in `seq` order,
 *   exactly once per member, filling gaps from the session stream.
 * - `push`: an ephemeral server message (op, presence, typing, locks, conflicts) for an audience of the session's
 *   local members; superseded or recovered by the client (ops by version and `fetch_ops`, locks by `joined.locks`
 *   and `open_document.lock`, presence by the next batch).
 */
export type OutboundMessage = OutboundEvent | OutboundPush;

export interface OutboundEvent {
  readonly kind: 'event';
  readonly event: SessionStreamEvent;
  /** The node that published it (logs; to tell own messages apart). */
  readonly origin_node: string;
}

export interface OutboundPush {
  readonly kind: 'push';
  readonly message: ServerMessage;
  readonly audience: Audience;
  /** A peer that must not get it (the author of an op, the peer whose presence changed). */
  readonly except_peer?: string;
  readonly origin_node: string;
}

/**
 * Who of the session's members gets a push: all, those with the document open, named peers, or the subscribers
 * of a channel (an `event` message; each gateway orders them by the channel's seq before writing them).
 */
export type Audience =
  | { readonly to: 'session' }
  | { readonly to: 'document'; readonly doc_id: string }
  | { readonly to: 'peers'; readonly peer_ids: readonly string[] }
  | { readonly to: 'channel'; readonly channel: string };

const audienceSchema = z.discriminatedUnion('to', [
  z.object({ to: z.literal('session') }).strict(),
  z.object({ to: z.literal('document'), doc_id: z.string().min(1) }).strict(),
  z.object({ to: z.literal('peers'), peer_ids: z.array(z.string().min(1)).max(1_000) }).strict(),
  z.object({ to: z.literal('channel'), channel: z.string().min(1).max(64) }).strict(),
]);

const eventSchema = z
  .object({
    session_id: z.string().min(1),
    seq: z.number().int().positive(),
    type: z.string().min(1),
    actor: z.string(),
    payload: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .strict();

const envelopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('event'), event: eventSchema, origin_node: z.string() }).strict(),
  z.object({ kind: z.literal('push'), message: z.unknown(), audience: audienceSchema, except_peer: z.string().optional(), origin_node: z.string() }).strict(),
]);

/**
 * The fan-out codec of the road: what arrives from Redis is checked once per node (not per socket) before the hub
 * sees it — the envelope, and a push's message against the protocol's strict server schema, so a publisher that
 * drifted from libs/protocol is caught (dropped, counted and logged) instead of reaching clients.
 */
export const outboundCodec = {
  /**
   * `binary`: a compact file chunk's bytes, which crossed beside the JSON (`split`): they become its `data` again.
   * Bytes beside any other message are a drifted publisher's.
   */
  parse(raw: unknown, binary?: Uint8Array): OutboundMessage {
    const envelope = envelopeSchema.parse(raw);
    if (binary !== undefined) {
      const message = envelope.kind === 'push' ? (envelope.message as { type?: unknown; data?: unknown; data_b64?: unknown } | null) : null;
      if (envelope.kind !== 'push' || message?.type !== 'file_data' || message.data !== undefined || message.data_b64 !== undefined) {
        throw new Error(`${envelope.kind === 'push' ? `push ${describeType(envelope.message)}` : 'event'}: only a file_data push without data in its JSON carries bytes`);
      }
      envelope.message = { ...message, data: Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength) };
    }
    if (envelope.kind === 'event') {
      // The payload against its type's schema (libs/protocol session-events): a drifted or unknown event is
      // dropped here like a drifted push, and the gateway reads it back from the session stream as a gap.
      const { type, payload, ...position } = envelope.event;
      const body = parseSessionEventBody(type, payload);
      if (!body.ok) throw new Error(`event ${position.session_id}#${position.seq}: ${body.reason}`);
      return { kind: 'event', event: { ...position, ...body.value }, origin_node: envelope.origin_node };
    }
    const parsed = parseServerMessageStrict(envelope.message);
    if (!parsed.ok) throw new Error(`push ${describeType(envelope.message)}: ${parsed.error.message}`);
    // A channel's audience and its events go together: an event for another channel (or none) is a drifted push.
    const forChannel = envelope.audience.to === 'channel';
    if (forChannel !== (parsed.value.type === 'event') || (parsed.value.type === 'event' && envelope.audience.to === 'channel' && parsed.value.channel !== envelope.audience.channel)) {
      throw new Error(`push ${describeType(envelope.message)}: channel events go to their channel's audience, and only they do`);
    }
    return { ...envelope, message: parsed.value };
  },
  split,
};

/**
 * A compact file chunk's bytes (`file_data.data`) cross the road beside its JSON, as bytes: the broker writes
 * them raw (libs/fanout `encodeWithBinary`), never as base64 in the JSON. Every other message is JSON only.
 */
function split(message: OutboundMessage): { json: unknown; binary: Uint8Array } | undefined {
  if (message.kind !== 'push' || message.message.type !== 'file_data' || message.message.data === undefined) return undefined;
  const { data, ...rest } = message.message;
  return { json: { ...message, message: rest }, binary: data };
}

function describeType(message: unknown): string {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? `"${type.slice(0, 64)}"` : '(no type)';
}
