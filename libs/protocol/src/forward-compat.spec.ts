import { DISCONNECT_CODES, disconnectNotice, reconnectAllowed } from './disconnect';
import { SERVER_EXAMPLES } from './examples';
import { parseClientMessage, parseServerMessage, parseServerMessageStrict } from './validate';

// The seed protocol's rule: adding optional fields and new message types is safe. A client validating with
// libs/protocol must therefore accept a newer server's messages; the server still refuses unknown client fields.

describe('forward compatibility', () => {
  it('accepts a server message with new fields at any depth, drops and reports them, and leaves the input alone', () => {
    const joined = structuredClone(SERVER_EXAMPLES.joined) as unknown as Record<string, unknown> & { participants: Array<Record<string, unknown>> };
    joined.colour_theme = 'dark';
    joined.participants[0].avatar_url = 'https://example.test/a.png';
    const parsed = parseServerMessage(joined);
    expect(parsed.ok && parsed.ignored_fields.sort()).toEqual(['colour_theme', 'participants.0.avatar_url']);
    expect(parsed.ok && parsed.value).toEqual(SERVER_EXAMPLES.joined);
    expect(joined.colour_theme).toBe('dark');
    // The server's own conformance check stays exact.
    expect(parseServerMessageStrict(joined)).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
  });

  it('reports an unknown server message type as ignorable, and a malformed known one as not', () => {
    expect(parseServerMessage({ type: 'screen_share_offer', sdp: 'v=0' })).toMatchObject({ ok: false, ignorable: true });
    // A type this version knows, malformed (voice_offer lacks its sender), is not ignorable.
    expect(parseServerMessage({ type: 'voice_offer', sdp: 'v=0' })).toMatchObject({ ok: false, ignorable: false });
    expect(parseServerMessage({ no: 'type' })).toMatchObject({ ok: false, ignorable: false });
    expect(parseServerMessage({ ...SERVER_EXAMPLES.pong, extra: 1, id: { nested: true } })).toMatchObject({ ok: false, ignorable: false, error: { details: { field: 'id' } } });
  });

  it('keeps client messages strict at the server', () => {
    expect(parseClientMessage('ping', { colour_theme: 'dark' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR', details: { field: 'colour_theme' } } });
  });
});

describe('disconnect codes', () => {
  it('are WebSocket application close codes whose range says whether to reconnect', () => {
    const codes = Object.values(DISCONNECT_CODES).map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [name, spec] of Object.entries(DISCONNECT_CODES)) {
      expect({ name, inRange: spec.code >= 4000 && spec.code <= 4999, reconnect: reconnectAllowed(spec.code) }).toEqual({ name, inRange: true, reconnect: spec.reconnect });
    }
    expect(parseServerMessageStrict(disconnectNotice('connection_limit', 'too many', { retry_after_ms: 5000 }))).toMatchObject({ ok: true, value: { code: 4502, reconnect: false } });
  });
});
