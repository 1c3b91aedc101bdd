import type { Pool } from 'pg';
import { DocumentCache } from '../documents/document-cache';
import type { ConflictOptions, SubmitResult } from '../documents/document.types';
import { commitDocuments, type BatchOutcome, type DocBatch, type PendingSubmit } from './commit-batch';
import type { CommitFailureCounts, CommitMonitor } from './commit-failures';

interface Waiting {
  readonly key: string;
  readonly submit: PendingSubmit;
  resolve(result: SubmitResult): void;
  reject(err: unknown): void;
}

/**
 * Group commit inside one replica, across documents (as apps/session's event log does for sessions). Submits
 * queue up; a flush takes every queued submit of the documents not already being committed — up to `maxBatch`
 * submits, of any number of documents — and commits them in ONE transaction (commit-batch.ts: head rows locked
 * in key order, so flushes of several replicas never deadlock). One flush runs at a time, and everything that
 * arrives meanwhile goes into the next: commits grow with the load, and Postgres's per-statement cost (which,
 * not the WAL flush, bounds throughput here) is paid once per batch. Only while the oldest flush in flight has
 * run longer than `commitStallMs` (a lock wait, a slow disk) may another start, up to `maxParallelCommits`, so
 * one stuck commit never stalls the replica's other documents. An idle replica commits a submit at once:
 * batching adds no latency, it absorbs bursts, whether they hit one hot document or many. Per document, submits commit in arrival order (at most one flush per document
 * at a time, and a submit left in the queue blocks the later ones of its document). A refused submit fails
 * alone; a failed transaction fails the submits it carried.
 *
 * Across replicas the head-row locks still order everything; batching only cuts how often they are taken and
 * how many round trips a commit costs. A replica holds at most `maxParallelCommits` pooled connections for
 * commits, so a burst cannot starve the pool for reads.
 *
 * Modes (`commitMode`): 'group' (above); 'direct' — every submit its own transaction, all queueing on the row
 * lock in Postgres (no queue in this process: the baseline the tests and benchmark compare group commit with).
 */
export class OpCommitter {
  private queue: Waiting[] = [];
  private readonly inFlight = new Set<string>();
  /** Start times (performance.now()) of the flushes in flight, oldest first. */
  private readonly flushStarts: number[] = [];
  private stallTimer?: NodeJS.Timeout;
  private readonly stats = { transactions: 0, submits: 0 };

  constructor(
    private readonly db: Pool,
    private readonly cache: DocumentCache,
    private readonly options: ConflictOptions,
    private readonly monitor: CommitMonitor,
  ) {}

  submit(submit: PendingSubmit): Promise<SubmitResult> {
    const key = DocumentCache.key(submit.sessionId, submit.docId);
    if (this.options.commitMode === 'direct') {
      return this.run([{ key, sessionId: submit.sessionId, docId: submit.docId, submits: [submit] }]).then((outcomes) => unwrap((outcomes.get(key) as BatchOutcome[])[0]));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ key, submit, resolve, reject });
      this.pump();
    });
  }

  /** Commit rounds (transactions or fast-path statements) and submits so far: the batching factor is their ratio. */
  counters(): { transactions: number; submits: number } {
    return { ...this.stats };
  }

  /** The commit failures caught so far, by kind (commit-failures.ts). */
  failures(): CommitFailureCounts {
    return this.monitor.snapshot();
  }

  private pump(): void {
    while (this.queue.length > 0 && this.mayStartFlush()) {
      const batch = this.take();
      if (batch.length === 0) return;
      const started = performance.now();
      this.flushStarts.push(started);
      void this.flush(batch).finally(() => {
        this.flushStarts.splice(this.flushStarts.indexOf(started), 1);
        for (const w of batch) this.inFlight.delete(w.key);
        this.pump();
      });
    }
    if (this.queue.length > 0) this.watchForStall();
  }

  /** One flush at a time; another only while the oldest in flight has run longer than commitStallMs. */
  private mayStartFlush(): boolean {
    if (this.flushStarts.length === 0) return true;
    if (this.flushStarts.length >= this.options.maxParallelCommits) return false;
    return performance.now() - this.flushStarts[0] >= this.options.commitStallMs;
  }

  /** Submits wait behind a flush in flight: look again when it would count as stalled. */
  private watchForStall(): void {
    if (this.stallTimer || this.flushStarts.length >= this.options.maxParallelCommits) return;
    const wait = Math.max(1, this.flushStarts[0] + this.options.commitStallMs - performance.now());
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      this.pump();
    }, wait);
    this.stallTimer.unref();
  }

  /** Queued submits of documents with no flush in flight, in queue order (keeps per-document order). */
  private take(): Waiting[] {
    const taken: Waiting[] = [];
    const rest: Waiting[] = [];
    const blocked = new Set(this.inFlight);
    for (const w of this.queue) {
      if (taken.length < this.options.maxBatch && !blocked.has(w.key)) {
        taken.push(w);
      } else {
        rest.push(w);
        // Later submits of a document must not overtake one left in the queue.
        blocked.add(w.key);
      }
    }
    this.queue = rest;
    for (const w of taken) this.inFlight.add(w.key);
    return taken;
  }

  private async flush(batch: Waiting[]): Promise<void> {
    const byDoc = new Map<string, Waiting[]>();
    for (const w of batch) {
      const list = byDoc.get(w.key);
      if (list) list.push(w);
      else byDoc.set(w.key, [w]);
    }
    const docs: DocBatch[] = [...byDoc.entries()].map(([key, list]) => ({ key, sessionId: list[0].submit.sessionId, docId: list[0].submit.docId, submits: list.map((w) => w.submit) }));
    try {
      const outcomes = await this.run(docs);
      for (const [key, list] of byDoc) {
        const results = outcomes.get(key) as BatchOutcome[];
        list.forEach((w, i) => settle(w, results[i]));
      }
    } catch (err) {
      batch.forEach((w) => w.reject(err));
    }
  }

  private run(docs: DocBatch[]): Promise<Map<string, BatchOutcome[]>> {
    this.stats.transactions += 1;
    this.stats.submits += docs.reduce((n, d) => n + d.submits.length, 0);
    return commitDocuments(this.db, this.cache, this.options, docs, this.monitor);
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
