import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { SessionApi, TypedClient } from '@chorus/contracts';
import { rowsOf, underSessionLock } from '@chorus/database';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import type { ConflictService } from '../conflict.service';

export interface PurgeBackstopOptions {
  /** How often each replica tries a pass (CONFLICT_PURGE_BACKSTOP_INTERVAL_MS). */
  readonly intervalMs: number;
  /** Session ids asked about per `session.gone` request (the session service takes at most 1,000). */
  readonly batch: number;
  /**
   * A gone session's documents are purged only once nothing was written to them for this long (default
   * DEFAULT_PURGE_MIN_IDLE_MS). The backstop is for purges that failed long ago; the guard keeps a conflict
   * service that asks the wrong session service (another database, an empty one: every id "gone") from
   * purging documents people are working on.
   */
  readonly minIdleMs?: number;
}

/** Two days: beyond the session janitor's grace (a deleted session's row goes a day after its deletion). */
export const DEFAULT_PURGE_MIN_IDLE_MS = 2 * 24 * 3600 * 1000;

export const DEFAULT_PURGE_BACKSTOP_BATCH = 200;

/** One key for the whole pass, distinct from compaction's (0xc0_4ac7) and the session janitor's (0x5e55_1011). */
const LOCK_KEY = 0xc0_9a6e;

export interface PurgeBackstopCounts {
  /** Sessions whose documents this replica's passes removed (the session was deleted or gone). */
  purged: number;
  /** Purges that failed (the session's documents stay for the next pass). */
  failed: number;
  /** `session.gone` requests that failed (the pass stopped there; the next one starts over). */
  queryFailed: number;
  /** Gone sessions left alone because their documents were written to within `minIdleMs`. */
  deferred: number;
}

export type PurgeBackstopResult = { checked: number; purged: number; failed: number; completed: boolean };

/**
 * The backstop behind the gateway's `session.purge` after `DELETE /sessions/:id`: that call is best-effort (a
 * failure is logged, never retried), so a pass lists every session this service holds documents or locks for,
 * asks the session service which are deleted or gone (`session.gone`, in batches), and purges those.
 * Every replica schedules it; a session-level advisory lock held for the pass lets one replica run at a time
 * (the others' passes return `null`). Even two passes at once would be harmless: the purge is idempotent.
 */
export class PurgeBackstopJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private task: PeriodicTask | undefined;
  private readonly tally: PurgeBackstopCounts = { purged: 0, failed: 0, queryFailed: 0, deferred: 0 };

  constructor(
    private readonly db: DataSource,
    private readonly documents: Pick<ConflictService, 'purgeSession'>,
    private readonly sessions: Pick<TypedClient<SessionApi>, 'call'>,
    private readonly logger: LoggerService,
    private readonly options: PurgeBackstopOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.task = startPeriodic('PurgeBackstop', this.options.intervalMs, () => this.runOnce(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
  }

  counts(): Readonly<PurgeBackstopCounts> {
    return { ...this.tally };
  }

  /** One pass, or `null` when another replica holds the lock. `completed` false: a `session.gone` failed. */
  async runOnce(): Promise<PurgeBackstopResult | null> {
    // One replica at a time, for the whole pass (see underSessionLock).
    return underSessionLock(this.db, LOCK_KEY, () => this.sweep());
  }

  private minIdleMs(): number {
    return this.options.minIdleMs ?? DEFAULT_PURGE_MIN_IDLE_MS;
  }

  /** Whether an op was committed to, or a document or lock created in, the session within minIdleMs. */
  private async recentlyWritten(sessionId: string): Promise<boolean> {
    const [row] = rowsOf<{ recent: boolean }>(
      await this.db.query(
        `SELECT EXISTS (SELECT 1 FROM doc_ops WHERE session_id = $1 AND created_at > now() - $2 * interval '1 millisecond')
             OR EXISTS (SELECT 1 FROM documents WHERE session_id = $1 AND created_at > now() - $2 * interval '1 millisecond')
             OR EXISTS (SELECT 1 FROM doc_locks WHERE session_id = $1 AND acquired_at > now() - $2 * interval '1 millisecond') AS recent`,
        [sessionId, this.minIdleMs()],
      ),
    );
    return row.recent;
  }

  private async sweep(): Promise<PurgeBackstopResult> {
    const result: PurgeBackstopResult = { checked: 0, purged: 0, failed: 0, completed: true };
    // Keyset pages over the session ids: purging a page never shifts the next one.
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const ids = rowsOf<{ session_id: string }>(
        await this.db.query(
          `SELECT session_id FROM (SELECT session_id FROM documents UNION SELECT session_id FROM doc_locks) s
           WHERE session_id > $1 ORDER BY session_id LIMIT $2`,
          [after, this.options.batch],
        ),
      ).map((r) => r.session_id);
      if (ids.length === 0) break;
      after = ids[ids.length - 1];
      result.checked += ids.length;
      let gone: string[];
      try {
        ({ gone } = await this.sessions.call('session.gone', { session_ids: ids }));
      } catch (err) {
        // Without an answer nothing may be purged: stop, the next pass starts over.
        this.tally.queryFailed++;
        this.logger.error(`Purge backstop: session.gone failed, pass stopped after ${result.checked - ids.length} sessions: ${(err as Error).message}`, 'PurgeBackstop');
        return { ...result, checked: result.checked - ids.length, completed: false };
      }
      // Only ids this page asked about: an answer never widens what is deleted.
      const asked = new Set(ids);
      for (const id of gone.filter((g) => asked.has(g))) {
        try {
          if (await this.recentlyWritten(id)) {
            this.tally.deferred++;
            this.logger.warn(`Purge backstop: session ${id} is gone by the session service, but its documents were written to within ${this.minIdleMs()} ms: left alone (is this conflict service asking the right session service?)`, 'PurgeBackstop');
            continue;
          }
          await this.documents.purgeSession({ session_id: id });
          this.tally.purged++;
          result.purged++;
        } catch (err) {
          this.tally.failed++;
          result.failed++;
          this.logger.error(`Purge backstop: purging the documents of gone session ${id} failed (retried next pass): ${(err as Error).message}`, 'PurgeBackstop');
        }
      }
      if (ids.length < this.options.batch) break;
    }
    if (result.purged > 0 || result.failed > 0) this.logger.log(`Purge backstop: ${result.purged} gone sessions purged, ${result.failed} failed, of ${result.checked} checked`, 'PurgeBackstop');
    return result;
  }
}
