import type { ServerMessage } from '@chorus/protocol';

/**
 * One server message as a Server-Sent Events frame for read-only clients (the seed CLI's listener, a browser's
 * EventSource), or null for what such a client does not follow (document ops, cursors, typing, replies).
 * Event names and fields follow the seed: every frame's data is `{source_user_id, data}`. Durable events carry
 * `id: <seq>`, so `Last-Event-ID` resumes after the last one seen; ephemeral ones (partial output, queue
 * positions, agent status, presence) carry no id.
 */
export function sseFrame(message: ServerMessage): string | null {
  switch (message.type) {
    case 'peer_joined': {
      const { type: _t, session_id: _s, seq, ...data } = message;
      return frame('participant_joined', message.user_id, data, seq);
    }
    case 'peer_left': {
      const { type: _t, session_id: _s, seq, ...data } = message;
      return frame('participant_left', message.user_id, data, seq);
    }
    case 'chat_message': {
      const { type: _t, session_id: _s, seq, id: _i, ...data } = message;
      return frame('chat_message', message.user_id, data, seq);
    }
    case 'session_event': {
      const p = message.payload as Record<string, unknown>;
      if (message.event_type === 'prompt_queued') return frame('user_message', message.actor, p, message.seq);
      if (message.event_type === 'agent_output' && typeof p.kind === 'string') return frame(p.kind, message.actor, p, message.seq);
      return frame('session_event', message.actor, { event_type: message.event_type, payload: message.payload, created_at: message.created_at }, message.seq);
    }
    case 'agent_output': {
      const { type: _t, session_id: _s, ...data } = message;
      return frame('partial_response', message.agent_id, data);
    }
    case 'agent_output_so_far': {
      // As one chunk holding the text so far (index: the last chunk in it), so a reader that appends chunks
      // gets the whole text; `so_far` marks it. Later chunks have higher indexes.
      const { type: _t, session_id: _s, through_index, text, ...rest } = message;
      return frame('partial_response', message.agent_id, { ...rest, kind: 'partial_response', index: through_index, data: text, so_far: true });
    }
    case 'queue_updated': {
      const { type: _t, session_id: _s, ...data } = message;
      return frame('queue_updated', null, data);
    }
    case 'agent_status': {
      const { type: _t, session_id: _s, id: _i, ...data } = message;
      return frame('agent_status', message.agent_id, data);
    }
    case 'presence_batch':
      return frame('presence', null, { peers: message.peers });
    default:
      return null;
  }
}

function frame(event: string, sourceUserId: string | null, data: unknown, seq?: number): string {
  // JSON has no raw newline, so the data is one `data:` line.
  const body = JSON.stringify({ source_user_id: sourceUserId, data });
  return `${seq !== undefined ? `id: ${seq}\n` : ''}event: ${event}\ndata: ${body}\n\n`;
}

/** `Last-Event-ID` as a seq, or undefined (absent or not a seq: start live). */
export function parseLastEventId(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}
