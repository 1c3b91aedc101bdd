import type { ServerMessageOf } from '@chorus/protocol';

/** A chat message of the session stream (pushed, replayed, paged from history, or our own acknowledged one). */
export interface ChatMessage {
  /** Its position in the session stream. */
  seq: number;
  /** The sender's connection. */
  peer_id: string;
  /** The sender. */
  user_id: string;
  /** The sender's name as shown. */
  display_name: string;
  /** The text (1 to 8,000 characters). */
  message: string;
  /** The sender's idempotency key, when it gave one. */
  client_msg_id?: string;
  /** Server time, ms since the epoch. */
  timestamp: number;
  /** Sent by this client (its peer id). */
  own: boolean;
}

/** Any durable event of the session stream, delivered once each, in `seq` order within a connection. */
export type DurableEvent =
  | { kind: 'chat'; seq: number; chat: ChatMessage }
  /** A chat message's new text (`message.message_seq` names it). */
  | { kind: 'message_update'; seq: number; message: ServerMessageOf<'message_update'> }
  /** A chat message was deleted (`message.message_seq` names it). */
  | { kind: 'message_delete'; seq: number; message: ServerMessageOf<'message_delete'> }
  | { kind: 'peer_joined'; seq: number; message: ServerMessageOf<'peer_joined'> }
  | { kind: 'peer_left'; seq: number; message: ServerMessageOf<'peer_left'> }
  | { kind: 'session_event'; seq: number; message: ServerMessageOf<'session_event'> };

/** A `chat_message` (push or ack) as the app sees it. */
export function toChat(m: ServerMessageOf<'chat_message'>, ownPeerId: string): ChatMessage {
  return {
    seq: m.seq,
    peer_id: m.peer_id,
    user_id: m.user_id,
    display_name: m.display_name,
    message: m.message,
    ...(m.client_msg_id !== undefined ? { client_msg_id: m.client_msg_id } : {}),
    timestamp: m.timestamp,
    own: m.peer_id === ownPeerId,
  };
}
