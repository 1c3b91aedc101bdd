import type { ClientMessageOf, ClientMessageType, ReplyOf, ServerMessage } from '@chorus/protocol';

/** What a row may use: the session the socket joins, its peer and user, and a counter for unique names. */
export interface EdgeContext {
  readonly sessionId: string;
  readonly peerId: string;
  readonly userId: string;
  readonly joinToken: string;
  /** An access token of the connection's own user (a `reauth` with it moves the connection's expiry). */
  readonly accessToken: string;
  next(): number;
  /** Rows sent as an agent (`as: 'agent'`): Alice queues a prompt for this agent. */
  readonly queuePrompt?: () => Promise<void>;
  /** Another participant's connection commits `op` on `version` of a document (support/edge-peer.ts): conflicts need two peers. */
  readonly peerEdit?: (docId: string, version: number, op: unknown[]) => Promise<void>;
  /** The open conflicts of a document (REST `GET .../conflicts`), their ids oldest first. */
  readonly conflicts?: (docId: string) => Promise<string[]>;
}

type Body<T extends ClientMessageType> = Omit<ClientMessageOf<T>, 'type' | 'id'>;

/** Sends one acked request (used by rows that need state first, e.g. a lock to release). */
export type Send = (type: ClientMessageType, body: Record<string, unknown>) => Promise<ServerMessage>;

/** One client message type at the edge: a request that succeeds, what its ack must be, and one the schema refuses. */
export interface EdgeRow<T extends ClientMessageType> {
  /** Whether the socket must have joined the session before the valid request. */
  readonly joined: boolean;
  /** Builds a valid request; may send others first (`send`) to set up the state it needs. */
  valid(ctx: EdgeContext, send: Send): Promise<Body<T>>;
  readonly reply: ReplyOf<T>['type'];
  /** The key fields of the successful reply. */
  check(reply: ReplyOf<T>, ctx: EdgeContext, sent: Body<T>): void;
  /** A request libs/protocol refuses with VALIDATION_ERROR, and the field it names (when one is named). */
  malformed(ctx: EdgeContext): Record<string, unknown>;
  readonly field?: string;
  /** Sent by an agent of the session (support/edge-agent.ts) instead of Alice. */
  readonly as?: 'agent';
}

const ok = async (send: Send, type: ClientMessageType, body: Record<string, unknown>) => {
  const reply = await send(type, body);
  if (reply.type === 'error') throw new Error(`${type} (setup) failed: ${JSON.stringify(reply)}`);
};

/** Sends a chat message (setup) and returns its seq. */
const chatSeq = async (send: Send, c: EdgeContext): Promise<number> => {
  const reply = await send('chat_message', { session_id: c.sessionId, message: `edge chat to change ${c.next()}` });
  if (reply.type !== 'chat_message') throw new Error(`chat_message (setup) failed: ${JSON.stringify(reply)}`);
  return reply.seq;
};

/** Joins the default voice room (setup). */
const inVoice = (send: Send, c: EdgeContext) => ok(send, 'voice_join', { session_id: c.sessionId });

const SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

