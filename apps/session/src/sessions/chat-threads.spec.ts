import type { StoredSessionEvent } from '../events/event-log';
import { chatSeqsOf, foldChatThreads, withChatState } from './chat-threads';

// A chat message's events folded into what readers see: the latest text, a tombstone once deleted, nothing
// after a deletion counted, and the audit events kept.

const S = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const at = (seq: number) => `2026-12-01T10:00:${String(seq).padStart(2, '0')}.000Z`;
const chat = (seq: number, user: string, message: string): StoredSessionEvent => ({
  session_id: S,
  seq,
  actor: user,
  created_at: at(seq),
  type: 'chat_message',
  payload: { peer_id: `${user}-tab`, user_id: user, display_name: user, message, client_msg_id: `k-${seq}` },
});
const edit = (seq: number, target: number, user: string, message: string): StoredSessionEvent => ({
  session_id: S,
  seq,
  actor: user,
  created_at: at(seq),
  type: 'message_update',
  payload: { message_seq: target, peer_id: `${user}-tab`, user_id: user, message },
});
const del = (seq: number, target: number, author: string, by: string): StoredSessionEvent => ({
  session_id: S,
  seq,
  actor: by,
  created_at: at(seq),
  type: 'message_delete',
  payload: { message_seq: target, user_id: author, deleted_by: by },
});

describe('chat threads', () => {
  const events = [chat(1, 'bob', 'v1'), chat(2, 'alice', 'hi'), edit(3, 1, 'bob', 'v2'), edit(4, 1, 'bob', 'v3'), del(5, 2, 'alice', 'alice'), edit(6, 2, 'alice', 'too late')];

  it('folds each message to its latest edit and its deletion, ignoring anything after a deletion', () => {
    const states = foldChatThreads(events);
    expect(states.get(1)).toMatchObject({ text: 'v3', lastEdit: { seq: 4 } });
    expect(states.get(1)?.deleted).toBeUndefined();
    expect(states.get(2)).toMatchObject({ text: 'hi', deleted: { seq: 5 } });
    expect(states.get(2)?.lastEdit).toBeUndefined();
  });

  it('shows edited messages with edited_at and deleted ones as tombstones, their edits without text', () => {
    const shown = withChatState(events, foldChatThreads(events));
    expect(shown[0].payload).toEqual({ peer_id: 'bob-tab', user_id: 'bob', display_name: 'bob', message: 'v3', client_msg_id: 'k-1', edited_at: at(4) });
    expect(shown[1].payload).toEqual({ peer_id: 'alice-tab', user_id: 'alice', display_name: 'alice', message: '', deleted_at: at(5), deleted_by: 'alice' });
    expect(shown[2].payload).toMatchObject({ message: 'v2' });
    expect(shown[5].payload).toMatchObject({ message: '' });
    expect(shown.map((e) => e.type)).toEqual(events.map((e) => e.type));
  });

  it('leaves a message untouched when nothing happened to it, and an edit whose message is off the page', () => {
    const page = [chat(7, 'bob', 'plain'), edit(8, 1, 'bob', 'v4')];
    expect(chatSeqsOf(page)).toEqual([7, 1]);
    expect(withChatState(page, foldChatThreads(page))).toEqual(page);
  });
});
