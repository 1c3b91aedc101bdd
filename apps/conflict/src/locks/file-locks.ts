import type { DataSource } from 'typeorm';
import { authorize } from '@chorus/auth';
import { ChorusError, MAX_JOINED_LOCKS } from '@chorus/protocol';
import { deleteExpiredLocks, deleteLock, lockDocumentRow, readLock, readSessionLocks, upsertLock } from '../persistence/doc.repository';
import type { Caller, ConflictOptions, FileLocked, FileUnlocked, SessionLocks } from '../documents/document.types';

/**
 * Optional exclusive file locks with expiry. While a document is locked, only the holder (a user: any of their
 * connections) may commit ops to it; the committer checks the lock under the same head-row lock, so a lock
 * taken here is seen by every commit that starts after it, on every replica, and an op already committed
 * before it stays. Expired locks are ignored everywhere at once (`expires_at > now()` in every read), so
 * correctness never waits for a sweeper; `expire()` only deletes them and reports `file_unlocked`.
 */
export class FileLocks {
  constructor(
    private readonly db: DataSource,
    private readonly options: ConflictOptions,
  ) {}

  async lock(caller: Caller, sessionId: string, docId: string, ttlMs?: number): Promise<FileLocked> {
    authorize(caller.role, 'file.lock');
    const { min, max } = this.options.lockTtlMs;
    const ttl = Math.min(max, Math.max(min, ttlMs ?? this.options.lockTtlMs.default));
    const row = await this.db.transaction(async (tx) => {
      await lockDocumentRow(tx, sessionId, docId);
      const current = await readLock(tx, sessionId, docId);
      if (current && current.holder_id !== caller.user_id) {
        throw new ChorusError('FILE_LOCKED', `The file is already locked by ${current.holder_id} until ${current.expires_at.toISOString()}.`, {
          field: 'doc_id',
          locked_by: current.holder_id,
          locked_until: current.expires_at.toISOString(),
          retry_after_ms: Math.max(0, Number(current.ms_left)),
        });
      }
      return upsertLock(tx, sessionId, docId, caller.user_id, caller.client_id, ttl);
    });
    return { session_id: sessionId, doc_id: docId, holder_id: row.holder_id, peer_id: row.holder_client_id, expires_at: row.expires_at.toISOString() };
  }

  /**
   * Releases the caller's lock, or breaks someone else's with `force` (needs `file.lock_break`). Returns null if
   * there was no live lock (idempotent: a retried unlock is not an error, and there is nothing to broadcast).
   */
  async unlock(caller: Caller, sessionId: string, docId: string, force = false): Promise<FileUnlocked | null> {
    authorize(caller.role, force ? 'file.lock_break' : 'file.lock');
    return this.db.transaction(async (tx) => {
      await lockDocumentRow(tx, sessionId, docId);
      const current = await readLock(tx, sessionId, docId);
      if (!current) {
        await deleteLock(tx, sessionId, docId); // an expired leftover, if any
        return null;
      }
      const own = current.holder_id === caller.user_id;
      if (!own && !force) {
        throw new ChorusError('PERMISSION_DENIED', `The file is locked by ${current.holder_id}; only the holder can unlock it, or an admin can break the lock (force).`);
      }
      await deleteLock(tx, sessionId, docId);
      return own
        ? { session_id: sessionId, doc_id: docId, holder_id: current.holder_id, reason: 'released' as const }
        : { session_id: sessionId, doc_id: docId, holder_id: current.holder_id, reason: 'broken' as const, by: caller.user_id };
    });
  }

  /**
   * The session's live locks, for `joined.locks`: what a (re)joining client missed of the never-replayed lock
   * pushes. At most MAX_JOINED_LOCKS, by doc_id (one more is read to tell whether there were more). Read after
   * the gateway subscribed the socket, so a change after this read reaches it as a push.
   */
  async list(caller: Caller, sessionId: string): Promise<SessionLocks> {
    authorize(caller.role, 'document.read');
    const rows = await readSessionLocks(this.db, sessionId, MAX_JOINED_LOCKS + 1);
    return {
      locks: rows.slice(0, MAX_JOINED_LOCKS).map((r) => ({ doc_id: r.doc_id, holder_id: r.holder_id, peer_id: r.holder_client_id, expires_at: r.expires_at.toISOString() })),
      truncated: rows.length > MAX_JOINED_LOCKS,
    };
  }

  /** Deletes up to `limit` expired locks and returns their `file_unlocked` events (run it on a timer on any replica). */
  async expire(limit = 100): Promise<FileUnlocked[]> {
    const rows = await deleteExpiredLocks(this.db, limit);
    return rows.map((r) => ({ session_id: r.session_id, doc_id: r.doc_id, holder_id: r.holder_id, reason: 'expired' as const }));
  }
}
