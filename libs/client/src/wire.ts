import type { DisconnectNotice, ErrorMessage, ServerMessage, ServerMessageOf } from '@chorus/protocol';
import type { ConnectionEnd } from './backoff';

// A wire is one connection attempt on one transport (Socket.IO, or a plain WebSocket to /ws), seen by the client
// the same way whatever the transport: requests answered once (an ack, or the reply frame echoing the request's
// id), pushes, the `hello` that makes it live, the `disconnect_notice` before a close, and one end.

/** What a wire reports to the client. Each callback may be called many times, except `end` (once). */
export interface WireListener {
  /** The server accepted the connection (after the handshake, or the `auth` frame). */
  hello(hello: ServerMessageOf<'hello'>): void;
  /** The server is about to close the connection, and says why (the disconnect code decides the reconnect). */
  notice(notice: DisconnectNotice): void;
  /** An `error` pushed outside any request. */
  error(error: ErrorMessage): void;
  /** Any other push. */
  push(message: ServerMessage): void;
  /** The attempt or the connection is over: refused, unreachable, or lost after working. */
  end(end: ConnectionEnd): void;
}

/** One connection (attempt) on one transport. */
export interface Wire {
  /** Sends a request; `ack` is called with its one reply (success or `error`), or never if the connection ends first. */
  request(type: string, payload: object, ack: (reply: unknown) => void): void;
  /** Closes the connection; no listener is called afterwards. */
  close(): void;
}

/** Opens a wire to a gateway base URL with an access token; it reports to `listener` asynchronously only, never from inside the call. */
export type WireFactory = (url: string, token: string, listener: WireListener) => Wire;

/** An `error` message, as the wire carries it. */
export function isErrorMessage(value: unknown): value is ErrorMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'error';
}
