import type { PresenceState, PresenceView } from './presence.types';

/**
 * What PresenceService asks the caller to broadcast to a session. Plain data, snake_case like the wire;
 * the lead's handlers map them onto libs/protocol messages (presence_update goes through a Coalescer).
 */
export type PresenceEvent =
  | PresenceUpdateEvent
  | { type: 'presence_left'; session_id: string; peer_id: string; user_id: string }
  /**
   * The peer's lease ran out (its gateway died or lost it). user_id/node_id/lease_expires_at are null only if its
   * state was lost. lease_expires_at names this one expiry (the same peer may expire again with a later lease).
   */
  | { type: 'peer_expired'; session_id: string; peer_id: string; user_id: string | null; node_id: string | null; lease_expires_at: number | null }
  | TypingEvent;

export type PresenceUpdateEvent = { type: 'presence_update' } & PresenceView;

export interface TypingEvent {
  type: 'typing_start' | 'typing_stop';
  session_id: string;
  peer_id: string;
  user_id: string;
  doc_id: string | null;
}

export function presenceUpdate(view: PresenceView): PresenceUpdateEvent {
  return { type: 'presence_update', ...view };
}

export function typingEvent(type: TypingEvent['type'], state: PresenceState, docId: string | null): TypingEvent {
  return { type, session_id: state.session_id, peer_id: state.peer_id, user_id: state.user_id, doc_id: docId };
}
