import type { OpLimits, TextSelection } from '@chorus/ot';

export type { Caller, CommittedOp, ConflictDetected, ConflictOverlap, DocumentState, FileLocked, FileUnlocked, HistoryEntry, HistoryPage, OpAck, OpsPage, SessionLocks, SubmitResult } from '@chorus/contracts';

// The conflict service's handler-facing shapes. Field names are the wire's (snake_case): a handler returns
// them as they are. The lead's wire schemas (libs/protocol) should match these.

export interface OpenDocumentInput {
  readonly session_id: string;
  readonly doc_id: string;
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

export interface FetchOpsInput {
  readonly session_id: string;
  readonly doc_id: string;
  /** Ops of versions > from_version are returned (the client has applied from_version). */
  readonly from_version: number;
  readonly limit?: number;
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
  /** Group commit: most submits (of any number of documents) committed in one transaction. */
  readonly maxBatch: number;
  /**
   * Group commit: most commits of one replica in flight at once (each holds a pooled connection). Normally ONE
   * is: everything that arrives meanwhile waits and goes into the next, so commits grow with the load. Another
   * starts only while the oldest in flight has run longer than `commitStallMs` (a lock wait on a document other
   * replicas write, a slow disk): one stuck commit never stalls the replica's other documents.
   */
  readonly maxParallelCommits: number;
  /** See maxParallelCommits. */
  readonly commitStallMs: number;
  /**
   * Commit statements as named prepared statements (planned once per connection). False behind poolers that
   * cannot carry them (DB_PREPARED_STATEMENTS; libs/database prepared.ts).
   */
  readonly preparedStatements: boolean;
  /**
   * 'group': queue, and commit the queued submits of many documents in one transaction; 'direct': every submit
   * its own transaction (no in-process queue; the baseline of tests and benchmarks).
   */
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
  maxParallelCommits: 4,
  commitStallMs: 20,
  preparedStatements: true,
  commitMode: 'group',
  lockTtlMs: { default: 5 * 60_000, min: 5_000, max: 60 * 60_000 },
  cacheDocs: 1_000,
  cacheOpsPerDoc: 256,
};
