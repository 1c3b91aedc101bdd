import type { PresenceEvent } from '@chorus/contracts';
import type { PresenceState, PresenceView } from './presence.types';

/**
 * What PresenceService asks the caller to broadcast to a session: the contract's presence events (libs/contracts,
 * derived from the libs/protocol messages), plain snake_case data. presence_update goes through a coalescer.
 */
export type { PresenceEvent };

export type PresenceUpdateEvent = Extract<PresenceEvent, { type: 'presence_update' }>;
export type TypingEvent = Extract<PresenceEvent, { type: 'typing_start' | 'typing_stop' }>;

export function presenceUpdate(view: PresenceView): PresenceUpdateEvent {
  return { type: 'presence_update', ...view };
}

export function typingEvent(type: TypingEvent['type'], state: PresenceState, docId: string | null): TypingEvent {
  return { type, session_id: state.session_id, peer_id: state.peer_id, user_id: state.user_id, doc_id: docId };
}
