import type { LoggerService } from '@nestjs/common';
import { authorizeFile, resolveFileAccess, type FileAction, type FileDecision, type FilePrincipal } from '@chorus/auth';
import type { StoredFileRule } from '@chorus/protocol';
import type { SessionRouter } from '../routing/session.router';

interface Entry {
  readonly rules: Promise<readonly StoredFileRule[]>;
  readonly version: number | null;
  readonly loadedAt: number;
}

/**
 * The gateway's copy of each session's per-file path rules, for the checks on every document action (open,
 * submit_op, lock, resolve_conflict) and for any other feature that touches files (file-sync): `authorize`.
 *
 * Freshness: a `file_rules_updated` durable event reaches every gateway with members of the session (the session
 * stream, in seq order) and drops the copy at once (`invalidate`), so a change takes effect as fast as a role
 * change. A copy also lives at most `maxAgeMs`, which bounds staleness where no stream delivers the event (a
 * gateway whose only use of a session is REST). A failed load is not cached: the next action asks again.
 */
export class FileRulesCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly sessions: SessionRouter,
    private readonly logger: LoggerService,
    private readonly maxAgeMs = 5_000,
    private readonly maxSessions = 10_000,
  ) {}

  /** The session's rules (cached). */
  rules(sessionId: string): Promise<readonly StoredFileRule[]> {
    const now = Date.now();
    const hit = this.entries.get(sessionId);
    if (hit && now - hit.loadedAt < this.maxAgeMs) return hit.rules;
    if (this.entries.size >= this.maxSessions) this.entries.delete(this.entries.keys().next().value as string);
    const rules = this.sessions.call('file_rules.enforced', { session_id: sessionId }).then((v) => v.rules);
    const entry: Entry = { rules, version: null, loadedAt: now };
    this.entries.set(sessionId, entry);
    rules.catch((err: unknown) => {
      if (this.entries.get(sessionId) === entry) this.entries.delete(sessionId);
      this.logger.warn(`File rules of session ${sessionId} not loaded (the action is refused as UNAVAILABLE): ${(err as Error).message}`, 'FileRulesCache');
    });
    return rules;
  }

  /** Throws PERMISSION_DENIED naming the rule unless `principal` may `action` the file `path` of the session. */
  async authorize(sessionId: string, principal: FilePrincipal, path: string, action: FileAction): Promise<void> {
    authorizeFile(await this.rules(sessionId), principal, path, action);
  }

  /** The decision itself (which access, which rule), e.g. to show a file as read-only. */
  async decide(sessionId: string, principal: FilePrincipal, path: string): Promise<FileDecision> {
    return resolveFileAccess(await this.rules(sessionId), principal, path);
  }

  /** A `file_rules_updated` event arrived: the next check reads the new rules. */
  invalidate(sessionId: string): void {
    this.entries.delete(sessionId);
  }
}
