import type { SessionStreamEvent } from '@chorus/contracts';
import { parseServerMessageStrict, type SessionEventBody, type SessionEventType } from '@chorus/protocol';
import { membershipEffect, toWireEvent } from './wire-events';

// Durable events as clients see them: every type the session service stores maps to a valid server message
// carrying its seq, and the few that change live memberships say how.

const S = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const AT = '2026-11-22T10:00:00.000Z';

/** One event of every type (the compiler insists on each). */
const BODIES: { [T in SessionEventType]: Extract<SessionEventBody, { type: T }>['payload'] } = {
  session_created: { name: 'Parser rewrite' },
  session_deleted: {},
  peer_joined: { peer_id: 'bob-cli', user_id: 'bob', display_name: 'Bob', kind: 'agent', role: 'agent' },
  peer_left: { peer_id: 'bob-cli', user_id: 'bob', reason: 'expired' },
  chat_message: { peer_id: 'bob-cli', user_id: 'bob', display_name: 'Bob', message: 'hi' },
  message_update: { message_seq: 5, peer_id: 'bob-cli', user_id: 'bob', message: 'hi there' },
  message_delete: { message_seq: 5, user_id: 'bob', deleted_by: 'alice' },
  invite_created: { invite_id: 'i-1', role: 'editor', expires_at: '2026-12-08T10:00:00.000Z', max_uses: 5 },
  invite_revoked: { invite_id: 'i-1' },
  invite_redeemed: { invite_id: 'i-1', role: 'editor', display_name: 'Bob', kind: 'human' },
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
  document_edited: { agent_id: 'agent-1', doc_id: 'src/parser.rs', from_version: 41, to_version: 44, ops: 3, started_at: AT, ended_at: AT },
  agent_status_changed: { agent_id: 'agent-1', status: 'editing', detail: null },
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

const events: SessionStreamEvent[] = Object.entries(BODIES).map(
  ([type, payload], i) => ({ session_id: S, seq: i + 1, type, actor: 'alice', payload, created_at: AT }) as SessionStreamEvent,
);
const of = <T extends SessionEventType>(type: T) => events.find((e) => e.type === type) as Extract<SessionStreamEvent, { type: T }>;

describe('toWireEvent', () => {
  it('maps every durable event to a valid server message with its seq', () => {
    for (const e of events) {
      const wire = toWireEvent(e);
      expect({ type: e.type, parsed: parseServerMessageStrict(wire).ok, seq: wire.seq }).toEqual({ type: e.type, parsed: true, seq: e.seq });
    }
  });

  it('gives peer_joined, peer_left and chat_message their own messages, field for field', () => {
    expect(toWireEvent(of('peer_joined'))).toEqual({ type: 'peer_joined', session_id: S, peer_id: 'bob-cli', user_id: 'bob', display_name: 'Bob', kind: 'agent', role: 'agent', seq: of('peer_joined').seq });
    expect(toWireEvent(of('peer_left'))).toEqual({ type: 'peer_left', session_id: S, peer_id: 'bob-cli', user_id: 'bob', seq: of('peer_left').seq });
    const chat = of('chat_message');
    expect(toWireEvent(chat)).toEqual({ type: 'chat_message', session_id: S, peer_id: 'bob-cli', user_id: 'bob', display_name: 'Bob', message: 'hi', timestamp: Date.parse(AT), seq: chat.seq });
    expect(toWireEvent({ ...chat, payload: { ...chat.payload, client_msg_id: 'm-1' } })).toMatchObject({ client_msg_id: 'm-1' });
  });

  it('gives chat edits and deletions their own messages, naming the message and carrying their own seq', () => {
    const edit = of('message_update');
    expect(toWireEvent(edit)).toEqual({ type: 'message_update', session_id: S, message_seq: 5, peer_id: 'bob-cli', user_id: 'bob', message: 'hi there', edited_at: Date.parse(AT), seq: edit.seq });
    const del = of('message_delete');
    expect(toWireEvent(del)).toEqual({ type: 'message_delete', session_id: S, message_seq: 5, user_id: 'bob', deleted_by: 'alice', deleted_at: Date.parse(AT), seq: del.seq });
  });

  it('sends every other type as session_event with the stored payload untouched', () => {
    const e = of('invite_created');
    expect(toWireEvent(e)).toEqual({ type: 'session_event', session_id: S, seq: e.seq, event_type: 'invite_created', actor: 'alice', payload: BODIES.invite_created, created_at: AT });
  });

  it('sends a refusal to members without its resource, the reason\'s mention of it withheld (the audit export keeps both)', () => {
    const e = of('access_refused');
    const hidden = { ...e, payload: { user_id: 'vic', action: 'document.history', code: 'PERMISSION_DENIED', reason: 'File rule "secrets-hidden" (secret/** is hidden for role viewer) forbids you to read secret/keys.md; ask a session owner or admin.', resource: 'secret/keys.md' } };
    expect(toWireEvent(hidden)).toEqual({
      type: 'session_event',
      session_id: S,
      seq: e.seq,
      event_type: 'access_refused',
      actor: 'alice',
      payload: { user_id: 'vic', action: 'document.history', code: 'PERMISSION_DENIED', reason: 'File rule "secrets-hidden" (secret/** is hidden for role viewer) forbids you to read (withheld); ask a session owner or admin.' },
      created_at: AT,
    });
    const { resource: _resource, ...withoutResource } = BODIES.access_refused as { resource: string };
    expect(toWireEvent(e)).toMatchObject({ payload: withoutResource });
    expect(toWireEvent({ ...e, payload: withoutResource as typeof e.payload })).toMatchObject({ payload: withoutResource });
  });
});

describe('an event type from a newer session service (a rolling deploy)', () => {
  // Not a type of this version: only reachable at run time, so the value is forced past the compiler.
  const newer = { session_id: S, seq: 99, type: 'channel_created', actor: 'alice', payload: { channel_id: 'c-1' }, created_at: AT } as unknown as SessionStreamEvent;

  it('goes out as session_event (what clients are promised for types they do not know) and changes no membership', () => {
    expect(toWireEvent(newer)).toEqual({ type: 'session_event', session_id: S, seq: 99, event_type: 'channel_created', actor: 'alice', payload: { channel_id: 'c-1' }, created_at: AT });
    expect(membershipEffect(newer)).toBeNull();
  });
});

describe('membershipEffect', () => {
  it('changes a role, removes a participant who left or was removed, ends a deleted session, and nothing else', () => {
    const effects = Object.fromEntries(events.map((e) => [e.type, membershipEffect(e)]));
    expect(effects).toEqual({
      session_created: null,
      session_deleted: { kind: 'session_deleted' },
      peer_joined: null,
      peer_left: null,
      chat_message: null,
      message_update: null,
      message_delete: null,
      invite_created: null,
      invite_revoked: null,
      invite_redeemed: null,
      participant_added: null,
      participant_left: { kind: 'removed', user_id: 'bob', reason: 'You left the session.' },
      role_changed: { kind: 'role', user_id: 'bob', role: 'viewer' },
      participant_removed: { kind: 'removed', user_id: 'bob', reason: 'You were removed from the session.' },
      // The queue changes no membership; a revoked agent is disconnected by the participant_removed that follows.
      agent_added: null,
      agent_revoked: null,
      prompt_queued: null,
      prompt_cancelled: null,
      prompt_assigned: null,
      prompt_released: null,
      prompt_completed: null,
      agent_output: null,
      document_edited: null,
      agent_status_changed: null,
      // Path rules change no membership (gateways drop their cached rules on it: fanout/session-streams observe).
      file_rules_updated: null,
      conflict_resolved: null,
      // Settings and the audit trail change no membership (a lower max_participants never removes anyone).
      session_updated: null,
      access_refused: null,
      file_lock_acquired: null,
      file_lock_released: null,
      yjs_document_created: null,
      yjs_version_restored: null,
      yjs_version_saved: null,
    });
  });
});
