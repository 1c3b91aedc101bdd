import type { ServerMessageOf, SessionEventView } from '@chorus/protocol';

export type DurablePush = ServerMessageOf<'chat_message' | 'peer_joined' | 'peer_left' | 'session_event'>;

/**
 * A REST history event (the stored form) as the push the gateway would have sent for it (the mapping of
 * apps/gateway/src/fanout/wire-events.ts), so that an app handles one shape whether an event arrived live,
 * replayed, or paged over REST during a recovery.
 */
export function historyToPush(sessionId: string, e: SessionEventView): DurablePush {
  switch (e.type) {
    case 'peer_joined': {
      const { peer_id, user_id, display_name, kind, role } = e.payload;
      return { type: 'peer_joined', session_id: sessionId, peer_id, user_id, display_name, kind, role, seq: e.seq };
    }
    case 'peer_left':
      return { type: 'peer_left', session_id: sessionId, peer_id: e.payload.peer_id, user_id: e.payload.user_id, seq: e.seq };
    case 'chat_message': {
      const p = e.payload;
      return {
        type: 'chat_message',
        session_id: sessionId,
        peer_id: p.peer_id,
        user_id: p.user_id,
        display_name: p.display_name,
        message: p.message,
        ...(p.client_msg_id === undefined ? {} : { client_msg_id: p.client_msg_id }),
        timestamp: Date.parse(e.created_at),
        seq: e.seq,
      };
    }
    default: {
      // Every other type, including one a newer server added: the generic push, payload as stored.
      const other: { type: string; payload: Record<string, unknown>; seq: number; actor: string; created_at: string } = e;
      return { type: 'session_event', session_id: sessionId, seq: other.seq, event_type: other.type, actor: other.actor, payload: other.payload, created_at: other.created_at };
    }
  }
}
