import { ChorusError, type ConflictList, type ConflictStrategy, type FileRule, type FileRulesView, type ServerMessage, type ServerMessageOf } from '@chorus/protocol';
import { backoffDelay } from './backoff';
import type { ChorusClient } from './client';
import { TypedEmitter } from './emitter';
import { ClientClosedError } from './errors';

/** Events of {@link SessionFiles}. */
export interface SessionFilesEvents {
  /** A recorded conflict of this session was resolved (by anyone; the resolver's own call resolves with it too). */
  conflictResolved: ServerMessageOf<'conflict_resolved'>;
  /** An op overlapped concurrent ops: recorded as `conflict_id` (when present), to show and resolve. */
  conflictDetected: ServerMessageOf<'conflict_detected'>;
}

/**
 * Per-file permissions and the conflict workflow of one session (docs/files.md): `session.files`. Path rules are
 * read and set over REST; conflicts are listed over REST and resolved over the socket (applied as an op by the
 * server, so the document's text follows through its ordinary `op` pushes).
 */
export class SessionFiles extends TypedEmitter<SessionFilesEvents> {
  constructor(
    private readonly client: ChorusClient,
    private readonly sessionId: string,
    private readonly ready: () => Promise<void>,
  ) {
    super();
  }

  /** The session's path rules (any participant). */
  rules(): Promise<FileRulesView> {
    return this.client.rest.call('GET', `/collaboration/sessions/${this.sessionId}/file-rules`);
  }

  /** Replaces the session's path rules (owner or admin); `[]` removes them all. */
  setRules(rules: FileRule[]): Promise<FileRulesView> {
    return this.client.rest.call('PUT', `/collaboration/sessions/${this.sessionId}/file-rules`, { rules });
  }

  /** Recorded conflicts, oldest first: `open` ones to show, `resolved` ones with their resolution. */
  conflicts(options: { state?: 'open' | 'resolved'; docId?: string; limit?: number } = {}): Promise<ConflictList> {
    const query = new URLSearchParams();
    if (options.state !== undefined) query.set('state', options.state);
    if (options.docId !== undefined) query.set('doc_id', options.docId);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const qs = query.toString();
    return this.client.rest.call('GET', `/collaboration/sessions/${this.sessionId}/conflicts${qs === '' ? '' : `?${qs}`}`);
  }

  /**
   * Resolves a conflict: `keep_mine`, `keep_theirs`, or `merged` with `text`. Resent after UNAVAILABLE or a
   * reconnect (the server answers the same resolution to the same resolver); CONFLICT when someone else resolved it.
   */
  async resolveConflict(conflictId: string, strategy: ConflictStrategy, text?: string): Promise<ServerMessageOf<'conflict_resolved'>> {
    const body = { session_id: this.sessionId, conflict_id: conflictId, strategy, ...(text !== undefined ? { text } : {}) };
    for (let attempt = 0; ; attempt++) {
      await this.ready();
      try {
        return await this.client.request('resolve_conflict', body);
      } catch (err) {
        if (!(err instanceof ChorusError) || !err.retryable || err instanceof ClientClosedError || attempt >= 50) throw err;
        this.client.warn(`resolve_conflict ${conflictId}: ${err.code}, sending again (idempotent)`, err);
        await new Promise((resolve) => setTimeout(resolve, err.details.retry_after_ms ?? backoffDelay(attempt, this.client.random, { initialDelayMs: 100, maxDelayMs: 5_000 })));
      }
    }
  }

  /** @internal A push for this session; true when it was one of ours. */
  handlePush(m: ServerMessage): boolean {
    if (m.type === 'conflict_resolved') {
      this.emit('conflictResolved', m);
      return true;
    }
    if (m.type === 'conflict_detected') {
      this.emit('conflictDetected', m);
      return false;
    }
    return false;
  }
}
