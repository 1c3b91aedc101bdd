import { PROTOCOL_VERSION, type DisconnectNotice, type ErrorMessage, type ServerMessage, type ServerToClientEvents, type ClientToServerEvents } from '@chorus/protocol';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { WireFactory } from './wire';

/** A socket typed by the protocol's event maps. */
export type ChorusSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The Socket.IO transport (the default): the token in the handshake's `auth`, requests as events with an ack,
 * refusals as `connect_error` carrying an `error` (and its disconnect code). Socket.IO's own reconnection is off:
 * the client's loop reconnects, by the protocol's disconnect codes.
 */
export function socketIoWire(extra: Partial<ManagerOptions & SocketOptions> = {}): WireFactory {
  return (url, token, listener) => {
    const socket: ChorusSocket = io(url, {
      transports: ['websocket'],
      ...extra,
      auth: { token, protocol_version: PROTOCOL_VERSION },
      reconnection: false,
      forceNew: true,
    });
    let notice: DisconnectNotice | undefined;
    let ended = false;
    const close = () => {
      ended = true;
      socket.removeAllListeners();
      socket.io.removeAllListeners();
      socket.close();
    };
    const end: typeof listener.end = (e) => {
      if (ended) return;
      close();
      listener.end(e);
    };
    socket.on('connect_error', (err: Error & { data?: unknown }) => {
      const data = err.data as (ErrorMessage & { disconnect?: DisconnectNotice }) | undefined;
      if (data && typeof data === 'object' && data.type === 'error') end({ kind: 'refused', error: data });
      else end({ kind: 'unreachable', message: err.message });
    });
    socket.on('disconnect', (reason) => end({ kind: 'lost', reason, notice }));
    socket.on('disconnect_notice', (m) => {
      notice = m;
      listener.notice(m);
    });
    socket.on('hello', (hello) => listener.hello(hello));
    socket.on('error', (m) => listener.error(m));
    socket.onAny((event: string, message: unknown) => {
      if (event === 'hello' || event === 'error' || event === 'disconnect_notice') return;
      if (message && typeof message === 'object') listener.push(message as ServerMessage);
    });
    return {
      request(type, payload, ack) {
        const emit = socket.emit as unknown as (event: string, body: unknown, ack: (reply: unknown) => void) => void;
        emit.call(socket, type, payload, ack);
      },
      close,
    };
  };
}
