import type { DataSource } from 'typeorm';
import { appendUpdate, appendUpdates, seqOfDigest, seqsOfDigests, type BatchedUpdate } from './yjs.repository';

export type AppendResult = { kind: 'appended' | 'duplicate'; seq: number } | { kind: 'missing' } | { kind: 'too_large'; bytes: number };

interface Waiter {
  readonly item: BatchedUpdate;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (err: unknown) => void;
}

/** Most updates one statement carries (a burst beyond it is written as several statements, one after the other). */
export const YJS_MAX_BATCH = 64;

/**
 * Group commit for Yjs appends (docs/yjs.md): every append of a document locks its head row until it commits, so
 * appends of one document are serial anyway — one commit (one WAL flush) each. Here, while one statement of a
 * document is in flight, the appends that arrive for it wait, and the next statement writes all of them (one
 * multi-row INSERT, one head-row update, one commit). No timer: an append that finds the document idle is written
 * at once, so a lone update pays nothing; under load the batch grows with the commit latency.
 *
 * Every caller is answered only once its row is committed, with its own seq — durability and the ack contract are
 * unchanged. Idempotent as before: the same bytes twice in one batch are stored once (the second answered as a
 * duplicate of the first), and a batch that meets bytes already stored (a resend: the unique digest) is rolled back
 * whole, its resends answered with their original seqs and the rest written again. A batch over the size limit is
 * written one by one, so each update gets its own verdict.
 */
export class YjsAppendBatcher {
  private readonly queues = new Map<string, Waiter[]>();

  constructor(
    private readonly db: DataSource,
    private readonly maxDocBytes: number,
  ) {}

  append(sessionId: string, docId: string, item: BatchedUpdate): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      const key = `${sessionId}\u0000${docId}`;
      const queue = this.queues.get(key);
      if (queue) return void queue.push({ item, resolve, reject });
      const fresh: Waiter[] = [{ item, resolve, reject }];
      this.queues.set(key, fresh);
      void this.drain(key, sessionId, docId, fresh);
    });
  }

  /** Writes the document's queue batch after batch until it is empty (new arrivals join the queue meanwhile). */
  private async drain(key: string, sessionId: string, docId: string, queue: Waiter[]): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, YJS_MAX_BATCH);
      try {
        await this.write(sessionId, docId, batch);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.queues.delete(key);
  }

  private async write(sessionId: string, docId: string, batch: Waiter[]): Promise<void> {
    // The same bytes twice in one batch: stored once, the later ones answered as duplicates of the first.
    const first = new Map<string, Waiter[]>();
    for (const w of batch) {
      const hex = w.item.digest.toString('hex');
      const same = first.get(hex);
      if (same) same.push(w);
      else first.set(hex, [w]);
    }
    let unique = [...first.values()];
    // A resend among them fails the whole statement on its unique digest: those stored already are answered with
    // their original seq, and the rest written again (twice at most, then one by one).
    for (let attempt = 0; unique.length > 1 && attempt < 2; attempt++) {
      let outcome;
      try {
        outcome = await appendUpdates(this.db, { sessionId, docId, updates: unique.map((ws) => ws[0].item), maxDocBytes: this.maxDocBytes });
      } catch (err) {
        if ((err as { code?: string }).code !== '23505') throw err;
        const stored = await seqsOfDigests(this.db, sessionId, docId, unique.map((ws) => ws[0].item.digest));
        unique = unique.filter((ws) => {
          const seq = stored.get(ws[0].item.digest.toString('hex'));
          if (seq !== undefined) answer(ws, { kind: 'duplicate', seq });
          return seq === undefined;
        });
        continue;
      }
      if (outcome.kind === 'missing') return void unique.forEach((ws) => answer(ws, outcome));
      // Together they do not fit; some may alone: each gets its own verdict, in order.
      if (outcome.kind === 'too_large') break;
      const firstSeq = outcome.firstSeq;
      unique.forEach((ws, i) => answer(ws, { kind: 'appended', seq: firstSeq + i }));
      return;
    }
    for (const ws of unique) await this.one(sessionId, docId, ws);
  }

  /** One update (and its copies in the batch) with the single-row statement. */
  private async one(sessionId: string, docId: string, ws: Waiter[]): Promise<void> {
    const item = ws[0].item;
    try {
      const outcome = await appendUpdate(this.db, { sessionId, docId, update: item.update, digest: item.digest, userId: item.userId, clientId: item.clientId, maxDocBytes: this.maxDocBytes });
      answer(ws, outcome);
    } catch (err) {
      // The same bytes already stored (a resend, or a retry racing its original): the statement rolled back whole.
      if ((err as { code?: string }).code !== '23505') return void ws.forEach((w) => w.reject(err));
      const seq = await seqOfDigest(this.db, sessionId, docId, item.digest);
      if (seq === undefined) return void ws.forEach((w) => w.reject(err));
      answer(ws, { kind: 'duplicate', seq });
    }
  }
}

/** The first of identical updates gets the outcome; its copies are duplicates of it. */
function answer(ws: Waiter[], outcome: AppendResult): void {
  ws[0].resolve(outcome);
  for (const w of ws.slice(1)) w.resolve(outcome.kind === 'appended' ? { kind: 'duplicate', seq: outcome.seq } : outcome);
}
