import { parseClientMessage, parseServerMessage } from './validate';

// chat_message's optional client key: 1..64 storable characters; echoed (optionally) by the server message.

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const chat = (extra: Record<string, unknown>) => parseClientMessage('chat_message', { session_id: SESSION, message: 'hi', ...extra });

describe('chat_message client_msg_id', () => {
  it('accepts a message without a key and with a key of 1 to 64 characters', () => {
    expect(chat({}).ok).toBe(true);
    expect(chat({ client_msg_id: 'a' }).ok).toBe(true);
    expect(chat({ client_msg_id: 'x'.repeat(64) }).ok).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['65 characters', 'x'.repeat(65)],
    ['a NUL', 'a\u0000b'],
    ['an unpaired surrogate', 'a\uD800b'],
    ['a number', 42],
  ])('refuses a key that is %s with VALIDATION_ERROR naming the field', (_what, value) => {
    const parsed = chat({ client_msg_id: value });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'client_msg_id' } });
  });

  it('lets the server message carry the key, or not', () => {
    const base = { type: 'chat_message', session_id: SESSION, peer_id: 'p', user_id: 'u', display_name: 'U', message: 'hi', timestamp: 1, seq: 1 };
    expect(parseServerMessage(base).ok).toBe(true);
    expect(parseServerMessage({ ...base, client_msg_id: 'k-1' }).ok).toBe(true);
    expect(parseServerMessage({ ...base, client_msg_id: '' }).ok).toBe(false);
  });
});
