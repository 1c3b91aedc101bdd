import type { TextOp } from '@chorus/ot';
import type { ParticipantKind, PresenceView, Selection } from '@chorus/protocol';

/** What the presence service asks its caller to deliver to a session's members. */
export type PresenceEvent =
  | ({ type: 'presence_update' } & PresenceView)
  | { type: 'presence_left'; session_id: string; peer_id: string; user_id: string }
  /** The peer's lease ran out (its gateway died). user_id/node_id are null only if its state was lost. */
  | { type: 'peer_expired'; session_id: string; peer_id: string; user_id: string | null; node_id: string | null; lease_expires_at: number | null }
  | { type: 'typing_start' | 'typing_stop'; session_id: string; peer_id: string; user_id: string; doc_id: string | null };

export interface PresencePatch {
  status?: 'online' | 'away';
  active_file?: string | null;
  doc_id?: string | null;
  selection?: Selection | null;
}

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
  /** Renews the leases of every peer a gateway node holds; `lost` peers expired before and must re-join. */
  'presence.heartbeat': { req: { node_id: string }; res: { refreshed: number; lost: Array<{ session_id: string; peer_id: string }> } };
  /**
   * Event (emit, no reply), keyed by document: the gateway's report of a committed op, `version` its committed
   * version (the op applies to version - 1). Delivered at least once and not necessarily in order: presence
   * applies each version once, in order, and reads missing ones from the conflict service (ops.fetch).
   */
  'presence.op_committed': { req: { session_id: string; doc_id: string; version: number; op: TextOp; author_peer_id: string }; res: void };
}
