import type { Server, Socket } from 'socket.io';
import type { Identity } from '@chorus/auth';
import type { Audience, ConflictApi, PresenceApi, TypedClient } from '@chorus/contracts';
import type { ClientMessageOf, ClientMessageType, ReplyOf, Role, ServerMessage } from '@chorus/protocol';
import type { ChannelHistory } from '../channels/channel-history';
import type { ChannelStreams } from '../channels/channel-streams';
import type { PresenceBatcher } from '../fanout/presence-batcher';
import type { SessionStreams } from '../fanout/session-streams';
import type { SessionRouter } from '../routing/session.router';
import type { GatewayMetrics } from './gateway.metrics';

/** One socket's membership of one session: its peer id there and its current role (kept live). */
export interface Membership {
  readonly session_id: string;
  readonly peer_id: string;
  role: Role;
}

/** What the gateway keeps per socket (in `socket.data`). */
export interface ConnectionState {
  readonly identity: Identity;
  readonly memberships: Map<string, Membership>;
  /** The client's address as every limiter sees it (TRUSTED_PROXIES applied). */
  readonly address: string;
}

export type ChorusSocket = Socket<Record<string, never>, Record<string, (message: ServerMessage) => void>, Record<string, never>, ConnectionState>;

/** Room names: every socket of a session, of a document, of one peer (for targeted pushes), of a channel. */
export const rooms = {
  session: (sessionId: string) => `s:${sessionId}`,
  channel: (sessionId: string, channel: string) => `c:${sessionId}:${channel}`,
  document: (sessionId: string, docId: string) => `d:${sessionId}:${docId}`,
  peer: (sessionId: string, peerId: string) => `p:${sessionId}:${peerId}`,
};

/** Everything a message handler may use. */
export interface GatewayDeps {
  readonly io: Server;
  readonly nodeId: string;
  readonly sessions: SessionRouter;
  readonly presence: TypedClient<PresenceApi>;
  readonly conflict: TypedClient<ConflictApi>;
  readonly streams: SessionStreams;
  /** Channel subscriptions on this node, and the channels' history (shared by every gateway). */
  readonly channels: ChannelStreams;
  readonly channelHistory: ChannelHistory;
  readonly metrics: GatewayMetrics;
  /** Presence broadcasts, batched per session (at most 20 frames a second). */
  readonly presenceOut: PresenceBatcher;
  /** Sends one message to one socket (counted in metrics). */
  send(socket: ChorusSocket, message: ServerMessage): void;
  /**
   * Pushes to an audience of the session's members on every gateway, except the peer `exceptPeer`: published to
   * the fan-out (the one outbound road), written to sockets by each gateway's hub when it arrives — this
   * gateway's own sockets included. Fire and forget: a failed publish is logged and counted here.
   */
  push(sessionId: string, audience: Audience, message: ServerMessage, exceptPeer?: string): void;
}

export type Handler<T extends ClientMessageType> = (socket: ChorusSocket, message: ClientMessageOf<T>, deps: GatewayDeps) => Promise<Omit<ReplyOf<T>, 'id'>>;
export type HandlerTable = { [T in ClientMessageType]: Handler<T> };
