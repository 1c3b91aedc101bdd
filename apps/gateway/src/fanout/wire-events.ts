import type { SessionEventOf, SessionStreamEvent } from '@chorus/contracts';
import { refusalForMembers, type Role, type ServerMessageOf } from '@chorus/protocol';

/** The wire message of a durable event (every one carries the event's `seq`). */
export type WireEvent =
  | ServerMessageOf<'peer_joined'>
  | ServerMessageOf<'peer_left'>
  | ServerMessageOf<'chat_message'>
  | ServerMessageOf<'message_update'>
  | ServerMessageOf<'message_delete'>
  | ServerMessageOf<'session_event'>;

/**
 * A durable session event as its wire message. Events with a dedicated message (peer_joined, peer_left,
 * chat_message) use it; every other durable event travels as `session_event`, so `seq` stays continuous.
 * Exhaustive: a new event type does not compile until it is given its message here.
 */
export function toWireEvent(e: SessionStreamEvent): WireEvent {
  switch (e.type) {
    case 'peer_joined': {
      const { peer_id, user_id, display_name, kind, role } = e.payload;
      return { type: 'peer_joined', session_id: e.session_id, peer_id, user_id, display_name, kind, role, seq: e.seq };
    }
    case 'peer_left':
      return { type: 'peer_left', session_id: e.session_id, peer_id: e.payload.peer_id, user_id: e.payload.user_id, seq: e.seq };
    case 'chat_message':
      return chatMessage(e);
    case 'message_update':
      return messageUpdate(e);
    case 'message_delete':
      return messageDelete(e);
    case 'session_created':
    case 'session_deleted':
    case 'invite_created':
    case 'invite_revoked':
    case 'invite_redeemed':
    case 'participant_added':
    case 'participant_left':
    case 'role_changed':
    case 'participant_removed':
    case 'agent_added':
    case 'agent_revoked':
    case 'prompt_queued':
    case 'prompt_cancelled':
    case 'prompt_assigned':
    case 'prompt_released':
    case 'prompt_completed':
    case 'agent_output':
    case 'document_edited':
    case 'agent_status_changed':
    case 'file_rules_updated':
    case 'conflict_resolved':
    case 'session_updated':
    case 'file_lock_acquired':
    case 'file_lock_released':
    case 'yjs_document_created':
    case 'yjs_version_restored':
    case 'yjs_version_saved':
      return genericEvent(e);
    case 'access_refused':
      // Members see who was refused what, not on which resource (a path may be hidden from them); the audit
      // export keeps it (docs/authorization.md "Audit visibility").
      return genericEvent({ ...e, payload: refusalForMembers(e.payload) });
    default:
      // What clients are promised for an event type they do not know: `session_event`, seq kept.
      return genericEvent(fromNewerService(e));
  }
}

/** A chat message as pushed to the others and as the ack of its sender (`timestamp`: when it was stored). */
export function chatMessage(e: SessionEventOf<'chat_message'>): ServerMessageOf<'chat_message'> {
  const p = e.payload;
  return {
    type: 'chat_message',
    session_id: e.session_id,
    peer_id: p.peer_id,
    user_id: p.user_id,
    display_name: p.display_name,
    message: p.message,
    ...(p.client_msg_id !== undefined ? { client_msg_id: p.client_msg_id } : {}),
    timestamp: Date.parse(e.created_at),
    seq: e.seq,
  };
}

/** A chat edit as pushed to every member and as the ack of its author (`edited_at`: when it was stored). */
export function messageUpdate(e: SessionEventOf<'message_update'>): ServerMessageOf<'message_update'> {
  const p = e.payload;
  return { type: 'message_update', session_id: e.session_id, message_seq: p.message_seq, peer_id: p.peer_id, user_id: p.user_id, message: p.message, edited_at: Date.parse(e.created_at), seq: e.seq };
}

/** A chat deletion as pushed to every member and as the ack of whoever deleted it. */
export function messageDelete(e: SessionEventOf<'message_delete'>): ServerMessageOf<'message_delete'> {
  const p = e.payload;
  return { type: 'message_delete', session_id: e.session_id, message_seq: p.message_seq, user_id: p.user_id, deleted_by: p.deleted_by, deleted_at: Date.parse(e.created_at), seq: e.seq };
}

/**
 * Only compiles where every declared type was handled (`e` is then `never`). At run time it is reached by an event
 * type this gateway does not know yet: one from a newer session service, during a rolling deploy.
 */
function fromNewerService(e: never): SessionStreamEvent {
  return e;
}

function genericEvent(e: SessionStreamEvent): ServerMessageOf<'session_event'> {
  return { type: 'session_event', session_id: e.session_id, seq: e.seq, event_type: e.type, actor: e.actor, payload: e.payload, created_at: e.created_at };
}

/** What a durable event changes for live connections of the session. */
export type MembershipEffect = { kind: 'role'; user_id: string; role: Role } | { kind: 'removed'; user_id: string; reason: string } | { kind: 'session_deleted' } | null;

/**
 * Exhaustive like `toWireEvent`: each new event type must say whether live connections act on it. (Today an
 * `invite_redeemed` that raised an existing participant's role has no effect: its open sockets keep the old
 * role until they join again.)
 */
export function membershipEffect(e: SessionStreamEvent): MembershipEffect {
  switch (e.type) {
    case 'role_changed':
      return { kind: 'role', user_id: e.payload.user_id, role: e.payload.to };
    case 'participant_removed':
      return { kind: 'removed', user_id: e.payload.user_id, reason: 'You were removed from the session.' };
    case 'participant_left':
      return { kind: 'removed', user_id: e.payload.user_id, reason: 'You left the session.' };
    case 'session_deleted':
      return { kind: 'session_deleted' };
    case 'peer_joined':
    case 'peer_left':
    case 'chat_message':
    case 'message_update':
    case 'message_delete':
    case 'session_created':
    case 'invite_created':
    case 'invite_revoked':
    case 'invite_redeemed':
    case 'participant_added':
    case 'agent_added':
    case 'agent_revoked':
    case 'prompt_queued':
    case 'prompt_cancelled':
    case 'prompt_assigned':
    case 'prompt_released':
    case 'prompt_completed':
    case 'agent_output':
    case 'document_edited':
    case 'agent_status_changed':
    case 'file_rules_updated':
    case 'conflict_resolved':
    case 'session_updated':
    case 'access_refused':
    case 'file_lock_acquired':
    case 'file_lock_released':
    case 'yjs_document_created':
    case 'yjs_version_restored':
    case 'yjs_version_saved':
      return null;
    default:
      // A type from a newer session service: this gateway knows no effect of it.
      fromNewerService(e);
      return null;
  }
}
