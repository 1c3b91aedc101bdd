import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf, underSessionLock } from '@chorus/database';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import { compactState } from './yjs-update';
import { insertVersion, pruneCompactionVersions } from './yjs-versions.repository';

export interface YjsCompactionOptions {
  /** How often each replica tries a pass. */
  readonly intervalMs: number;
  /** A document is compacted once its log holds at least this many updates after the snapshot. */
  readonly minUpdates: number;
  /** Documents compacted per transaction. */
  readonly batch: number;
}

export const DEFAULT_YJS_COMPACTION: YjsCompactionOptions = { intervalMs: 30_000, minUpdates: 200, batch: 20 };

/** One key for the whole pass, distinct from the OT compaction's (0xc04ac7) and the janitors'. */
const LOCK_KEY = 0x4a5_c0a7;

/**
 * Folds each Yjs document's log into its snapshot (the y-redis worker's job, on Postgres): snapshot + updates up to
 * the head → one update, applied to a Y.Doc and re-encoded so deleted content is garbage-collected; the folded
 * rows are deleted and `bytes` reset to what is stored. Every replica schedules it; an advisory lock lets one at a
 * time run a pass, and each document is taken `FOR UPDATE SKIP LOCKED` — appends wait for the row lock, so none
 * lands between the read and the delete, and a document being appended to is left for the next pass rather than
 * waited on. Readers are never torn: they read the snapshot and the log in one statement. Each new snapshot is
 * also kept as a version of the document's history (yjs-versions.ts).
 */
export class YjsCompactionJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private task: PeriodicTask | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly logger: LoggerService,
    private readonly options: YjsCompactionOptions = DEFAULT_YJS_COMPACTION,
  ) {}

  onApplicationBootstrap(): void {
    this.task = startPeriodic('YjsCompaction', this.options.intervalMs, () => this.runOnce(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
  }

  /** One pass: documents compacted and updates folded, or `null` when another replica holds the lock. */
  async runOnce(minUpdates = this.options.minUpdates): Promise<{ documents: number; updates: number } | null> {
    return underSessionLock(this.db, LOCK_KEY, (manager) => this.compactAll(manager, minUpdates));
  }

  private async compactAll(manager: EntityManager, minUpdates: number): Promise<{ documents: number; updates: number }> {
    let documents = 0;
    let updates = 0;
    for (;;) {
      const batch = await manager.transaction(async (tx) => {
        const due = rowsOf<{ session_id: string; doc_id: string; snapshot: Buffer | null; snapshot_seq: string; head_seq: string }>(
          await tx.query(
            `SELECT session_id, doc_id, snapshot, snapshot_seq, head_seq FROM yjs_documents
              WHERE head_seq - snapshot_seq >= $1 ORDER BY session_id, doc_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
            [Math.max(1, minUpdates), this.options.batch],
          ),
        );
        let folded = 0;
        for (const d of due) {
          const log = rowsOf<{ update: Buffer }>(
            await tx.query(`SELECT update FROM yjs_updates WHERE session_id = $1 AND doc_id = $2 AND seq > $3 AND seq <= $4 ORDER BY seq`, [d.session_id, d.doc_id, d.snapshot_seq, d.head_seq]),
          );
          const state = Buffer.from(compactState(d.snapshot, log.map((r) => r.update)));
          await tx.query(`DELETE FROM yjs_updates WHERE session_id = $1 AND doc_id = $2 AND seq <= $3`, [d.session_id, d.doc_id, d.head_seq]);
          await tx.query(`UPDATE yjs_documents SET snapshot = $3, snapshot_seq = $4, bytes = $5, compacted_at = now() WHERE session_id = $1 AND doc_id = $2`, [d.session_id, d.doc_id, state, d.head_seq, state.length]);
          // The new snapshot is a version of the document's history (docs/yjs.md "Version history"), in the same
          // transaction; the job's older versions beyond the newest 50 go (saved ones stay).
          await insertVersion(tx, { sessionId: d.session_id, docId: d.doc_id, seq: Number(d.head_seq), state, reason: 'compaction', label: null, author: null });
          await pruneCompactionVersions(tx, d.session_id, d.doc_id);
          folded += log.length;
        }
        return { documents: due.length, updates: folded };
      });
      documents += batch.documents;
      updates += batch.updates;
      if (batch.documents < this.options.batch) break;
    }
    if (documents > 0) this.logger.log(`Compacted ${documents} Yjs documents (${updates} updates folded into snapshots)`, 'YjsCompaction');
    return { documents, updates };
  }
}
