import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import type { VerifiedAccess } from '@chorus/auth';
import type { DisconnectNotice, ServerMessage } from '@chorus/protocol';
import type { RoomMember, WsRooms } from '../fanout/ws-rooms';
import type { Connection, ConnectionState } from '../socket/connection';

/**
 * One /ws WebSocket as a Connection. Its rooms live in the node's WsRooms, where the hub finds it for pushes;
 * replies and notices are written here. Frames are handled one at a time, in the order they arrived (`enqueue`):
 * a plain-WebSocket client has no acks to wait for, so `join` then `chat_message` sent back to back must run in
 * that order.
 */
export class WsConnection implements Connection, RoomMember {
  readonly transport = 'ws';
  /** Distinct from Socket.IO ids (which never start with `ws-`): both share the stream relay and the limiter. */
  readonly id = `ws-${randomBytes(12).toString('base64url')}`;
  /** Cleared at every heartbeat tick, set by the pong: a connection still false at the next tick is dead. */
  alive = true;
  /** Frames other than `auth` answered before authentication (bounded: ws.gateway.ts). */
  unauthenticatedFrames = 0;
  /** Closes the connection if it is still unauthenticated (WS_AUTH_TIMEOUT_MS); cleared once authenticated. */
  authDeadline: NodeJS.Timeout | undefined;
  private state: ConnectionState | undefined;
  private readonly joined = new Set<string>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly ws: WebSocket,
    private readonly index: WsRooms,
    private readonly address: string,
  ) {}

  get authenticated(): boolean {
    return this.state !== undefined;
  }

  get data(): ConnectionState {
    if (!this.state) throw new Error(`connection ${this.id} is not authenticated`);
    return this.state;
  }

  get rooms(): ReadonlySet<string> {
    return this.joined;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** From now on the connection is a member of the node: handlers may run, the hub may write to it. */
  authenticate(access: VerifiedAccess): void {
    this.state = { identity: access.identity, memberships: new Map(), address: this.address, tokenExpiresAtMs: access.expires_at_ms };
    this.index.register(this);
  }

  join(room: string | string[]): void {
    for (const r of typeof room === 'string' ? [room] : room) {
      this.joined.add(r);
      this.index.add(r, this);
    }
  }

  leave(room: string): void {
    this.joined.delete(room);
    this.index.remove(room, this);
  }

  send(message: ServerMessage): void {
    this.sendEncoded(Buffer.from(JSON.stringify(message)));
  }

  sendEncoded(frame: Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame, { binary: false });
  }

  sendBinary(frame: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame, { binary: true });
  }

  close(notice: DisconnectNotice): void {
    // The notice, then the close frame with the same code (the close reason is limited to 123 bytes: the name).
    this.send(notice);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(notice.code, notice.name);
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  /** Drops the TCP connection at once, without a close handshake (a peer that stopped answering). */
  terminate(): void {
    this.ws.terminate();
  }

  /** Runs frame handling in arrival order; a failure is the caller's to report (it never breaks the chain). */
  enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(work, work);
  }

  /** The transport is gone: out of every room (memberships are ended by the edge). */
  released(): void {
    this.index.unregister(this, this.joined);
  }
}
