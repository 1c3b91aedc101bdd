import type { Identity } from '@chorus/auth';
import type { ConflictList, ConflictView, ConflictStrategy, ConflictsQuery, FileRulesView } from '@chorus/protocol';
import type { Caller, CommittedOp } from './conflict.types';

/**
 * Per-file permissions, served by the session service (it owns the rules and their durable event). Part of
 * SessionApi. `file_rules.enforced` is for gateways enforcing the rules on live connections (no actor: trusted).
 */
export interface FileRulesApi {
  'file_rules.get': { req: { actor: Identity; session_id: string }; res: FileRulesView };
  'file_rules.set': { req: { actor: Identity; session_id: string; body: unknown }; res: FileRulesView };
  'file_rules.enforced': { req: { session_id: string }; res: FileRulesView };
  /** Appends the durable `conflict_resolved` audit event once per conflict (the gateway, after the conflict service applied it). */
  'conflict.audit': { req: { session_id: string; user_id: string; conflict_id: string; doc_id: string; strategy: ConflictStrategy; version: number }; res: { seq: number } };
}

/** What a resolution produced: the op that applied it (broadcast it to the document) and the resolution itself. */
export interface ConflictResolution {
  readonly conflict_id: string;
  readonly doc_id: string;
  readonly strategy: ConflictStrategy;
  readonly text: string;
  readonly resolved_by: string;
  readonly resolved_at: number;
  readonly broadcast: CommittedOp;
  /** A retry of a resolution already applied by the same resolver: nothing new was committed. */
  readonly duplicate: boolean;
}

/** The conflict workflow, served by the conflict service (it owns `conflict_resolutions`). Part of ConflictApi. */
export interface ConflictWorkflowApi {
  'conflict.resolve': { req: { caller: Caller; payload: { session_id: string; conflict_id: string; strategy: ConflictStrategy; text?: string } }; res: ConflictResolution };
  'conflict.get': { req: { caller: Caller; payload: { session_id: string; conflict_id: string } }; res: ConflictView };
  'conflicts.list': { req: { caller: Caller; payload: { session_id: string; query: ConflictsQuery } }; res: ConflictList };
}
