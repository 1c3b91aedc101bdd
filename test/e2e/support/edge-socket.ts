import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION, type ServerMessage } from '@chorus/protocol';
import { withDeadline } from '@chorus/testing';

// Raw socket.io-client helpers for edge specs that control the handshake and whether an ack callback is given.

export type ErrorMessage = Extract<ServerMessage, { type: 'error' }>;
export type ConnectError = Error & { data?: ErrorMessage };

/** Opens a real socket with the given handshake auth; resolves with the socket or the `connect_error`. */
export function handshake(url: string, auth: Record<string, unknown>): Promise<{ socket: Socket } | { error: ConnectError }> {
  const socket = io(url, { transports: ['websocket'], auth, reconnection: false, forceNew: true });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (error: ConnectError) => {
      socket.close();
      resolve({ error });
    });
  });
}

export async function connected(url: string, token: string): Promise<Socket> {
  const result = await handshake(url, { token, protocol_version: PROTOCOL_VERSION });
  if ('error' in result) throw new Error(`connect_error: ${result.error.message}`);
  return result.socket;
}

/** The next `error` push matching `id` (a request sent without an ack callback learns of its failure this way). */
export function errorPush(socket: Socket, id: string | number): Promise<ErrorMessage> {
  return withDeadline(
    `an error push with id ${id}`,
    new Promise((resolve) => {
      const listener = (m: ErrorMessage) => {
        if (m.id !== id) return;
        socket.off('error', listener);
        resolve(m);
      };
      socket.on('error', listener);
    }),
  );
}
