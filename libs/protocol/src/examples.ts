import type { ClientMessageOf, ClientMessageType, ServerMessageOf, ServerMessageType } from './registry';
import { PROTOCOL_VERSION } from './version';

// One valid example of every message. The compiler insists on an entry per type, tests round-trip each one
// through its schema, and docs/protocol.md shows the same shapes.

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';

export const CLIENT_EXAMPLES: { [T in ClientMessageType]: ClientMessageOf<T> } = {
  join: { type: 'join', id: 1, session_id: SESSION, peer_id: 'alice-tab-1', join_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzIjoiMSJ9.c2ln', last_seq: 41 },
  leave: { type: 'leave', id: 2, session_id: SESSION },
  chat_message: { type: 'chat_message', id: 3, session_id: SESSION, message: 'Pushed the parser fix, please review' },
  ping: { type: 'ping', id: 'p-4' },
  presence_update: { type: 'presence_update', id: 5, session_id: SESSION, active_file: 'src/parser.rs', doc_id: 'src/parser.rs', selection: { anchor: 120, head: 134 } },
  who: { type: 'who', id: 6, session_id: SESSION },
  typing: { type: 'typing', id: 7, session_id: SESSION, doc_id: 'src/parser.rs' },
  stop_typing: { type: 'stop_typing', id: 8, session_id: SESSION },
  open_document: { type: 'open_document', id: 9, session_id: SESSION, doc_id: 'src/parser.rs' },
  submit_op: { type: 'submit_op', id: 10, session_id: SESSION, doc_id: 'src/parser.rs', version: 41, op: [120, 'let x = 1;', { d: 3 }], seq: 17 },
  fetch_ops: { type: 'fetch_ops', id: 11, session_id: SESSION, doc_id: 'src/parser.rs', from_version: 38 },
  document_history: { type: 'document_history', id: 14, session_id: SESSION, doc_id: 'src/parser.rs', from_version: 38, limit: 50 },
  document_at: { type: 'document_at', id: 15, session_id: SESSION, doc_id: 'src/parser.rs', version: 39 },
  lock_file: { type: 'lock_file', id: 12, session_id: SESSION, doc_id: 'Cargo.toml', ttl_ms: 300000 },
  unlock_file: { type: 'unlock_file', id: 13, session_id: SESSION, doc_id: 'Cargo.toml' },
};

const PRESENCE = {
  session_id: SESSION,
  peer_id: 'bob-cli',
  user_id: 'bob',
  display_name: 'Bob',
  kind: 'human' as const,
  status: 'online' as const,
  active_file: 'src/parser.rs',
  doc_id: 'src/parser.rs',
  selection: { anchor: 120, head: 134 },
  typing: null,
  last_active_at: 1795312800000,
};

export const SERVER_EXAMPLES: { [T in ServerMessageType]: ServerMessageOf<T> } = {
  disconnect_notice: { type: 'disconnect_notice', code: 4000, name: 'draining', reason: 'This gateway is shutting down; reconnect.', reconnect: true },
  hello: { type: 'hello', protocol_version: PROTOCOL_VERSION, node_id: 'gateway-7d9f-1', limits: { join: 8192, ping: 256 } },
  joined: {
    type: 'joined',
    id: 1,
    session_id: SESSION,
    peer_id: 'alice-tab-1',
    participants: [{ peer_id: 'bob-cli', user_id: 'bob', display_name: 'Bob', kind: 'human', role: 'editor' }],
    seq: 44,
    recovered: true,
    locks: [{ doc_id: 'Cargo.toml', holder_id: 'bob', peer_id: 'bob-cli', expires_at: '2026-11-22T10:05:00.000Z' }],
    locks_truncated: false,
  },
  left: { type: 'left', id: 2, session_id: SESSION },
  peer_joined: { type: 'peer_joined', session_id: SESSION, peer_id: 'claude-1', user_id: 'agent:claude', display_name: 'Claude', kind: 'agent', role: 'agent', seq: 45 },
  peer_left: { type: 'peer_left', session_id: SESSION, peer_id: 'bob-cli', user_id: 'bob', seq: 46 },
  chat_message: {
    type: 'chat_message',
    id: 3,
    session_id: SESSION,
    peer_id: 'alice-tab-1',
    user_id: 'alice',
    display_name: 'Alice',
    message: 'Pushed the parser fix, please review',
    timestamp: 1795312800000,
    seq: 47,
  },
  pong: { type: 'pong', id: 'p-4', timestamp: 1795312800123 },
  session_event: { type: 'session_event', session_id: SESSION, seq: 48, event_type: 'role_changed', actor: 'alice', payload: { user_id: 'bob', from: 'editor', to: 'viewer' }, created_at: '2026-11-22T10:00:00.000Z' },
  presence_update: { type: 'presence_update', ...PRESENCE },
  presence_list: { type: 'presence_list', id: 6, session_id: SESSION, peers: [PRESENCE] },
  presence_batch: { type: 'presence_batch', session_id: SESSION, peers: [PRESENCE, { ...PRESENCE, peer_id: 'claude-1', user_id: 'agent:claude', display_name: 'Claude', kind: 'agent', selection: null, typing: { doc_id: 'src/parser.rs' } }] },
  presence_left: { type: 'presence_left', session_id: SESSION, peer_id: 'bob-cli', user_id: 'bob', reason: 'expired' },
  typing_start: { type: 'typing_start', session_id: SESSION, peer_id: 'bob-cli', user_id: 'bob', doc_id: 'src/parser.rs' },
  typing_stop: { type: 'typing_stop', session_id: SESSION, peer_id: 'bob-cli', user_id: 'bob', doc_id: 'src/parser.rs' },
  document: { type: 'document', id: 9, session_id: SESSION, doc_id: 'src/parser.rs', version: 41, content: 'fn main() {}\n', lock: { holder_id: 'alice', peer_id: 'alice-tab-1', expires_at: '2026-11-22T10:05:00.000Z' } },
  op_ack: { type: 'op_ack', id: 10, session_id: SESSION, doc_id: 'src/parser.rs', version: 42, seq: 17 },
  op: { type: 'op', session_id: SESSION, doc_id: 'src/parser.rs', version: 42, op: [120, 'let x = 1;', { d: 'foo' }], peer_id: 'alice-tab-1', seq: 17 },
  ops: { type: 'ops', id: 11, session_id: SESSION, doc_id: 'src/parser.rs', ops: [{ doc_id: 'src/parser.rs', version: 39, op: [4, 'a'], peer_id: 'bob-cli', seq: 3 }], head: 39 },
  history: {
    type: 'history',
    id: 14,
    session_id: SESSION,
    doc_id: 'src/parser.rs',
    entries: [{ version: 39, base_version: 38, peer_id: 'bob-cli', user_id: 'bob', created_at: 1795312800000, inserted: 1, deleted: 0 }],
    min_version: 0,
    head: 39,
  },
  file_locked: { type: 'file_locked', session_id: SESSION, doc_id: 'Cargo.toml', holder_id: 'alice', peer_id: 'alice-tab-1', expires_at: '2026-11-22T10:05:00.000Z' },
  file_unlocked: { type: 'file_unlocked', session_id: SESSION, doc_id: 'Cargo.toml', holder_id: 'alice', reason: 'released' },
  conflict_detected: {
    type: 'conflict_detected',
    session_id: SESSION,
    doc_id: 'src/parser.rs',
    version: 43,
    base_version: 41,
    peer_id: 'bob-cli',
    user_id: 'bob',
    overlaps: [{ version: 42, peer_id: 'alice-tab-1', user_id: 'alice', ranges: [{ start: 120, end: 123 }] }],
    peers: ['bob-cli', 'alice-tab-1'],
  },
  error: { type: 'error', id: 3, code: 'VALIDATION_ERROR', message: 'Invalid field "message": Too small: expected string to have >=1 characters', retryable: false, field: 'message' },
};
