import type { Socket } from 'socket.io';
import type { Identity, IceSettings } from '@chorus/auth';
import type { Audience, ConflictApi, PresenceApi, TypedClient } from '@chorus/contracts';
import type { ClientMessageOf, ClientMessageType, DisconnectNotice, ReplyOf, Role, ServerMessage } from '@chorus/protocol';
import type { AgentDispatch } from '../agents/agent-dispatch';
import type { ChannelHistory } from '../channels/channel-history';
import type { ChannelStreams } from '../channels/channel-streams';
import type { FileRulesCache } from '../files/file-rules.cache';
import type { PeerPrincipals } from '../files/file-sync-rules';
import type { PresenceBatcher } from '../fanout/presence-batcher';
import type { SessionStreams } from '../fanout/session-streams';
import type { FileCache } from '../files/file-cache';
import type { FileSyncStore } from '../files/file-sync.store';
import type { SessionRouter } from '../routing/session.router';
import type { YjsDocs } from '../yjs/yjs-docs';
import type { GatewayMetrics } from './gateway.metrics';

/** One socket's membership of one session: its peer id there and its current role (kept live). */
export interface Membership {
  readonly session_id: string;
  readonly peer_id: string;
  role: Role;
}

/** What the gateway keeps per connection (Socket.IO: in `socket.data`). */
export interface ConnectionState {
  readonly identity: Identity;
  readonly memberships: Map<string, Membership>;
  /** The client's address as every limiter sees it (TRUSTED_PROXIES applied). */
  readonly address: string;
  /** The access token's expiry (ms): the edge closes the connection with `reauthenticate` then, unless `reauth` moves it. */
  tokenExpiresAtMs: number;
}

export type ChorusSocket = Socket<Record<string, never>, Record<string, (message: ServerMessage) => void>, Record<string, never>, ConnectionState>;

/**
 * One client connection, whatever its transport (a Socket.IO socket or a plain `/ws` WebSocket): everything the
 * handlers, membership, limits and shutdown use. One protocol, two transports — no handler knows which it has.
 * Pushes never go through here: the local hub writes them (fanout/local-hub.ts); `send` is for the replies and
 * notices of this one connection.
 */
export interface Connection {
  /** Unique on this node (and in practice cluster-wide): the stream relay, limiter and registry key on it. */
  readonly id: string;
  readonly transport: 'socket.io' | 'ws';
  /** Set once authenticated; a connection without it never reaches a handler. */
  readonly data: ConnectionState;
  /** The rooms (rooms.*) this connection is in on this node. */
  readonly rooms: ReadonlySet<string>;
  join(room: string | string[]): void | Promise<void>;
  leave(room: string): void | Promise<void>;
  /** Writes one message to this connection only. */
  send(message: ServerMessage): void;
  /**
   * Ends the connection, telling the client why first (`disconnect_notice`; on /ws also the close code). A notice
   * that allows reconnecting closes the transport, so Socket.IO clients reconnect on their own; one that does not
   * is a server-side disconnect.
   */
  close(notice: DisconnectNotice): void;
  /** Whether the connection is still open. */
  readonly open: boolean;
}

/** A Socket.IO socket as a Connection (one small wrapper per socket, kept in the registry of live connections). */
export class SocketIoConnection implements Connection {
  readonly transport = 'socket.io';

  constructor(readonly socket: ChorusSocket) {}

  get id(): string {
    return this.socket.id;
  }

  get data(): ConnectionState {
    return this.socket.data;
  }

  get rooms(): ReadonlySet<string> {
    return this.socket.rooms;
  }

  get open(): boolean {
    return this.socket.connected;
  }

  join(room: string | string[]): void | Promise<void> {
    return this.socket.join(room);
  }

  leave(room: string): void | Promise<void> {
    return this.socket.leave(room);
  }

  send(message: ServerMessage): void {
    this.socket.emit(message.type, message);
  }

  close(notice: DisconnectNotice): void {
    // engine.io flushes its write buffer before it closes the transport: the notice arrives first.
    this.send(notice);
    if (notice.reconnect) this.socket.conn.close();
    else this.socket.disconnect(true);
  }
}

/** Room names: every socket of a session, of a document, of one peer (for targeted pushes), of a channel. */
export const rooms = {
  session: (sessionId: string) => `s:${sessionId}`,
  channel: (sessionId: string, channel: string) => `c:${sessionId}:${channel}`,
  document: (sessionId: string, docId: string) => `d:${sessionId}:${docId}`,
  peer: (sessionId: string, peerId: string) => `p:${sessionId}:${peerId}`,
};

/** Everything a message handler may use. */
export interface GatewayDeps {
  readonly nodeId: string;
  readonly sessions: SessionRouter;
  readonly presence: TypedClient<PresenceApi>;
  readonly conflict: TypedClient<ConflictApi>;
  readonly streams: SessionStreams;
  /** Channel subscriptions on this node, and the channels' history (shared by every gateway). */
  readonly channels: ChannelStreams;
  readonly channelHistory: ChannelHistory;
  readonly metrics: GatewayMetrics;
  /** The STUN/TURN servers handed to voice members (VOICE_* configuration). */
  readonly ice: IceSettings;
  /**
   * File sync (docs/file-sync.md): the shared host/offer state, the per-connection bytes-per-second cap, and the
   * content-addressed cache (absent: off).
   */
  readonly fileSync: { readonly store: FileSyncStore; readonly bytesPerSecond: number; readonly cache?: FileCache; readonly principals: PeerPrincipals };
  /** Idle agents pushed `prompt_assigned`; the text so far of agents' responses for joiners (docs/agents.md). */
  readonly agents: AgentDispatch;
  /** Presence broadcasts, batched per session (at most 20 frames a second). */
  readonly presenceOut: PresenceBatcher;
  /** Per-file path rules of each session, checked on every document action (docs/files.md). */
  readonly files: FileRulesCache;
  /** Sends one message to one connection (counted in metrics). */
  send(connection: Connection, message: ServerMessage): void;
  /**
   * Pushes to an audience of the session's members on every gateway, except the peer `exceptPeer`: published to
   * the fan-out (the one outbound road), written to sockets by each gateway's hub when it arrives — this
   * gateway's own sockets included. Fire and forget: a failed publish is logged and counted here.
   */
  push(sessionId: string, audience: Audience, message: ServerMessage, exceptPeer?: string): void;
  /** Yjs documents on this node (docs/yjs.md). */
  readonly yjs?: YjsDocs;
}

export type Handler<T extends ClientMessageType> = (connection: Connection, message: ClientMessageOf<T>, deps: GatewayDeps) => Promise<Omit<ReplyOf<T>, 'id'>>;
export type HandlerTable = { [T in ClientMessageType]: Handler<T> };
