import { z } from 'zod';
import { messageIdSchema } from './errors';
import { text } from './text';

/** The plain-WebSocket endpoint on the gateway's HTTP port (docs/protocol.md "Plain WebSocket"). */
export const WS_PATH = '/ws';

/** The largest `auth` frame read: a token is a few hundred bytes. */
export const WS_AUTH_MAX_BYTES = 8 * 1024;

/**
 * `/ws` only: the first frame of a connection that brought neither an `Authorization` header nor a ticket.
 * Answered `hello` (with the frame's `id`), or an `error` and a close with a disconnect code. Not a message of
 * the protocol proper: Socket.IO carries the token in its handshake. `protocol_version` may be left out.
 */
export const wsAuthSchema = z.strictObject({
  type: z.literal('auth'),
  id: messageIdSchema.optional(),
  token: text().min(1).max(4096),
  protocol_version: z.number().int().optional(),
});
export type WsAuth = z.infer<typeof wsAuthSchema>;
