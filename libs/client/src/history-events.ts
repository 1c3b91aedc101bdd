import type { ServerMessageOf, SessionEventView } from '@chorus/protocol';
import type { ChorusRest } from './rest';

/** The pushes that carry a session `seq`. */
export type DurablePush = ServerMessageOf<'chat_message' | 'message_update' | 'message_delete' | 'peer_joined' | 'peer_left' | 'session_event'>;

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
    // History shows a chat message as it is now (latest text; "" once deleted): the edits and the deletion
    // that follow it in the stream, applied in order, end in the same state.
    case 'message_update': {
      const p = e.payload;
      return { type: 'message_update', session_id: sessionId, message_seq: p.message_seq, peer_id: p.peer_id, user_id: p.user_id, message: p.message, edited_at: Date.parse(e.created_at), seq: e.seq };
    }
    case 'message_delete': {
      const p = e.payload;
      return { type: 'message_delete', session_id: sessionId, message_seq: p.message_seq, user_id: p.user_id, deleted_by: p.deleted_by, deleted_at: Date.parse(e.created_at), seq: e.seq };
    }
    default: {
      // Every other type, including one a newer server added: the generic push, payload as stored.
      const other: { type: string; payload: Record<string, unknown>; seq: number; actor: string; created_at: string } = e;
      return { type: 'session_event', session_id: sessionId, seq: other.seq, event_type: other.type, actor: other.actor, payload: other.payload, created_at: other.created_at };
    }
  }
}

/**
 * The session stream (from, to] paged over REST, as pushes. Our own current join is left out, as the replay
 * leaves it out (its `joined` ack is ours): the last `peer_joined` of our peer id in the range.
 */
export async function historyPushes(rest: ChorusRest, sessionId: string, from: number, to: number, ownPeerId: string): Promise<DurablePush[]> {
  const events: SessionEventView[] = [];
  for (let after = from; after < to; ) {
    const page = await rest.history(sessionId, after, 1_000);
    events.push(...page.events.filter((e) => e.seq <= to));
    if (page.next_after_seq === null || page.events.length === 0) break;
    after = page.next_after_seq;
  }
  let ownJoin = -1;
  events.forEach((e, i) => {
    if (e.type === 'peer_joined' && e.payload.peer_id === ownPeerId) ownJoin = i;
  });
  return events.filter((_, i) => i !== ownJoin).map((e) => historyToPush(sessionId, e));
}
