import type { DataSource } from 'typeorm';
import { DocumentCache } from '../documents/document-cache';
import type { ConflictOptions, SubmitResult } from '../documents/document.types';
import { commitBatch, type BatchOutcome, type PendingSubmit } from './commit-batch';

interface Waiting {
  readonly submit: PendingSubmit;
  resolve(result: SubmitResult): void;
  reject(err: unknown): void;
}

/**
 * Group commit per document inside one replica. While a commit transaction for a document is in flight, later
 * submits to the same document wait and then go together in the next transaction: one head-row lock, one read,
 * one write for the whole batch. An idle document commits at once (batching adds no latency, it absorbs bursts).
 * Across replicas the head-row lock still orders everything; batching only cuts how often it is taken.
 *
 * Each document has at most one transaction in flight per replica, so a replica holds at most one pooled
 * connection per hot document — a hot document cannot starve the pool for the others.
 *
 * `commitMode: 'direct'` skips the queue (one transaction per submit, all queueing on the row lock in Postgres):
 * kept for the benchmark's comparison and as a fallback.
 */
export class OpCommitter {
  private readonly queues = new Map<string, Waiting[]>();
  private readonly flushing = new Set<string>();
  private readonly stats = { transactions: 0, submits: 0 };

  constructor(
    private readonly db: DataSource,
    private readonly cache: DocumentCache,
    private readonly options: ConflictOptions,
  ) {}

  submit(submit: PendingSubmit): Promise<SubmitResult> {
    if (this.options.commitMode === 'direct') {
      return this.run(submit.sessionId, submit.docId, [submit]).then(([outcome]) => unwrap(outcome));
    }
    const key = DocumentCache.key(submit.sessionId, submit.docId);
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(key) ?? [];
      queue.push({ submit, resolve, reject });
      this.queues.set(key, queue);
      if (!this.flushing.has(key)) void this.flush(key, submit.sessionId, submit.docId);
    });
  }

  /** Transactions run and submits committed (or refused) so far: the batching factor is their ratio. */
  counters(): { transactions: number; submits: number } {
    return { ...this.stats };
  }

  private async flush(key: string, sessionId: string, docId: string): Promise<void> {
    this.flushing.add(key);
    try {
      for (;;) {
        const queue = this.queues.get(key);
        if (!queue || queue.length === 0) break;
        const batch = queue.splice(0, this.options.maxBatch);
        try {
          const outcomes = await this.run(sessionId, docId, batch.map((w) => w.submit));
          batch.forEach((w, i) => settle(w, outcomes[i]));
        } catch (err) {
          batch.forEach((w) => w.reject(err));
        }
      }
    } finally {
      this.flushing.delete(key);
      this.queues.delete(key);
    }
  }

  private run(sessionId: string, docId: string, batch: PendingSubmit[]): Promise<BatchOutcome[]> {
    this.stats.transactions += 1;
    this.stats.submits += batch.length;
    return commitBatch(this.db, this.cache, this.options, sessionId, docId, batch);
  }
}

function unwrap(outcome: BatchOutcome): SubmitResult {
  if (outcome.ok) return outcome.result;
  throw outcome.error;
}

function settle(w: Waiting, outcome: BatchOutcome): void {
  if (outcome.ok) w.resolve(outcome.result);
  else w.reject(outcome.error);
}
