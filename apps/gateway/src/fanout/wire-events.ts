import type { SessionStreamEvent } from '@chorus/contracts';
import type { ServerMessage } from '@chorus/protocol';

type Payload = Record<string, unknown>;
const str = (p: Payload, k: string): string => (typeof p[k] === 'string' ? (p[k] as string) : '');

/**
 * A durable session event as its wire message. Events with a dedicated message (peer_joined, peer_left,
 * chat_message) use it; every other durable event travels as `session_event`, so `seq` stays continuous.
 */
export function toWireEvent(e: SessionStreamEvent): ServerMessage {
  const p = e.payload;
  switch (e.type) {
    case 'peer_joined':
      return {
        type: 'peer_joined',
        session_id: e.session_id,
        peer_id: str(p, 'peer_id'),
        user_id: str(p, 'user_id'),
        display_name: str(p, 'display_name'),
        kind: p.kind === 'agent' ? 'agent' : 'human',
        role: (str(p, 'role') || 'viewer') as 'viewer',
        seq: e.seq,
      };
    case 'peer_left':
      return { type: 'peer_left', session_id: e.session_id, peer_id: str(p, 'peer_id'), user_id: str(p, 'user_id'), seq: e.seq };
    case 'chat_message':
      return {
        type: 'chat_message',
        session_id: e.session_id,
        peer_id: str(p, 'peer_id'),
        user_id: str(p, 'user_id'),
        display_name: str(p, 'display_name'),
        message: str(p, 'message'),
        ...(typeof p.client_msg_id === 'string' ? { client_msg_id: p.client_msg_id } : {}),
        timestamp: Date.parse(e.created_at),
        seq: e.seq,
      };
    default:
      return { type: 'session_event', session_id: e.session_id, seq: e.seq, event_type: e.type, actor: e.actor, payload: p, created_at: e.created_at };
  }
}

/** What a durable event changes for live connections of the session. */
export type MembershipEffect = { kind: 'role'; user_id: string; role: string } | { kind: 'removed'; user_id: string; reason: string } | { kind: 'session_deleted' } | null;

export function membershipEffect(e: SessionStreamEvent): MembershipEffect {
  const p = e.payload;
  switch (e.type) {
    case 'role_changed':
      return { kind: 'role', user_id: str(p, 'user_id'), role: str(p, 'to') };
    case 'participant_removed':
      return { kind: 'removed', user_id: str(p, 'user_id'), reason: 'You were removed from the session.' };
    case 'participant_left':
      return { kind: 'removed', user_id: str(p, 'user_id'), reason: 'You left the session.' };
    case 'session_deleted':
      return { kind: 'session_deleted' };
    default:
      return null;
  }
}
