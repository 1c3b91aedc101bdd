import type { Role, SessionLock } from '@chorus/protocol';
import type { TextOp, TextRange } from '@chorus/ot';

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

/** `document {doc_id, version, content}`: the text at head. A document never written is version 0, "". */
export interface DocumentState {
  readonly doc_id: string;
  readonly version: number;
  readonly content: string;
  /** On open: the current lock (null when unlocked), so a reconnecting client recovers a missed lock push. */
  readonly lock?: { readonly holder_id: string; readonly peer_id: string; readonly expires_at: string } | null;
}

/** `op_ack {doc_id, version, seq}`: the op is committed as `version`. */
export interface OpAck {
  readonly doc_id: string;
  readonly version: number;
  readonly seq: number;
}

/** `op {doc_id, version, op, peer_id, seq}`: one committed op, as broadcast and as returned by catch-up. */
export interface CommittedOp {
  readonly doc_id: string;
  readonly version: number;
  /** Applies to the document at version - 1. Canonical; deletes carry the text they removed. */
  readonly op: TextOp;
  /** The author's client id. */
  readonly peer_id: string;
  readonly seq: number;
}

/** One committed op that a newly merged op overlapped with. */
export interface ConflictOverlap {
  /** The earlier committed op's version; `ranges` are positions (code points) in the document at version - 1. */
  readonly version: number;
  readonly peer_id: string;
  readonly user_id: string;
  readonly ranges: TextRange[];
}

/**
 * `conflict_detected`: an op overlapped ops committed concurrently (after its base). The merge already happened;
 * this is awareness only. Send it to `peers` (the author first, then the authors of the overlapped ops).
 */
export interface ConflictDetected {
  readonly doc_id: string;
  /** The version the merged op was committed as, and the version it was based on. */
  readonly version: number;
  readonly base_version: number;
  readonly peer_id: string;
  readonly user_id: string;
  readonly overlaps: ConflictOverlap[];
  /** Every client id involved, the author first; de-duplicated. */
  readonly peers: string[];
}

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

/** `ops {doc_id, ops: [...]}` in version order. `head` says whether more remain (fetch again from the last). */
export interface OpsPage {
  readonly doc_id: string;
  readonly ops: CommittedOp[];
  readonly head: number;
}

export interface HistoryEntry {
  readonly version: number;
  readonly base_version: number;
  readonly peer_id: string;
  readonly user_id: string;
  readonly seq: number;
  readonly created_at: string;
  readonly inserted: number;
  readonly deleted: number;
  readonly op: TextOp;
}

/** A `document_history` page (its wire schema: libs/protocol `historySchema`). */
export interface HistoryPage {
  readonly doc_id: string;
  readonly entries: ReadonlyArray<{ version: number; base_version: number; peer_id: string; user_id: string; created_at: number; inserted: number; deleted: number }>;
  readonly min_version: number;
  readonly head: number;
}

/** `file_locked {doc_id, holder_id, peer_id, expires_at}` — broadcast to the session. */
export interface FileLocked {
  readonly session_id: string;
  readonly doc_id: string;
  readonly holder_id: string;
  readonly peer_id: string;
  readonly expires_at: string;
}

/** `file_unlocked {doc_id, holder_id, reason}` — broadcast to the session. */
export interface FileUnlocked {
  readonly session_id: string;
  readonly doc_id: string;
  readonly holder_id: string;
  readonly reason: 'released' | 'broken' | 'expired';
  readonly by?: string;
}


/**
 * `locks.list`: the session's live locks (`joined.locks`, its wire schema: libs/protocol `sessionLockSchema`),
 * capped at MAX_JOINED_LOCKS; `truncated` when the session held more.
 */
export interface SessionLocks {
  readonly locks: SessionLock[];
  readonly truncated: boolean;
}
