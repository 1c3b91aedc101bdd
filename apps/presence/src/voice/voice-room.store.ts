import type { VoiceMember } from '@chorus/protocol';

export type { VoiceMember };

/**
 * Who is in which voice room of a session: the port between the voice domain and its storage, implemented by
 * RedisVoiceRoomStore (shared by every presence replica) and MemoryVoiceRoomStore (one process), both passing
 * `voiceRoomStoreContract`. A member is one peer (one connection) in at most one room of its session.
 *
 * Lifetime. Membership has no lease of its own: it lives as long as the peer's presence, which the voice
 * service checks on join, and ends with it — `presence.leave` (disconnect, leave) and a lease expiry both call
 * `leave` here. The Redis store also puts a TTL (a day, renewed by every write) on each session's key as a
 * backstop against a sweep that never came.
 *
 * Atomicity. Each method is one atomic step across every process sharing the store (Redis: one script).
 * Exactly-once removal: of any number of concurrent `leave` calls for one member, exactly one returns it — so
 * exactly one `voice_user_left` is broadcast, whichever of voice_leave, disconnect or expiry comes first.
 */
export interface VoiceRoomStore {
  /** Puts the peer in `member.room` (replacing its membership, muted state included). Returns the previous one. */
  join(sessionId: string, member: VoiceMember): Promise<VoiceMember | null>;
  /** Removes the peer's membership; with `userId`, only if it is that user's. Returns what was removed. */
  leave(sessionId: string, peerId: string, userId?: string): Promise<VoiceMember | null>;
  /** Sets a member's `muted`; null if the peer is in no room. */
  setMuted(sessionId: string, peerId: string, muted: boolean): Promise<VoiceMember | null>;
  /** The members of these peers (null where a peer is in no room), in the order asked. */
  get(sessionId: string, peerIds: readonly string[]): Promise<Array<VoiceMember | null>>;
  /** Every member of every room of the session, ordered by peer_id. */
  list(sessionId: string): Promise<VoiceMember[]>;
}

export const byPeerId = (a: VoiceMember, b: VoiceMember): number => (a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0);