const MANIFEST_JSON = JSON.stringify({ files: [{ path: 'src/edge.txt', hash: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9', size: 11, modified: 0 }] });
/** Offers the connection's own peer a one-file manifest (setup): it may then request and send that file. */
const offered = (send: Send, c: EdgeContext) => ok(send, 'file_manifest', { session_id: c.sessionId, peer_id: c.peerId, manifest_json: MANIFEST_JSON });

/** Every client message type. The compiler insists on a row per type; the spec checks it against CLIENT_MESSAGES. */
export const EDGE_ROWS: { [T in ClientMessageType]: EdgeRow<T> } = {
  join: {
    joined: false,
    valid: async (c) => ({ session_id: c.sessionId, peer_id: c.peerId, join_token: c.joinToken }),
    reply: 'joined',
    check: (r, c) => {
      expect(r).toMatchObject({ session_id: c.sessionId, peer_id: c.peerId, seq: expect.any(Number) });
      expect(r.participants.map((p) => p.peer_id)).toContain(c.peerId);
      // Every live lock of the session (lock recovery on rejoin): a list, never absent while the service answers.
      expect(r.locks).toEqual(expect.any(Array));
      expect(r.locks_truncated).toBe(false);
    },
    malformed: (c) => ({ session_id: c.sessionId, peer_id: 42, join_token: c.joinToken }),
    field: 'peer_id',
  },
  leave: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId }),
    reply: 'left',
    check: (r, c) => expect(r.session_id).toBe(c.sessionId),
    malformed: () => ({ session_id: 'not-a-session-id' }),
    field: 'session_id',
  },
  chat_message: {
    joined: true,
    valid: async (c) => {
      const n = c.next();
      return { session_id: c.sessionId, message: `edge chat ${n}`, client_msg_id: `edge-${n}` };
    },
    reply: 'chat_message',
    check: (r, c, sent) =>
      expect(r).toMatchObject({ session_id: c.sessionId, message: sent.message, client_msg_id: sent.client_msg_id, user_id: c.userId, peer_id: c.peerId, seq: expect.any(Number) }),
    malformed: (c) => ({ session_id: c.sessionId, message: 7 }),
    field: 'message',
  },
  chat_edit: {
    joined: true,
    valid: async (c, send) => ({ session_id: c.sessionId, seq: await chatSeq(send, c), message: `edited ${c.next()}` }),
    reply: 'message_update',
    check: (r, c, sent) => {
      expect(r).toMatchObject({ session_id: c.sessionId, message_seq: sent.seq, message: sent.message, user_id: c.userId, peer_id: c.peerId, edited_at: expect.any(Number) });
      expect(r.seq).toBeGreaterThan(sent.seq);
    },
    malformed: (c) => ({ session_id: c.sessionId, seq: 0, message: 'x' }),
    field: 'seq',
  },
  chat_delete: {
    joined: true,
    valid: async (c, send) => ({ session_id: c.sessionId, seq: await chatSeq(send, c) }),
    reply: 'message_delete',
    check: (r, c, sent) => {
      expect(r).toMatchObject({ session_id: c.sessionId, message_seq: sent.seq, user_id: c.userId, deleted_by: c.userId, deleted_at: expect.any(Number) });
      expect(r.seq).toBeGreaterThan(sent.seq);
    },
    malformed: (c) => ({ session_id: c.sessionId, seq: 'last' }),
    field: 'seq',
  },
  ping: {
    joined: false,
    valid: async () => ({}),
    reply: 'pong',
    check: (r) => expect(Math.abs(r.timestamp - Date.now())).toBeLessThan(60_000),
    malformed: () => ({ echo: 'unexpected field' }),
    field: 'echo',
  },
  reauth: {
    joined: false,
    valid: async (c) => ({ token: c.accessToken }),
    reply: 'reauthed',
    // The dev token lives a day: the connection now lives until then (plus the clock-skew leeway).
    check: (r) => expect(r.token_expires_at).toBeGreaterThan(Date.now() + 3_600_000),
    malformed: () => ({ token: 42 }),
    field: 'token',
  },
  presence_update: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, active_file: `src/file-${c.next()}.ts` }),
    reply: 'presence_update',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, peer_id: c.peerId, active_file: sent.active_file }),
    malformed: (c) => ({ session_id: c.sessionId, selection: { anchor: 'start', head: 1 } }),
    field: 'selection.anchor',
  },
  who: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId }),
    reply: 'presence_list',
    check: (r, c) => expect(r.peers.map((p) => p.peer_id)).toContain(c.peerId),
    malformed: () => ({ session_id: 5 }),
    field: 'session_id',
  },
  typing: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, doc_id: 'src/typing.ts' }),
    reply: 'typing_start',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, peer_id: c.peerId, user_id: c.userId, doc_id: 'src/typing.ts' }),
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 5 }),
    field: 'doc_id',
  },
  stop_typing: {
    joined: true,
    valid: async (c, send) => {
      await ok(send, 'typing', { session_id: c.sessionId, doc_id: 'src/stop.ts' });
      return { session_id: c.sessionId };
    },
    reply: 'typing_stop',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, peer_id: c.peerId, user_id: c.userId, doc_id: 'src/stop.ts' }),
    // Not `{}`: a connection in exactly one session may leave session_id out (seed compatibility).
    malformed: () => ({ session_id: 42 }),
    field: 'session_id',
  },
  open_document: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, doc_id: `docs/open-${c.next()}.md` }),
    reply: 'document',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id, version: 0, content: '' }),
    malformed: (c) => ({ session_id: c.sessionId }),
    field: 'doc_id',
  },
  submit_op: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, doc_id: `docs/edit-${c.next()}.md`, version: 0, op: ['hello'], seq: c.next() }),
    reply: 'op_ack',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id, version: 1, seq: sent.seq }),
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 'docs/x.md', version: -1, op: ['x'], seq: 1 }),
    field: 'version',
  },
  fetch_ops: {
    joined: true,
    valid: async (c, send) => {
      const doc_id = `docs/fetch-${c.next()}.md`;
      await ok(send, 'submit_op', { session_id: c.sessionId, doc_id, version: 0, op: ['abc'], seq: c.next() });
      return { session_id: c.sessionId, doc_id, from_version: 0 };
    },
    reply: 'ops',
    check: (r, c, sent) => {
      expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id, head: 1 });
      expect(r.ops.map((o) => o.op)).toEqual([['abc']]);
    },
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 'docs/x.md', from_version: 'zero' }),
    field: 'from_version',
  },
  document_history: {
    joined: true,
    valid: async (c, send) => {
      const doc_id = `docs/history-${c.next()}.md`;
      await ok(send, 'submit_op', { session_id: c.sessionId, doc_id, version: 0, op: ['abc'], seq: c.next() });
      return { session_id: c.sessionId, doc_id };
    },
    reply: 'history',
    check: (r, c, sent) => {
      expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id, min_version: 0, head: 1 });
      expect(r.entries.map((e) => [e.version, e.peer_id, e.inserted])).toEqual([[1, c.peerId, 3]]);
    },
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 'docs/x.md', limit: 0 }),
    field: 'limit',
  },
  document_at: {
    joined: true,
    valid: async (c, send) => {
      const doc_id = `docs/at-${c.next()}.md`;
      await ok(send, 'submit_op', { session_id: c.sessionId, doc_id, version: 0, op: ['abc'], seq: c.next() });
      await ok(send, 'submit_op', { session_id: c.sessionId, doc_id, version: 1, op: [3, 'def'], seq: c.next() });
      return { session_id: c.sessionId, doc_id, version: 1 };
    },
    reply: 'document',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id, version: 1, content: 'abc' }),
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 'docs/x.md', version: -1 }),
    field: 'version',
  },
  lock_file: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, doc_id: `locks/${c.next()}.toml`, ttl_ms: 60_000 }),
    reply: 'file_locked',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id, holder_id: c.userId, peer_id: c.peerId, expires_at: expect.any(String) }),
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 'locks/x.toml', ttl_ms: 10 }),
    field: 'ttl_ms',
  },
  unlock_file: {
    joined: true,
    valid: async (c, send) => {
      const doc_id = `locks/${c.next()}.toml`;
      await ok(send, 'lock_file', { session_id: c.sessionId, doc_id });
      return { session_id: c.sessionId, doc_id };
    },
    reply: 'file_unlocked',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id, holder_id: c.userId, reason: 'released' }),
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 'locks/x.toml', force: 'yes' }),
    field: 'force',
  },
  close_document: {
    joined: true,
    valid: async (c, send) => {
      const doc_id = `closing/${c.next()}.md`;
      await ok(send, 'open_document', { session_id: c.sessionId, doc_id });
      return { session_id: c.sessionId, doc_id };
    },
    reply: 'document_closed',
    check: (r, c, sent) => expect(r).toMatchObject({ doc_id: sent.doc_id, session_ids: [c.sessionId] }),
    malformed: (c) => ({ session_id: c.sessionId, doc_id: '../escape.md' }),
    field: 'doc_id',
  },
  resolve_conflict: {
    joined: true,
    valid: async (c, send) => {
      // Two peers replace the same word at the same base: the second commit overlaps the first and is recorded.
      const doc_id = `conflicts/${c.next()}.txt`;
      await ok(send, 'submit_op', { session_id: c.sessionId, doc_id, version: 0, op: ['hello world'], seq: c.next() });
      if (!c.peerEdit) throw new Error('resolve_conflict needs ctx.peerEdit');
      await c.peerEdit(doc_id, 1, [6, { d: 5 }, 'there']);
      const mine = await send('submit_op', { session_id: c.sessionId, doc_id, version: 1, op: [6, { d: 5 }, 'earth'], seq: c.next() });
      if (mine.type !== 'op_ack') throw new Error(`submit_op (setup) failed: ${JSON.stringify(mine)}`);
      const listed = await send('fetch_ops', { session_id: c.sessionId, doc_id, from_version: 0 });
      if (listed.type !== 'ops') throw new Error('fetch_ops (setup) failed');
      const conflicts = await c.conflicts?.(doc_id);
      if (!conflicts || conflicts.length === 0) throw new Error('no conflict was recorded (setup)');
      return { session_id: c.sessionId, conflict_id: conflicts[0], strategy: 'merged', text: 'planet' };
    },
    reply: 'conflict_resolved',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, conflict_id: sent.conflict_id, strategy: 'merged', text: 'planet', resolved_by: c.userId }),
    malformed: (c) => ({ session_id: c.sessionId, conflict_id: 'c5a1e2f0-1b2c-4d3e-8f9a-0b1c2d3e4f5a', strategy: 'merged' }),
    field: 'text',
  },
  prompt_submit: {
    joined: true,
    valid: async (c) => {
      const n = c.next();
      return { session_id: c.sessionId, content: `edge prompt ${n}`, client_msg_id: `edge-prompt-${n}` };
    },
    reply: 'prompt_queued',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, message_id: expect.any(String), agent_id: null, queue_position: expect.any(Number), agent_busy: expect.any(Boolean) }),
    malformed: (c) => ({ session_id: c.sessionId, content: 'hi', client_msg_id: 'edge-bad', priority: 99 }),
    field: 'priority',
  },
  prompt_cancel: {
    joined: true,
    valid: async (c, send) => {
      const n = c.next();
      const queued = await send('prompt_submit', { session_id: c.sessionId, content: `edge cancel ${n}`, client_msg_id: `edge-cancel-${n}` });
      if (queued.type !== 'prompt_queued') throw new Error(`prompt_submit (setup) failed: ${JSON.stringify(queued)}`);
      return { session_id: c.sessionId, message_id: queued.message_id };
    },
    reply: 'prompt_cancelled',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, message_id: sent.message_id }),
    malformed: (c) => ({ session_id: c.sessionId, message_id: 'not-a-uuid' }),
    field: 'message_id',
  },
  prompt_claim: {
    joined: true,
    as: 'agent',
    valid: async (c) => {
      await c.queuePrompt?.();
      return { session_id: c.sessionId };
    },
    reply: 'prompt_claimed',
    // A prompt was queued for this agent: it holds one (the same one when it claims again).
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, prompt: { message_id: expect.any(String), attempt: 1, lease_expires_at: expect.any(String) } }),
    malformed: () => ({ session_id: 'not-a-session-id' }),
    field: 'session_id',
  },
  prompt_done: {
    joined: true,
    as: 'agent',
    valid: async (c, send) => {
      await c.queuePrompt?.();
      const claimed = await send('prompt_claim', { session_id: c.sessionId });
      if (claimed.type !== 'prompt_claimed' || claimed.prompt === null) throw new Error(`prompt_claim (setup) failed: ${JSON.stringify(claimed)}`);
      return { session_id: c.sessionId, message_id: claimed.prompt.message_id };
    },
    reply: 'prompt_completed',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, message_id: sent.message_id, seq: expect.any(Number) }),
    malformed: (c) => ({ session_id: c.sessionId, message_id: 42 }),
    field: 'message_id',
  },
  agent_status: {
    joined: true,
    as: 'agent',
    valid: async (c) => ({ session_id: c.sessionId, status: 'thinking', detail: `edge ${c.next()}` }),
    reply: 'agent_status',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, agent_id: c.userId, status: 'thinking', detail: sent.detail }),
    malformed: (c) => ({ session_id: c.sessionId, status: 'sleeping' }),
    field: 'status',
  },
  agent_output: {
    joined: true,
    as: 'agent',
    valid: async (c) => ({ session_id: c.sessionId, message_id: '00000000-0000-4000-8000-000000000001', kind: 'partial_response', index: c.next(), data: 'chunk' }),
    reply: 'agent_output_ack',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, message_id: sent.message_id, index: sent.index, seq: null }),
    malformed: (c) => ({ session_id: c.sessionId, message_id: '00000000-0000-4000-8000-000000000001', kind: 'shout', index: 0, data: 'x' }),
    field: 'kind',
  },
  subscribe: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, channel: `x-edge-${c.next()}`, since: 0 }),
    reply: 'subscribed',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, channel: sent.channel, seq: 0, recovered: true, replayed: 0 }),
    malformed: (c) => ({ session_id: c.sessionId, channel: 'no-such-channel' }),
    field: 'channel',
  },
  unsubscribe: {
    joined: true,
    valid: async (c, send) => {
      const channel = `x-edge-${c.next()}`;
      await ok(send, 'subscribe', { session_id: c.sessionId, channel });
      return { session_id: c.sessionId, channel };
    },
    reply: 'unsubscribed',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, channel: sent.channel }),
    malformed: (c) => ({ session_id: c.sessionId, channel: 'files', since: 3 }),
    field: 'since',
  },
  publish: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, channel: 'files', data: { file: `src/edge-${c.next()}.ts`, event: 'add', timestamp: Date.now() } }),
    reply: 'published',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, channel: 'files', seq: expect.any(Number), timestamp: expect.any(Number) }),
    malformed: (c) => ({ session_id: c.sessionId, channel: 'files', data: { file: 'src/a.ts', event: 'renamed', timestamp: 1 } }),
    field: 'data.event',
  },
  voice_join: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, room: `room-${c.next()}`, muted: true }),
    reply: 'voice_joined',
    check: (r, c, sent) => {
      expect(r).toMatchObject({ session_id: c.sessionId, room: sent.room, peer_id: c.peerId, ice_servers: expect.any(Array) });
      expect(r.members).toEqual([expect.objectContaining({ peer_id: c.peerId, user_id: c.userId, room: sent.room, muted: true })]);
    },
    malformed: (c) => ({ session_id: c.sessionId, room: 'no spaces' }),
    field: 'room',
  },
  voice_leave: {
    joined: true,
    valid: async (c, send) => {
      await inVoice(send, c);
      return { session_id: c.sessionId };
    },
    reply: 'voice_left',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, room: 'default', peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, room: 'default' }),
    field: 'room',
  },
  // A relay to oneself: the one socket of the edge spec is the only member of its room.
  voice_offer: {
    joined: true,
    valid: async (c, send) => {
      await inVoice(send, c);
      return { session_id: c.sessionId, to_peer_id: c.peerId, sdp: SDP };
    },
    reply: 'voice_relayed',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, to_peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, to_peer_id: c.peerId, sdp: 'x'.repeat(16_001) }),
    field: 'sdp',
  },
  voice_answer: {
    joined: true,
    valid: async (c, send) => {
      await inVoice(send, c);
      return { session_id: c.sessionId, to_peer_id: c.peerId, sdp: SDP };
    },
    reply: 'voice_relayed',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, to_peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, to_peer_id: c.peerId, sdp: '' }),
    field: 'sdp',
  },
  voice_ice: {
    joined: true,
    valid: async (c, send) => {
      await inVoice(send, c);
      return { session_id: c.sessionId, to_peer_id: c.peerId, candidate: { candidate: '', sdp_mid: '0', sdp_mline_index: 0 } };
    },
    reply: 'voice_relayed',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, to_peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, to_peer_id: c.peerId, candidate: { candidate: 'x', sdpMid: '0' } }),
    field: 'candidate.sdpMid',
  },
  voice_mute: {
    joined: true,
    valid: async (c, send) => {
      await inVoice(send, c);
      return { session_id: c.sessionId };
    },
    reply: 'voice_member_updated',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, peer_id: c.peerId, user_id: c.userId, muted: true }),
    malformed: (c) => ({ session_id: c.sessionId, muted: true }),
    field: 'muted',
  },
  voice_unmute: {
    joined: true,
    valid: async (c, send) => {
      await inVoice(send, c);
      return { session_id: c.sessionId };
    },
    reply: 'voice_member_updated',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, peer_id: c.peerId, muted: false }),
    malformed: () => ({ session_id: 'not-a-session' }),
    field: 'session_id',
  },
  voice_speaking: {
    joined: true,
    valid: async (c, send) => {
      await inVoice(send, c);
      return { session_id: c.sessionId, speaking: true };
    },
    reply: 'voice_speaking',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, peer_id: c.peerId, room: 'default', speaking: true }),
    malformed: (c) => ({ session_id: c.sessionId, speaking: 'yes' }),
    field: 'speaking',
  },
  // Sync step 1 of an empty Y.Doc (y-protocols: sync, step 1, state vector [0]): creates and subscribes.
  yjs_sync: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, doc_id: `notes/yjs-${c.next()}.md`, message: 'AAABAA==' }),
    reply: 'yjs_sync_reply',
    check: (r, c, sent) => {
      expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id, seq: null });
      expect(r.messages.length).toBeGreaterThanOrEqual(2);
    },
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 'notes/a.md', message: 'not base64!' }),
    field: 'message',
  },
  yjs_leave: {
    joined: true,
    valid: async (c, send) => {
      const doc_id = `notes/yjs-${c.next()}.md`;
      await ok(send, 'yjs_sync', { session_id: c.sessionId, doc_id, message: 'AAABAA==' });
      return { session_id: c.sessionId, doc_id };
    },
    reply: 'yjs_left',
    check: (r, c, sent) => expect(r).toMatchObject({ session_id: c.sessionId, doc_id: sent.doc_id }),
    malformed: (c) => ({ session_id: c.sessionId, doc_id: 42 }),
    field: 'doc_id',
  },
  share_project: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId }),
    reply: 'file_host',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, file_host: { peer_id: c.peerId, user_id: c.userId } }),
    malformed: () => ({ session_id: 'nope' }),
    field: 'session_id',
  },
  unshare_project: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId }),
    reply: 'file_host',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, file_host: null }),
    malformed: () => ({ session_id: 'nope' }),
    field: 'session_id',
  },
  request_file_manifest: {
    joined: true,
    valid: async (c, send) => {
      await ok(send, 'share_project', { session_id: c.sessionId });
      return { session_id: c.sessionId };
    },
    reply: 'file_relayed',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, to_peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, to_peer_id: 'no spaces allowed' }),
    field: 'to_peer_id',
  },
  request_files: {
    joined: true,
    valid: async (c, send) => {
      await offered(send, c);
      return { session_id: c.sessionId, to_peer_id: c.peerId, file_paths: ['src/edge.txt'] };
    },
    reply: 'file_relayed',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, to_peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, to_peer_id: c.peerId, file_paths: ['../etc/passwd'] }),
    field: 'file_paths.0',
  },
  file_manifest: {
    joined: true,
    valid: async (c) => ({ session_id: c.sessionId, peer_id: c.peerId, manifest_json: MANIFEST_JSON }),
    reply: 'file_relayed',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, to_peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, peer_id: c.peerId, manifest_json: 42 }),
    field: 'manifest_json',
  },
  files_chunk: {
    joined: true,
    valid: async (c, send) => {
      await offered(send, c);
      return { session_id: c.sessionId, peer_id: c.peerId, files_json: JSON.stringify([['src/edge.txt', [104, 105]]]), chunk_index: 0, total_chunks: 1 };
    },
    reply: 'file_relayed',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, to_peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, peer_id: c.peerId, files_json: '[]', chunk_index: 1, total_chunks: 1 }),
    field: 'chunk_index',
  },
  file_data: {
    joined: true,
    valid: async (c, send) => {
      await offered(send, c);
      const data = new TextEncoder().encode('hello world');
      const sha256 = 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9';
      return { session_id: c.sessionId, peer_id: c.peerId, transfer_id: `edge-${c.next()}`, chunk_index: 0, total_chunks: 1, encoding: 'none', entries: [{ path: 'src/edge.txt', offset: 0, length: 11 }], sha256, data };
    },
    reply: 'file_relayed',
    check: (r, c) => expect(r).toMatchObject({ session_id: c.sessionId, to_peer_id: c.peerId }),
    malformed: (c) => ({ session_id: c.sessionId, peer_id: c.peerId, transfer_id: 'has space', chunk_index: 0, total_chunks: 1, encoding: 'none', entries: [], sha256: '00' }),
    field: 'transfer_id',
  },
};
