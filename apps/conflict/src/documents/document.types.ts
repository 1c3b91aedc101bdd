import type { Role } from '@chorus/protocol';
import type { OpLimits, TextOp, TextRange, TextSelection } from '@chorus/ot';

// The conflict service's handler-facing shapes. Field names are the wire's (snake_case): a handler returns
// them as they are. The lead's wire schemas (libs/protocol) should match these.

/**
 * Who is calling, established by the gateway from the authenticated connection — never read from a payload.
 * `client_id` identifies the connection (the peer id of broadcasts); `role` is the caller's role in the session.
 */
export interface Caller {
  readonly user_id: string;
  readonly client_id: string;
  readonly role: Role;
}

export interface OpenDocumentInput {
  readonly session_id: string;
  readonly doc_id: string;
}

/** `document {doc_id, version, content}`: the text at head. A document never written is version 0, "". */
export interface DocumentState {
  readonly doc_id: string;
  readonly version: number;
  readonly content: string;
}

export interface SubmitOpInput {
  readonly session_id: string;
  readonly doc_id: string;
  /** The version the client's op is based on (the last version it had applied). */
  readonly version: number;
  readonly op: unknown;
  /** The client's sequence number for this op; (client_id, seq) identifies it for dedupe. */
  readonly seq: number;
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

export interface FetchOpsInput {
  readonly session_id: string;
  readonly doc_id: string;
  /** Ops of versions > from_version are returned (the client has applied from_version). */
  readonly from_version: number;
  readonly limit?: number;
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

export interface LockFileInput {
  readonly session_id: string;
  readonly doc_id: string;
  /** Lifetime of the lock; clamped to the configured bounds. Re-locking by the holder extends it. */
  readonly ttl_ms?: number;
}

export interface UnlockFileInput {
  readonly session_id: string;
  readonly doc_id: string;
  /** An admin/owner breaking someone else's lock (needs `file.lock_break`). */
  readonly force?: boolean;
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

export interface TransformSelectionInput {
  readonly session_id: string;
  readonly doc_id: string;
  /** The version the selection was made on. */
  readonly version: number;
  readonly selection: TextSelection;
  /** The client that owns the cursor: its own ops move it after inserted text, peers' ops before (tie rule). */
  readonly owner_client_id: string;
}

export interface ConflictOptions {
  /** Op size / document size limits (libs/ot). */
  readonly limits: OpLimits;
  /** A snapshot is written every `snapshotEvery` versions, in the transaction of the op that reaches it. */
  readonly snapshotEvery: number;
  /** An op based further than this behind head is refused (CONFLICT, reload): bounds the transform work. */
  readonly maxCatchUpOps: number;
  /** Most ops returned by one fetch_ops. */
  readonly maxFetchOps: number;
  /** Group commit: most submits of one document committed in one transaction (1 = one per transaction). */
  readonly maxBatch: number;
  /** 'group': queue per document and commit in batches; 'direct': every submit is its own transaction. */
  readonly commitMode: 'group' | 'direct';
  readonly lockTtlMs: { readonly default: number; readonly min: number; readonly max: number };
  /** Documents whose head (version, text, recent ops) this replica keeps in memory. */
  readonly cacheDocs: number;
  readonly cacheOpsPerDoc: number;
}

export const DEFAULT_CONFLICT_OPTIONS: ConflictOptions = {
  limits: { maxComponents: 10_000, maxOpChars: 1_000_000, maxDocLength: 5_000_000 },
  snapshotEvery: 100,
  maxCatchUpOps: 10_000,
  maxFetchOps: 1_000,
  maxBatch: 200,
  commitMode: 'group',
  lockTtlMs: { default: 5 * 60_000, min: 5_000, max: 60 * 60_000 },
  cacheDocs: 1_000,
  cacheOpsPerDoc: 256,
};
