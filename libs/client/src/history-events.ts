import type { ServerMessageOf, SessionEventView } from '@chorus/protocol';

/** The four pushes that carry a session `seq`. */
export type DurablePush = ServerMessageOf<'chat_message' | 'peer_joined' | 'peer_left' | 'session_event'>;

const str = (p: Record<string, unknown>, key: string): string => (typeof p[key] === 'string' ? (p[key] as string) : '');

/**
 * A REST history event (the stored form) as the push the gateway would have sent for it (the mapping of
 * apps/gateway/src/fanout/wire-events.ts), so that an app handles one shape whether an event arrived live,
 * replayed, or paged over REST during a recovery.
 */
export function historyToPush(sessionId: string, e: SessionEventView): DurablePush {
  const p = e.payload;
  switch (e.type) {
    case 'peer_joined':
      return {
        type: 'peer_joined',
        session_id: sessionId,
        peer_id: str(p, 'peer_id'),
        user_id: str(p, 'user_id'),
        display_name: str(p, 'display_name'),
        kind: p.kind === 'agent' ? 'agent' : 'human',
        role: (str(p, 'role') || 'viewer') as ServerMessageOf<'peer_joined'>['role'],
        seq: e.seq,
      };
    case 'peer_left':
      return { type: 'peer_left', session_id: sessionId, peer_id: str(p, 'peer_id'), user_id: str(p, 'user_id'), seq: e.seq };
    case 'chat_message':
      return {
        type: 'chat_message',
        session_id: sessionId,
        peer_id: str(p, 'peer_id'),
        user_id: str(p, 'user_id'),
        display_name: str(p, 'display_name'),
        message: str(p, 'message'),
        ...(typeof p.client_msg_id === 'string' ? { client_msg_id: p.client_msg_id } : {}),
        timestamp: Date.parse(e.created_at),
        seq: e.seq,
      };
    default:
      return { type: 'session_event', session_id: sessionId, seq: e.seq, event_type: e.type, actor: e.actor, payload: p, created_at: e.created_at };
  }
}
