import { z } from 'zod';
import { fileHostSchema } from './messages-filesync';
import { text } from './text';
import { errorMessageSchema, messageIdSchema } from './errors';
import {
  chatTextSchema,
  joinTokenSchema,
  participantSchema,
  peerIdSchema,
  seqSchema,
  sessionIdSchema,
  timestampSchema,
} from './fields';
import { MAX_JOINED_LOCKS, sessionLockSchema } from './messages-live';
import { PROTOCOL_VERSION } from './version';

// Every message is `{type, id?, ...snake_case fields}`. Client messages are strict (an unknown field is a
// VALIDATION_ERROR naming it, so typos surface at once); the `id` of a request is echoed by its reply.

const id = messageIdSchema.optional();

// ---- client → server requests (Socket.IO: `emit(type, payload, ack)`) ----

export const joinSchema = z.strictObject({
  type: z.literal('join'),
  id,
  session_id: sessionIdSchema,
  peer_id: peerIdSchema,
  join_token: joinTokenSchema,
  /** The last session `seq` this client saw; the server replays every durable event after it. */
  last_seq: seqSchema.optional(),
});

export const leaveSchema = z.strictObject({ type: z.literal('leave'), id, session_id: sessionIdSchema });

/**
 * The client's own key of a chat message (e.g. a UUID per message): a resend with the same key by the same
 * user in the same session is answered with the original message (same `seq`) and stores nothing new.
 */
export const clientMsgIdSchema = text().min(1).max(64);

export const chatMessageRequestSchema = z.strictObject({
  type: z.literal('chat_message'),
  id,
  session_id: sessionIdSchema,
  message: chatTextSchema,
  client_msg_id: clientMsgIdSchema.optional(),
});

/** Replace the text of one's own chat message, named by its `seq`. */
export const chatEditSchema = z.strictObject({
  type: z.literal('chat_edit'),
  id,
  session_id: sessionIdSchema,
  seq: seqSchema.min(1),
  message: chatTextSchema,
});

/** Delete a chat message, named by its `seq`: one's own, or anyone's as owner or admin. */
export const chatDeleteSchema = z.strictObject({ type: z.literal('chat_delete'), id, session_id: sessionIdSchema, seq: seqSchema.min(1) });

export const pingSchema = z.strictObject({ type: z.literal('ping'), id });

/**
 * A fresh access token for this connection, before the current one expires (its `exp`): the connection stays
 * open past the old expiry instead of being closed with `reauthenticate` (4002). Same user only.
 */
export const reauthSchema = z.strictObject({ type: z.literal('reauth'), id, token: text().min(1).max(4096) });

// ---- server → client replies and pushes ----

export const helloSchema = z.strictObject({
  type: z.literal('hello'),
  /** On /ws, the reply to an `auth` frame echoes its `id`; Socket.IO's hello (after the handshake) has none. */
  id,
  protocol_version: z.literal(PROTOCOL_VERSION),
  node_id: text(),
  /** Per-kind message size limits in bytes, so clients can check before sending. */
  limits: z.record(text(), z.number().int().positive()),
  /** When the access token expires (ms since the epoch): the server closes with `reauthenticate` then, unless `reauth`. */
  token_expires_at: timestampSchema.optional(),
});

export const joinedSchema = z.strictObject({
  type: z.literal('joined'),
  id,
  session_id: sessionIdSchema,
  peer_id: peerIdSchema,
  participants: z.array(participantSchema),
  /** The session stream position after the replayed events: the client's new `last_seq`. */
  seq: seqSchema,
  /** False when `last_seq` was beyond retention: the client must reload its session state. */
  recovered: z.boolean(),
  /**
   * Every live file lock of the session when the join was answered (lock pushes are never replayed: this is how
   * a reconnecting client learns what it missed). Absent: the server could not tell (an older server, or the
   * document service did not answer) — reopen a document to learn its lock. Sorted by doc_id, at most
   * MAX_JOINED_LOCKS; `locks_truncated: true` when the session had more.
   */
  locks: z.array(sessionLockSchema).max(MAX_JOINED_LOCKS).optional(),
  locks_truncated: z.boolean().optional(),
  /** The session's file host (docs/file-sync.md); null: nobody shares; absent when the server could not tell. */
  file_host: fileHostSchema.nullable().optional(),
});

export const leftSchema = z.strictObject({ type: z.literal('left'), id, session_id: sessionIdSchema });

export const peerJoinedSchema = z.strictObject({
  type: z.literal('peer_joined'),
  session_id: sessionIdSchema,
  ...participantSchema.shape,
  seq: seqSchema,
});

export const peerLeftSchema = z.strictObject({
  type: z.literal('peer_left'),
  session_id: sessionIdSchema,
  peer_id: peerIdSchema,
  user_id: participantSchema.shape.user_id,
  seq: seqSchema,
});

export const chatMessageEventSchema = z.strictObject({
  type: z.literal('chat_message'),
  id,
  session_id: sessionIdSchema,
  peer_id: peerIdSchema,
  user_id: participantSchema.shape.user_id,
  display_name: participantSchema.shape.display_name,
  message: chatTextSchema,
  /** The sender's `client_msg_id`, when it gave one: lets it match its optimistic copy. */
  client_msg_id: clientMsgIdSchema.optional(),
  timestamp: timestampSchema,
  seq: seqSchema,
});

/** A chat message's new text: pushed to every member, and the ack of its author's `chat_edit`. */
export const messageUpdateSchema = z.strictObject({
  type: z.literal('message_update'),
  id,
  session_id: sessionIdSchema,
  /** The edited message's `seq` (its `chat_message`). */
  message_seq: seqSchema,
  peer_id: peerIdSchema,
  user_id: participantSchema.shape.user_id,
  message: chatTextSchema,
  edited_at: timestampSchema,
  /** This event's own stream position (the client's next `last_seq`). */
  seq: seqSchema,
});

/** A chat message was deleted: pushed to every member, and the ack of `chat_delete`. */
export const messageDeleteSchema = z.strictObject({
  type: z.literal('message_delete'),
  id,
  session_id: sessionIdSchema,
  message_seq: seqSchema,
  /** The deleted message's author. */
  user_id: participantSchema.shape.user_id,
  deleted_by: participantSchema.shape.user_id,
  deleted_at: timestampSchema,
  seq: seqSchema,
});

export const pongSchema = z.strictObject({ type: z.literal('pong'), id, timestamp: timestampSchema });

/** The reply to `reauth`: the connection now lives until the new token's expiry. */
export const reauthedSchema = z.strictObject({ type: z.literal('reauthed'), id, token_expires_at: timestampSchema });

export { errorMessageSchema };
