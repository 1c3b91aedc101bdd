import type {
  CreateInviteBody,
  CreateSessionBody,
  HistoryPage,
  HistoryQuery,
  InviteCreated,
  JoinGrantView,
  ParticipantView,
  Role,
  SessionEventBody,
  SessionEventType,
  SessionView,
} from '@chorus/protocol';
import type { Identity, JoinGrant } from '@chorus/auth';
import type { AgentApi } from './agents.contract';
import type { FileRulesApi } from './files.contract';
import type { SessionAdminApi } from './session-admin.contract';

/**
 * The session service's transport contract: pattern → request and response. The gateway calls it through
 * a typed client; the service's handlers implement it. Requests carry the caller's identity as verified by
 * the gateway (the transport is internal and trusted; clients never talk to it).
 */
export interface SessionApi extends AgentApi, SessionAdminApi, FileRulesApi {
  'session.create': { req: { actor: Identity; body: CreateSessionBody }; res: SessionView };
  'session.list': { req: { actor: Identity }; res: SessionView[] };
  'session.get': { req: { actor: Identity; session_id: string }; res: SessionView };
  'session.delete': { req: { actor: Identity; session_id: string }; res: { deleted: true } };
  'invite.create': { req: { actor: Identity; session_id: string; body: CreateInviteBody }; res: InviteCreated };
  'invite.revoke': { req: { actor: Identity; session_id: string; invite_id: string }; res: { revoked: true } };
  'invite.redeem': { req: { actor: Identity; code: string; password?: string }; res: JoinGrantView & { change: MembershipChange | null } };
  'session.join': { req: { actor: Identity; session_id: string; password?: string }; res: JoinGrantView };
  'session.leave': { req: { actor: Identity; session_id: string }; res: MembershipChange };
  'participant.list': { req: { actor: Identity; session_id: string }; res: ParticipantView[] };
  'participant.update_role': { req: { actor: Identity; session_id: string; user_id: string; role: Role }; res: MembershipChange };
  'participant.remove': { req: { actor: Identity; session_id: string; user_id: string }; res: MembershipChange };
  'session.history': { req: { actor: Identity; session_id: string; query: HistoryQuery }; res: HistoryPage };
  /** Of these session ids (≤ 1,000 UUIDs), those deleted or no longer existing: the conflict service's purge backstop asks. */
  'session.gone': { req: { session_ids: string[] }; res: { gone: string[] } };

  // ---- live connections (called by gateways and by the presence service) ----
  /** A socket joins: checks the grant against current membership, appends `peer_joined`. */
  'session.connect': { req: { grant: JoinGrant; peer_id: string }; res: { role: Role; event: SessionEventOf<'peer_joined'>; participants: ParticipantView[] } };
  /**
   * A socket leaves or disconnects, or its presence lease expired: appends `peer_left` (null if not a participant any more).
   * `expiry_key` names one lease expiry (presence derives it from the lease): every retry of that expiry, from any
   * replica, appends one peer_left. Without it, deduplicated per transport request.
   */
  'session.disconnect': { req: { session_id: string; user_id: string; peer_id: string; reason: 'left' | 'disconnected' | 'expired'; expiry_key?: string }; res: SessionEventOf<'peer_left'> | null };
  /** Deduplicated per user by `client_msg_id` (a resend gets the stored event), else per transport request. */
  'session.chat': { req: { session_id: string; user: Identity; peer_id: string; message: string; client_msg_id?: string }; res: SessionEventOf<'chat_message'> };
  /** The author replaces a chat message's text: appends `message_update` (a resend of the latest text gets that edit). */
  'session.chat_edit': { req: { session_id: string; user: Identity; peer_id: string; seq: number; message: string }; res: SessionEventOf<'message_update'> };
  /** The author, an owner or an admin deletes a chat message: appends `message_delete` once (a repeat gets that one). */
  'session.chat_delete': { req: { session_id: string; user: Identity; seq: number }; res: SessionEventOf<'message_delete'> };
  /** Durable events after `after_seq` for replay (the caller must be a participant). */
  'session.events': { req: { session_id: string; user_id: string; after_seq: number; limit: number }; res: { events: SessionStreamEvent[]; head: number } };
}

/**
 * One durable event of a session's stream, as stored: discriminated on `type`, with the payload of that type
 * (libs/protocol `SESSION_EVENT_PAYLOADS`, the one declaration). The gateway maps it to its wire message.
 */
export type SessionStreamEvent = SessionEventBody & {
  readonly session_id: string;
  readonly seq: number;
  /** The user id (or `system`) that caused it. */
  readonly actor: string;
  readonly created_at: string;
};

/** The stored event of one type. */
export type SessionEventOf<T extends SessionEventType> = Extract<SessionStreamEvent, { readonly type: T }>;

/** A change to a participant that live connections must act on (downgrade or disconnect) within seconds. */
export interface MembershipChange {
  readonly session_id: string;
  readonly user_id: string;
  /** The new role, or null when the participant left or was removed. */
  readonly role: Role | null;
  readonly seq: number;
}

export type SessionPattern = keyof SessionApi;
