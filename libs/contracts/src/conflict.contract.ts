import type { ConflictWorkflowApi } from './files.contract';
import type { Caller, DocumentState, FileLocked, FileUnlocked, HistoryPage, OpsPage, SessionLocks, SubmitResult } from './conflict.types';

interface DocRef {
  session_id: string;
  doc_id: string;
}

/**
 * The conflict service's transport contract. `caller` is established by the gateway from the authenticated
 * connection (user, peer as client id, current role); the payload is the validated client message.
 * `op.submit` is sent with the ordering key `<session_id>:<doc_id>`: one document's ops reach one replica in
 * order, which keeps its head cached and its commits batched.
 */
export interface ConflictApi extends ConflictWorkflowApi {
  'document.open': { req: { caller: Caller; payload: DocRef }; res: DocumentState };
  'op.submit': { req: { caller: Caller; payload: DocRef & { version: number; op: unknown; seq: number } }; res: SubmitResult };
  'ops.fetch': { req: { caller: Caller; payload: DocRef & { from_version: number } }; res: OpsPage };
  'document.history': { req: { caller: Caller; payload: DocRef & { from_version?: number; limit?: number } }; res: HistoryPage };
  'document.at': { req: { caller: Caller; payload: DocRef & { version: number } }; res: DocumentState };
  /**
   * Removes every document, op, snapshot and lock of a session the session service has deleted. Idempotent
   * (a redelivery or a second replica deletes nothing more); `removed` counts documents.
   */
  'session.purge': { req: { session_id: string }; res: { removed: number } };
  'file.lock': { req: { caller: Caller; payload: DocRef & { ttl_ms?: number } }; res: FileLocked };
  'file.unlock': { req: { caller: Caller; payload: DocRef & { force?: boolean } }; res: FileUnlocked | null };
  /** The session's live locks, for `joined` (role-checked like document.open). Read-only: any replica, any time. */
  'locks.list': { req: { caller: Caller; payload: { session_id: string } }; res: SessionLocks };
}

export function documentKey(sessionId: string, docId: string): string {
  return `${sessionId}:${docId}`;
}
