import type { ThrottlerStorage } from '@nestjs/throttler';
import { ChorusError, isClientMessageType, type ClientMessageType } from '@chorus/protocol';

/**
 * Message kinds with separate budgets: a chat flood must not starve edits, and edits must not starve joins.
 * `unknown` is every event name that is no message type: nothing legitimate sends one, so its budget is small.
 */
export type LimitKind = 'ops' | 'chat' | 'presence' | 'joins' | 'reads' | 'locks' | 'channels' | 'voice' | 'files' | 'prompts' | 'agent' | 'yjs' | 'unknown';

export const KIND_OF: Record<ClientMessageType, LimitKind> = {
  submit_op: 'ops',
  chat_message: 'chat',
  chat_edit: 'chat',
  chat_delete: 'chat',
  presence_update: 'presence',
  typing: 'presence',
  stop_typing: 'presence',
  join: 'joins',
  leave: 'joins',
  open_document: 'reads',
  fetch_ops: 'reads',
  document_history: 'reads',
  document_at: 'reads',
  who: 'reads',
  ping: 'reads',
  reauth: 'reads',
  lock_file: 'locks',
  unlock_file: 'locks',
  close_document: 'reads',
  resolve_conflict: 'ops',
  prompt_submit: 'prompts',
  prompt_cancel: 'prompts',
  prompt_claim: 'agent',
  prompt_done: 'agent',
  agent_status: 'agent',
  agent_output: 'agent',
  subscribe: 'channels',
  unsubscribe: 'channels',
  publish: 'channels',
  voice_join: 'voice',
  voice_leave: 'voice',
  voice_offer: 'voice',
  voice_answer: 'voice',
  voice_ice: 'voice',
  voice_mute: 'voice',
  voice_unmute: 'voice',
  voice_speaking: 'voice',
  yjs_sync: 'yjs',
  yjs_leave: 'yjs',
  share_project: 'files',
  unshare_project: 'files',
  request_file_manifest: 'files',
  request_files: 'files',
  file_manifest: 'files',
  files_chunk: 'files',
  file_data: 'files',
};

/**
 * The budget an inbound event counts against, from its name alone — decided before the payload is parsed, so
 * malformed, oversized and unknown messages spend the sender's budget like valid ones (garbage is RATE_LIMITED).
 */
export function limitKindOf(event: unknown): LimitKind {
  return isClientMessageType(event) ? KIND_OF[event] : 'unknown';
}

export interface Budget {
  /** Messages per window per connection, and per user across all its connections (and gateways). */
  readonly perConnection: number;
  readonly perUser: number;
  readonly windowMs: number;
}

/**
 * Defaults sized for people and agents, with headroom: 50 ops/s is far above human typing (~10/s) and lets an
 * agent paste; chat allows a burst of 10 in 5 s; presence 30/s covers cursor moves (the client should throttle
 * to ~20/s — the server coalesces broadcasts to 20/s anyway). Channels allow an agent streaming its answer
 * in small chunks (~50/s) beside its subscribes.
 */
export const DEFAULT_BUDGETS: Record<LimitKind, Budget> = {
  ops: { perConnection: 50, perUser: 100, windowMs: 1_000 },
  chat: { perConnection: 10, perUser: 20, windowMs: 5_000 },
  presence: { perConnection: 30, perUser: 60, windowMs: 1_000 },
  joins: { perConnection: 10, perUser: 30, windowMs: 10_000 },
  reads: { perConnection: 50, perUser: 100, windowMs: 1_000 },
  locks: { perConnection: 10, perUser: 20, windowMs: 10_000 },
  // People queue prompts at typing speed; an agent streams output chunks (tens a second) and claims/reports.
  prompts: { perConnection: 20, perUser: 40, windowMs: 5_000 },
  agent: { perConnection: 100, perUser: 200, windowMs: 1_000 },
  channels: { perConnection: 100, perUser: 200, windowMs: 1_000 },
  // Setting up one call sends an offer or answer and a burst of ICE candidates (often 10–30 at once) to each
  // peer; a 10-peer room renegotiating is a few hundred signals. 200 per 10 s per connection allows that burst.
  voice: { perConnection: 200, perUser: 400, windowMs: 10_000 },
  // Yjs providers send an update per editor transaction and awareness (cursor) changes: typing fast, ~30/s.
  yjs: { perConnection: 60, perUser: 120, windowMs: 1_000 },
  // A transfer is a stream of chunks (a 50 MB project in 64 KiB seed chunks is ~800): bytes per second are
  // capped separately (docs/file-sync.md); this only bounds the message count.
  files: { perConnection: 500, perUser: 1_000, windowMs: 1_000 },
  unknown: { perConnection: 10, perUser: 30, windowMs: 10_000 },
};

/**
 * WebSocket rate limits on @nestjs/throttler's storage (Redis-backed across gateways, in-memory standalone):
 * a fixed window per connection and per user for each kind. Over budget → RATE_LIMITED with `retry_after_ms`
 * in the ack, never a silent drop.
 */
export class WsRateLimiter {
  constructor(
    private readonly storage: ThrottlerStorage,
    private readonly budgets: Record<LimitKind, Budget> = DEFAULT_BUDGETS,
  ) {}

  async check(kind: LimitKind, socketId: string, userId: string): Promise<void> {
    const b = this.budgets[kind];
    const [conn, user] = await Promise.all([
      this.storage.increment(`conn:${socketId}`, b.windowMs, b.perConnection, b.windowMs, `ws-${kind}`),
      this.storage.increment(`user:${userId}`, b.windowMs, b.perUser, b.windowMs, `ws-${kind}`),
    ]);
    const over = [conn, user].filter((r) => r.isBlocked || r.totalHits > (r === conn ? b.perConnection : b.perUser));
    if (over.length > 0) {
      const retryS = Math.max(...over.map((r) => (r.isBlocked ? r.timeToBlockExpire : r.timeToExpire)), 1);
      throw new ChorusError('RATE_LIMITED', `Too many ${kind === 'unknown' ? 'invalid' : kind} messages; retry in ${retryS} s.`, { retry_after_ms: retryS * 1000 });
    }
  }
}
