import type { Role, ServerMessageOf, ServerMessageType, SessionLock } from '@chorus/protocol';
import type { TextOp } from '@chorus/ot';

// The conflict service's transport contract: what its handlers return. Field names are the wire's (snake_case).

/**
 * Who is calling, established by the gateway from the authenticated connection — never read from a payload.
 * `client_id` identifies the connection (the peer id of broadcasts); `role` is the caller's role in the session.
 */
export interface Caller {
  readonly user_id: string;
  readonly client_id: string;
  readonly role: Role;
}

/** A server message's body as a service returns it: without the envelope (`type`, the request `id`). */
type Body<T extends ServerMessageType> = Omit<ServerMessageOf<T>, 'type' | 'id'>;

// The shapes below are the protocol's messages (libs/protocol), derived, never re-declared: a field added to or
// changed in a message schema changes what the conflict service must return, and the compiler says where.
// The gateway adds `session_id` (the caller's session) to those that lack it here.

/**
 * `document {doc_id, version, content, lock?}`: the text at head. A document never written is version 0, "".
 * On open `lock` is the current lock (null when unlocked), so a reconnecting client recovers a missed lock push.
 */
export type DocumentState = Omit<Body<'document'>, 'session_id'>;

/** `op_ack {doc_id, version, seq}`: the op is committed as `version`. */
export type OpAck = Omit<Body<'op_ack'>, 'session_id'>;

/**
 * `op {doc_id, version, op, peer_id, seq}`: one committed op, as broadcast and as returned by catch-up. `op`
 * applies to the document at version - 1 (canonical: deletes carry the text they removed); `peer_id` is the
 * author's client id.
 */
export type CommittedOp = Omit<Body<'op'>, 'session_id'>;

/**
 * `conflict_detected`: an op overlapped ops committed concurrently (after its base). The merge already happened;
 * this is awareness only. Send it to `peers` (every client id involved, the author first, de-duplicated).
 */
export type ConflictDetected = Omit<Body<'conflict_detected'>, 'session_id'>;

/**
 * One committed op that a newly merged op overlapped with: `version` is the earlier op's, and `ranges` are
 * positions (code points) in the document at version - 1.
 */
export type ConflictOverlap = ConflictDetected['overlaps'][number];

/**
 * What a submit produces. `ack` goes to the submitter, `broadcast` to the document's room, `conflicts` to
 * `conflicts[i].peers`. A duplicate (resent (client_id, seq)) carries the original ack and op: re-broadcasting is
 * harmless (clients drop versions they already have) and repairs a broadcast lost when a replica died.
 */
export interface SubmitResult {
  readonly ack: OpAck;
  readonly broadcast: CommittedOp;
  readonly conflicts: ConflictDetected[];
  readonly duplicate: boolean;
}

/** `ops {doc_id, ops: [...], head}` in version order. `head` says whether more remain (fetch again from the last). */
export type OpsPage = Omit<Body<'ops'>, 'session_id'>;

/**
 * One committed op as the conflict service reads it for history: the `history` entry (a summary on the wire)
 * plus what the service keeps of it — the op itself, the author's seq, and the commit time as ISO text.
 */
export type HistoryEntry = Omit<HistoryPage['entries'][number], 'created_at'> & { readonly seq: number; readonly created_at: string; readonly op: TextOp };

/** A `document_history` page: the `history` message. */
export type HistoryPage = Omit<Body<'history'>, 'session_id'>;

/** `file_locked {session_id, doc_id, holder_id, peer_id, expires_at}` — broadcast to the session. */
export type FileLocked = Body<'file_locked'>;

/**
 * `file_unlocked {session_id, doc_id, holder_id, reason, by?}` — broadcast to the session. The conflict service
 * answers an unlock of a file that was not locked with null; the gateway replies `not_locked` for it.
 */
export type FileUnlocked = Body<'file_unlocked'>;

/**
 * `locks.list`: the session's live locks (`joined.locks`, its wire schema: libs/protocol `sessionLockSchema`),
 * capped at MAX_JOINED_LOCKS; `truncated` when the session held more.
 */
export interface SessionLocks {
  readonly locks: SessionLock[];
  readonly truncated: boolean;
}
