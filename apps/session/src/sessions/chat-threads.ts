import type { SessionEventOf } from '@chorus/contracts';
import type { StoredSessionEvent } from '../events/event-log';

// A chat message and what happened to it since: the stream is append-only (the audit trail), so an edit or a
// deletion is a later event naming the message's seq. These fold a message's events into its state now —
// for authorizing the next edit and for REST history. Pure: no I/O, no clock.

/** One chat message as it is now. */
export interface ChatState {
  readonly message: SessionEventOf<'chat_message'>;
  /** The latest text (the original when never edited). */
  readonly text: string;
  /** The latest edit, if any. */
  readonly lastEdit?: SessionEventOf<'message_update'>;
  /** The deletion, if any (nothing after it counts: a deleted message cannot be edited). */
  readonly deleted?: SessionEventOf<'message_delete'>;
}

/** Folds the events of `chatThreads` (seq order) into the state of each chat message found, by its seq. */
export function foldChatThreads(events: readonly StoredSessionEvent[]): Map<number, ChatState> {
  const states = new Map<number, ChatState>();
  for (const e of events) {
    if (e.type === 'chat_message') {
      states.set(e.seq, { message: e, text: e.payload.message });
      continue;
    }
    if (e.type !== 'message_update' && e.type !== 'message_delete') continue;
    const state = states.get(e.payload.message_seq);
    if (state === undefined || state.deleted !== undefined) continue;
    if (e.type === 'message_update') states.set(state.message.seq, { ...state, text: e.payload.message, lastEdit: e });
    else states.set(state.message.seq, { ...state, deleted: e });
  }
  return states;
}

/**
 * History events as readers see them: a chat message carries its latest text and `edited_at`; a deleted one is
 * a tombstone (`message: ""`, `deleted_at`, `deleted_by`), and the edits of a deleted message lose their text
 * too. Edit and delete events stay in the page: who changed what is the audit trail.
 */
export function withChatState(events: readonly StoredSessionEvent[], states: ReadonlyMap<number, ChatState>): StoredSessionEvent[] {
  return events.map((e) => {
    if (e.type === 'chat_message') {
      const state = states.get(e.seq);
      if (state === undefined) return e;
      if (state.deleted !== undefined) {
        const { message: _text, client_msg_id: _key, ...rest } = e.payload;
        return { ...e, payload: { ...rest, message: '', deleted_at: state.deleted.created_at, deleted_by: state.deleted.payload.deleted_by } };
      }
      if (state.lastEdit !== undefined) return { ...e, payload: { ...e.payload, message: state.text, edited_at: state.lastEdit.created_at } };
      return e;
    }
    if (e.type === 'message_update' && states.get(e.payload.message_seq)?.deleted !== undefined) return { ...e, payload: { ...e.payload, message: '' } };
    return e;
  });
}

/** The seqs of the chat messages a history page mentions (its messages, and the targets of its edits). */
export function chatSeqsOf(events: readonly StoredSessionEvent[]): number[] {
  const seqs = new Set<number>();
  for (const e of events) {
    if (e.type === 'chat_message') seqs.add(e.seq);
    else if (e.type === 'message_update') seqs.add(e.payload.message_seq);
  }
  return [...seqs];
}
