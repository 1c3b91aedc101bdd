import type { TextOp } from '@chorus/ot';
import type { ClientMessageOf, ParticipantKind, PresenceView, ServerMessageOf, VoiceMember } from '@chorus/protocol';

// The presence shapes are the protocol's messages (libs/protocol), derived, never re-declared.

type Push<T extends 'presence_update' | 'presence_left' | 'typing_start' | 'typing_stop' | 'voice_user_joined' | 'voice_user_left' | 'voice_member_updated'> = Omit<ServerMessageOf<T>, 'id'>;

/**
 * What the presence service asks its caller to deliver to a session's members: wire messages, except
 * `peer_expired`, which its caller turns into `presence_left {reason: "expired"}` after recording the leave.
 * A `presence_left` from the service always names the user (it removed a state it knew).
 */
export type PresenceEvent =
  | Push<'presence_update'>
  | (Omit<Push<'presence_left'>, 'user_id' | 'reason'> & { user_id: string; reason: 'left' })
  /** The peer's lease ran out (its gateway died). user_id/node_id are null only if its state was lost. */
  | { type: 'peer_expired'; session_id: string; peer_id: string; user_id: string | null; node_id: string | null; lease_expires_at: number | null }
  | Push<'typing_start'>
  | Push<'typing_stop'>
  | Push<'voice_user_joined'>
  | Push<'voice_user_left'>
  | Push<'voice_member_updated'>;

/** What a client may change of its presence: the `presence_update` request's fields. */
export type PresencePatch = Omit<ClientMessageOf<'presence_update'>, 'type' | 'id' | 'session_id'>;

/**
 * The presence service's transport contract. Requests come from gateways (which hold the connections and
 * heartbeat their leases); events the service produces on its own (lease expiry, typing expiry) it publishes
 * to the session's fan-out itself.
 */
export interface PresenceApi {
  'presence.join': {
    req: { session_id: string; peer_id: string; user_id: string; display_name: string; kind: ParticipantKind; node_id: string } & PresencePatch;
    res: PresenceEvent[];
  };
  'presence.update': { req: { session_id: string; peer_id: string; patch: PresencePatch }; res: PresenceEvent[] };
  'presence.typing': { req: { session_id: string; peer_id: string; doc_id: string | null }; res: PresenceEvent[] };
  'presence.stop_typing': { req: { session_id: string; peer_id: string }; res: PresenceEvent[] };
  /** With `user_id`, removes the peer only if it is that user's (a gateway always sends it). */
  'presence.leave': { req: { session_id: string; peer_id: string; user_id?: string }; res: PresenceEvent[] };
  'presence.who': { req: { session_id: string }; res: PresenceView[] };
  /** Puts a present peer in a voice room (idempotent); the room's members, the joiner included. */
  'voice.join': {
    req: { session_id: string; peer_id: string; user_id: string; display_name: string; room: string; muted?: boolean };
    res: { members: VoiceMember[]; events: PresenceEvent[] };
  };
  /** The peer leaves its voice room; `room` null if it was in none. */
  'voice.leave': { req: { session_id: string; peer_id: string; user_id: string }; res: { room: string | null; events: PresenceEvent[] } };
  'voice.set_muted': { req: { session_id: string; peer_id: string; muted: boolean }; res: { member: VoiceMember; events: PresenceEvent[] } };
  /** The sender's membership if it may signal `to_peer_id` (same room), else PERMISSION_DENIED. */
  'voice.relay': { req: { session_id: string; from_peer_id: string; to_peer_id: string }; res: VoiceMember };
  /** The peer's membership and its room's peer ids, else PERMISSION_DENIED. */
  'voice.room_of': { req: { session_id: string; peer_id: string }; res: { member: VoiceMember; peer_ids: string[] } };
  /** Every voice room member of the session. */
  'voice.list': { req: { session_id: string }; res: VoiceMember[] };
  /** Renews the leases of every peer a gateway node holds; `lost` peers expired before and must re-join. */
  'presence.heartbeat': { req: { node_id: string }; res: { refreshed: number; lost: Array<{ session_id: string; peer_id: string }> } };
  /**
   * Event (emit, no reply), keyed by document: the gateway's report of a committed op, `version` its committed
   * version (the op applies to version - 1). Delivered at least once and not necessarily in order: presence
   * applies each version once, in order, and reads missing ones from the conflict service (ops.fetch).
   */
  'presence.op_committed': { req: { session_id: string; doc_id: string; version: number; op: TextOp; author_peer_id: string }; res: void };
}
