import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf, underSessionLock } from '@chorus/database';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import { compactOps } from '../persistence/doc.repository';

/**
 * The job's settings: `config.conflict.compaction` (libs/config, variables CONFLICT_COMPACTION_*; their defaults
 * and why are documented there and in README.md).
 */
export interface CompactionOptions {
  /** How often each replica tries a pass. */
  readonly intervalMs: number;
  /**
   * Ops of at least the last `retainVersions` versions of every document are kept (history, fetch_ops,
   * rebasing). Older ops go down to the newest snapshot at or below `head - retainVersions`; snapshots
   * themselves are kept, so `document_at` still reads them.
   */
  readonly retainVersions: number;
  /** Documents compacted per transaction (each holds its head-row lock until the transaction ends). */
  readonly batch: number;
}

/** One key for the whole pass, distinct from the session janitor's (0x5e55_1011). */
const LOCK_KEY = 0xc0_4ac7;

/**
 * Drops ops beyond the retention of every document. Every replica runs it; an advisory lock held for the pass
 * lets one replica compact at a time (the others' passes return `null`), and candidates are taken
 * `FOR UPDATE SKIP LOCKED` so a document a committer holds is left for the next pass rather than waited on.
 * Even without the advisory lock two passes could not corrupt anything: compaction runs under the head-row
 * lock and is idempotent (a second pass finds nothing beyond retention).
 */
export class CompactionJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private task: PeriodicTask | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly logger: LoggerService,
    private readonly options: CompactionOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.task = startPeriodic('Compaction', this.options.intervalMs, () => this.runOnce(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
  }

  /** One pass: documents compacted and ops removed, or `null` when another replica holds the lock. */
  async runOnce(): Promise<{ documents: number; ops: number } | null> {
    // One replica at a time, for the whole pass: no other replica slips in between two batches (underSessionLock).
    return underSessionLock(this.db, LOCK_KEY, (manager) => this.compactAll(manager));
  }

  private async compactAll(manager: EntityManager): Promise<{ documents: number; ops: number }> {
    let documents = 0;
    let ops = 0;
    for (;;) {
      const batch = await manager.transaction(async (tx) => {
        // The newest snapshot at or below head - retain, for documents where it is above min_version. Locked
        // like a committer locks the head, so no commit reads those ops meanwhile.
        const due = rowsOf<{ session_id: string; doc_id: string; upto: string }>(
          await tx.query(
            `SELECT d.session_id, d.doc_id, s.version AS upto FROM documents d
             CROSS JOIN LATERAL (
               SELECT version FROM doc_snapshots s WHERE s.session_id = d.session_id AND s.doc_id = d.doc_id AND s.version <= d.version - $1
               ORDER BY version DESC LIMIT 1
             ) s
             WHERE d.version - $1 > d.min_version AND s.version > d.min_version
             ORDER BY d.session_id, d.doc_id LIMIT $2 FOR UPDATE OF d SKIP LOCKED`,
            [this.options.retainVersions, this.options.batch],
          ),
        );
        let removed = 0;
        for (const d of due) removed += await compactOps(tx, d.session_id, d.doc_id, Number(d.upto));
        return { documents: due.length, ops: removed };
      });
      documents += batch.documents;
      ops += batch.ops;
      if (batch.documents < this.options.batch) break;
    }
    if (documents > 0) this.logger.log(`Compacted ${documents} documents (${ops} ops beyond retention removed)`, 'Compaction');
    return { documents, ops };
  }
}
