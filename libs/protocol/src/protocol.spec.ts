import { CLIENT_EXAMPLES, SERVER_EXAMPLES } from './examples';
import { CLIENT_MESSAGES, MAX_CLIENT_MESSAGE_BYTES, SERVER_MESSAGES, type ClientMessageType } from './registry';
import { parseClientMessage, parseServerMessage, parseServerMessageStrict } from './validate';
import { ChorusError, ERROR_CODES } from './errors';

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const roundTrip = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

describe('client messages', () => {
  it.each(Object.keys(CLIENT_MESSAGES) as ClientMessageType[])('%s round-trips through its schema', (type) => {
    const example = CLIENT_EXAMPLES[type];
    const parsed = parseClientMessage(type, roundTrip(example));
    expect(parsed).toEqual({ ok: true, value: example });
  });

  it('accepts a payload without its type: the event name supplies it', () => {
    const parsed = parseClientMessage('leave', { session_id: SESSION });
    expect(parsed).toEqual({ ok: true, value: { type: 'leave', session_id: SESSION } });
  });

  it.each([
    ['join', { session_id: 'not-a-uuid', peer_id: 'p', join_token: 'x'.repeat(20) }, 'session_id'],
    ['join', { session_id: SESSION, peer_id: 'has space', join_token: 'x'.repeat(20) }, 'peer_id'],
    ['join', { session_id: SESSION, peer_id: 'p', join_token: 'x'.repeat(20), last_seq: -1 }, 'last_seq'],
    ['join', { session_id: SESSION, peer_id: 'p' }, 'join_token'],
    ['chat_message', { session_id: SESSION, message: '' }, 'message'],
    ['chat_message', { session_id: SESSION, message: 42 }, 'message'],
    ['chat_message', { session_id: SESSION, message: 'hi', colour: 'red' }, 'colour'],
    ['ping', { id: { nested: true } }, 'id'],
    ['leave', { type: 'join', session_id: SESSION }, 'type'],
  ])('%s with %j is a VALIDATION_ERROR naming %s', (type, payload, field) => {
    const parsed = parseClientMessage(type, payload);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.code).toBe('VALIDATION_ERROR');
    expect(parsed.error.details.field).toBe(field);
    expect(parsed.error.message).toContain(field);
  });

  it('rejects an unknown type, a non-object and an oversized message with typed errors', () => {
    const unknown = parseClientMessage('drop_tables', {});
    expect(!unknown.ok && unknown.error.toWire()).toMatchObject({ code: 'VALIDATION_ERROR', field: 'type' });
    const notObject = parseClientMessage('ping', 'hello');
    expect(!notObject.ok && notObject.error.code).toBe('VALIDATION_ERROR');
    const array = parseClientMessage('ping', [1, 2]);
    expect(!array.ok && array.error.code).toBe('VALIDATION_ERROR');
    const huge = parseClientMessage('chat_message', { session_id: SESSION, message: 'x'.repeat(CLIENT_MESSAGES.chat_message.maxBytes) });
    expect(!huge.ok && huge.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('has a per-kind size limit no larger than the transport cap', () => {
    for (const spec of Object.values(CLIENT_MESSAGES)) expect(spec.maxBytes).toBeLessThanOrEqual(MAX_CLIENT_MESSAGE_BYTES);
  });
});

describe('server messages', () => {
  it.each(Object.keys(SERVER_MESSAGES))('%s round-trips through its schema', (type) => {
    const example = SERVER_EXAMPLES[type as keyof typeof SERVER_EXAMPLES];
    expect(parseServerMessageStrict(roundTrip(example))).toEqual({ ok: true, value: example });
  });

  it('every client request replies with a known server message type', () => {
    for (const spec of Object.values(CLIENT_MESSAGES)) expect(Object.keys(SERVER_MESSAGES)).toContain(spec.reply);
  });
});

describe('errors', () => {
  it('marks every code retryable or not and maps it to an HTTP status', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(
      [
        'ALREADY_JOINED', 'CONFLICT', 'FILE_INTEGRITY', 'FILE_LOCKED', 'NOT_FOUND', 'OWNER_CANNOT_LEAVE', 'PAYLOAD_TOO_LARGE', 'PEER_DISCONNECTED', 'PERMISSION_DENIED', 'RATE_LIMITED',
        'RELOAD_REQUIRED', 'SERVER_ERROR', 'SESSION_FULL', 'UNAUTHENTICATED', 'UNAVAILABLE', 'VALIDATION_ERROR',
      ],
    );
    expect(ERROR_CODES.RATE_LIMITED.retryable).toBe(true);
    expect(ERROR_CODES.PERMISSION_DENIED).toMatchObject({ retryable: false, http: 403 });
  });

  it('rebuilds a ChorusError from plain data and hides unknown errors', () => {
    const rebuilt = ChorusError.from({ code: 'RATE_LIMITED', message: 'slow down', details: { retry_after_ms: 250 } });
    expect(rebuilt.toWire(7)).toEqual({ type: 'error', id: 7, code: 'RATE_LIMITED', message: 'slow down', retryable: true, retry_after_ms: 250 });
    const hidden = ChorusError.from(new Error('password=hunter2 leaked in a stack'));
    expect(hidden.code).toBe('SERVER_ERROR');
    expect(hidden.message).not.toContain('hunter2');
  });

  it('tells a locked file (retry after unlock) from a document to reload (no retry), holder included', () => {
    expect(ERROR_CODES.FILE_LOCKED).toMatchObject({ retryable: true, http: 423 });
    expect(ERROR_CODES.RELOAD_REQUIRED).toMatchObject({ retryable: false, http: 409 });
    const locked = ChorusError.from({ code: 'FILE_LOCKED', message: 'locked', details: { field: 'doc_id', locked_by: 'alice', locked_until: '2026-12-01T20:00:00.000Z' } });
    expect(locked.toWire()).toEqual({ type: 'error', code: 'FILE_LOCKED', message: 'locked', retryable: true, field: 'doc_id', locked_by: 'alice', locked_until: '2026-12-01T20:00:00.000Z' });
    expect(parseServerMessage(locked.toWire()).ok).toBe(true);
  });
});
