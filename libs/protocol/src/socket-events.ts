import type { ErrorMessage } from './errors';
import type { ClientMessageOf, ClientMessageType, ReplyOf, ServerMessageOf, ServerMessageType } from './registry';

// Socket.IO event maps derived from the registry, so that a bare socket.io-client is typed end to end:
//   const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth });
//   socket.on('op', (m) => m.version);                                   // m: ServerMessageOf<'op'>
//   const reply = await socket.timeout(5000).emitWithAck('join', {...}); // reply: ReplyOf<'join'> | ErrorMessage
// Types only: nothing here exists at run time, so the maps follow the registry without a second source of truth.

/** The payload of a request: the message without its `type` (the event name carries it; repeating it is allowed). */
export type ClientPayload<T extends ClientMessageType> = Omit<ClientMessageOf<T>, 'type'> & { type?: T };

/** What a request's ack receives: its success reply, or an `error` message (every request is acked). */
export type AckOf<T extends ClientMessageType> = ReplyOf<T> | ErrorMessage;

/** Every push the server may send, keyed by event name (= the message `type`). */
export type ServerToClientEvents = { [T in ServerMessageType]: (message: ServerMessageOf<T>) => void };

/** Every request a client may send: `emit(type, payload, ack)`. */
export type ClientToServerEvents = { [T in ClientMessageType]: (payload: ClientPayload<T>, ack: (reply: AckOf<T>) => void) => void };
