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
};

export const SERVER_EXAMPLES: { [T in ServerMessageType]: ServerMessageOf<T> } = {
  hello: { type: 'hello', protocol_version: PROTOCOL_VERSION, node_id: 'gateway-7d9f-1', limits: { join: 8192, ping: 256 } },
  joined: {
    type: 'joined',
    id: 1,
    session_id: SESSION,
    peer_id: 'alice-tab-1',
    participants: [{ peer_id: 'bob-cli', user_id: 'bob', display_name: 'Bob', kind: 'human', role: 'editor' }],
    seq: 44,
    recovered: true,
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
  error: { type: 'error', id: 3, code: 'VALIDATION_ERROR', message: 'Invalid field "message": Too small: expected string to have >=1 characters', retryable: false, field: 'message' },
};
