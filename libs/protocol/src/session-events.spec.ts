import { SERVER_EXAMPLES } from './examples';
import { SESSION_EVENT_PAYLOADS, parseSessionEventBody, type SessionEventPayload, type SessionEventType } from './session-events';

// The payload of every durable event type, declared once. The table below must name every type (the compiler
// says so when one is added), and each example must parse as its type and only as its type.

const EXAMPLES: { [T in SessionEventType]: SessionEventPayload<T> } = {
  session_created: { name: 'Parser rewrite' },
  session_deleted: {},
  peer_joined: { peer_id: 'bob-cli', user_id: 'bob', display_name: 'Bob', kind: 'human', role: 'editor' },
  peer_left: { peer_id: 'bob-cli', user_id: 'bob', reason: 'expired' },
  chat_message: { peer_id: 'bob-cli', user_id: 'bob', display_name: 'Bob', message: 'hi', client_msg_id: 'm-1' },
  message_update: { message_seq: 7, peer_id: 'bob-cli', user_id: 'bob', message: 'hi there' },
  message_delete: { message_seq: 7, user_id: 'bob', deleted_by: 'alice' },
  invite_created: { invite_id: 'i-1', role: 'editor', expires_at: '2026-12-08T10:00:00.000Z', max_uses: null },
  invite_revoked: { invite_id: 'i-1' },
  invite_redeemed: { invite_id: 'i-1', role: 'editor', display_name: 'Bob', kind: 'agent' },
  participant_added: { user_id: 'bob', role: 'viewer', display_name: 'Bob', kind: 'human' },
  participant_left: { user_id: 'bob' },
  role_changed: { user_id: 'bob', from: 'editor', to: 'viewer' },
  participant_removed: { user_id: 'bob' },
  agent_added: { agent_id: 'agent-1', name: 'Claude', capabilities: ['summarise'] },
  agent_revoked: { agent_id: 'agent-1' },
  prompt_queued: { message_id: 'm-1', user_id: 'bob', display_name: 'Bob', agent_id: null, content: 'Summarise', priority: 0, images: [] },
  prompt_cancelled: { message_id: 'm-1', by: 'bob' },
  prompt_assigned: { message_id: 'm-1', agent_id: 'agent-1', attempt: 1 },
  prompt_released: { message_id: 'm-1', agent_id: 'agent-1', reason: 'lease_expired', parked: false },
  prompt_completed: { message_id: 'm-1', agent_id: 'agent-1' },
  agent_output: { message_id: 'm-1', agent_id: 'agent-1', kind: 'response', index: 2, data: 'Done.' },
  document_edited: { agent_id: 'agent-1', doc_id: 'src/parser.rs', from_version: 41, to_version: 44, ops: 3, started_at: '2026-11-22T10:00:00.000Z', ended_at: '2026-11-22T10:00:02.000Z' },
  agent_status_changed: { agent_id: 'agent-1', status: 'editing', detail: 'src/parser.rs' },
  file_rules_updated: { version: 2, rules: [{ name: 'infra-readonly-agents', pattern: 'infra/**', role: 'agent', access: 'read' }] },
  conflict_resolved: { conflict_id: 'c5a1e2f0-1b2c-4d3e-8f9a-0b1c2d3e4f5a', doc_id: 'src/parser.rs', strategy: 'merged', user_id: 'alice', version: 44 },
  session_updated: { changes: { name: 'Parser rewrite v2', is_public: true, has_password: false, expires_at: null } },
  access_refused: { user_id: 'carol', action: 'invite.redeem', code: 'PERMISSION_DENIED', reason: 'This invite is addressed to another user.', resource: 'i-1' },
  file_lock_acquired: { doc_id: 'src/main.ts', holder_id: 'bob', peer_id: 'bob-cli', expires_at: '2026-11-22T10:05:00.000Z' },
  file_lock_released: { doc_id: 'src/main.ts', holder_id: 'bob', by: 'alice', reason: 'broken' },
  yjs_document_created: { doc_id: 'notes/design.md', user_id: 'alice' },
  yjs_version_restored: { doc_id: 'notes/design.md', version: 3, seq: 42, user_id: 'alice' },
  yjs_version_saved: { doc_id: 'notes/design.md', version: 4, label: 'before the review', seq: 57, user_id: 'alice' },
};

describe('durable session event payloads', () => {
  it('has a schema for exactly the types of the table', () => {
    expect(Object.keys(SESSION_EVENT_PAYLOADS).sort()).toEqual(Object.keys(EXAMPLES).sort());
  });

  it('parses each example as its type, into the same value', () => {
    for (const [type, payload] of Object.entries(EXAMPLES)) {
      expect(parseSessionEventBody(type, payload)).toEqual({ ok: true, value: { type, payload } });
    }
  });

  it('parses the documented session_event payload as its event_type', () => {
    const e = SERVER_EXAMPLES.session_event;
    expect(parseSessionEventBody(e.event_type, e.payload)).toMatchObject({ ok: true });
  });

  it('refuses an unknown type, a missing or mistyped field, an unknown field, and a non-object', () => {
    const cases: Array<[unknown, unknown, RegExp]> = [
      ['peer_renamed', {}, /unknown event type "peer_renamed"/],
      [7, {}, /unknown event type 7/],
      ['peer_joined', { ...EXAMPLES.peer_joined, display_name: undefined }, /bad peer_joined payload \(display_name:/],
      ['role_changed', { ...EXAMPLES.role_changed, to: 'sovereign' }, /bad role_changed payload \(to:/],
      ['peer_left', { ...EXAMPLES.peer_left, reason: 'vanished' }, /bad peer_left payload \(reason:/],
      ['invite_created', { ...EXAMPLES.invite_created, max_uses: 0 }, /bad invite_created payload \(max_uses:/],
      ['participant_left', { user_id: 'bob', extra: 1 }, /bad participant_left payload/],
      ['session_deleted', null, /bad session_deleted payload \(\(payload\):/],
      ['chat_message', { ...EXAMPLES.chat_message, message: 'a\u0000b' }, /bad chat_message payload \(message:/],
      ['message_update', { ...EXAMPLES.message_update, message_seq: 0 }, /bad message_update payload \(message_seq:/],
      ['message_delete', { message_seq: 7, user_id: 'bob' }, /bad message_delete payload \(deleted_by:/],
    ];
    for (const [type, payload, reason] of cases) {
      const parsed = parseSessionEventBody(type, payload);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(reason);
    }
  });

  it('does not mistake an inherited property for an event type', () => {
    expect(parseSessionEventBody('toString', {})).toMatchObject({ ok: false });
    expect(parseSessionEventBody('__proto__', {})).toMatchObject({ ok: false });
  });
});
