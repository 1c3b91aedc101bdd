import type { LoggerService } from '@nestjs/common';
import type { PresenceApi } from '@chorus/contracts';
import type { TextOp } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import type { PresenceService } from './presence';

/** `presence.op_committed` as the gateway emits it: op `version` applies to the document at `version - 1`. */
export type OpCommitted = PresenceApi['presence.op_committed']['req'];

/** The conflict service's ordered op log, read from `fromVersion` (exclusive): `ops.fetch` (its own paging). */
export type CommittedOpsSource = (sessionId: string, docId: string, fromVersion: number) => Promise<{ ops: ReadonlyArray<{ version: number; op: TextOp; peer_id: string }>; head: number }>;

/**
 * What became of committed ops, counted (metrics): `applied` moved the stored selections; `duplicate` was at
 * or below the applied version (a redelivery, or already read from the log); `filled` was read from the
 * conflict service to close a gap; `skipped` was missing and could not be read (no longer retained, or the
 * log stayed unreachable while too many ops piled up) — the selections jump over it; `invalid` was malformed,
 * or a version the op log does not have (never committed); `failed` counts store or log errors (retried).
 */
export type OpOutcome = 'applied' | 'duplicate' | 'filled' | 'skipped' | 'invalid' | 'failed';

export interface SelectionBatcherOptions {
  /** At most one store call per document per interval; ops arriving meanwhile go through together. */
  intervalMs: number;
  /** How long an op that arrived ahead of a missing one waits before the missing ones are read from the log. */
  gapMs: number;
  /** Ops held per document at most while waiting: above it the gap is filled (or skipped) at once. */
  maxHeld: number;
}

/**
 * Defaults, and why: 100 ms keeps a hot 200-cursor document at ~10 store calls per second; 1 s covers the
 * transport's reordering (redelivery after a consumer's claim idle is longer, and the log read repairs it)
 * without leaving cursors wrong for long; 1,000 ops is minutes of typing, far above any normal reorder.
 */
export const DEFAULT_SELECTION_BATCHER_OPTIONS: SelectionBatcherOptions = { intervalMs: 100, gapMs: 1_000, maxHeld: 1_000 };

interface Held {
  op: TextOp;
  authorPeerId: string;
}

interface DocQueue {
  readonly key: string;
  readonly sessionId: string;
  readonly docId: string;
  /** Committed ops not applied yet, by version. */
  readonly held: Map<number, Held>;
  running: boolean;
  /** Set when the gap timer fired: the next pass reads the missing ops instead of waiting. */
  fillDue: boolean;
  gapTimer: NodeJS.Timeout | undefined;
}

const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/**
 * Moves stored selections through committed ops exactly once each and in version order, per document.
 *
 * The store keeps, per (session, document), the version the selections have been carried through, and moves
 * it in the same atomic write as the selections, only from the version it was read at
 * (PresenceStore.transformSelections with a step). So: an op at or below it is a duplicate and dropped (the
 * transport delivers at least once); the ops right after it go through in one store call; an op further ahead
 * is held until the missing ones arrive, and if they do not within `gapMs` (a gateway died before emitting, or
 * an event was lost), they are read from the conflict service's op log — the one place that decides order. Two
 * replicas applying the same document (a consumer failover) cannot both win a step: the loser re-reads.
 *
 * Stored positions lag by at most `intervalMs` (plus `gapMs` after a loss); they serve `who` and late joiners
 * (live clients move the cursors they show themselves, by the same rule).
 */
export class SelectionBatcher {
  private readonly queues = new Map<string, DocQueue>();
  private readonly options: SelectionBatcherOptions;
  private closed = false;

  constructor(
    private readonly presence: PresenceService,
    private readonly log: CommittedOpsSource,
    private readonly logger: LoggerService,
    private readonly count: (outcome: OpOutcome, n: number) => void = () => undefined,
    options: Partial<SelectionBatcherOptions> = {},
  ) {
    this.options = { ...DEFAULT_SELECTION_BATCHER_OPTIONS, ...options };
  }

  /** Resolves once the op (and those queued with it) went through, or is held for a missing earlier one. */
  add(e: OpCommitted): Promise<void> {
    if (!isVersion(e.version) || typeof e.session_id !== 'string' || typeof e.doc_id !== 'string' || !Array.isArray(e.op)) {
      // E.g. an old gateway during a rolling deploy (no version): the next versioned op's gap read repairs it.
      this.count('invalid', 1);
      this.logger.warn(`Dropped a presence.op_committed without a valid version/op (doc ${String(e.doc_id)}, version ${String(e.version)})`, 'SelectionBatcher');
      return Promise.resolve();
    }
    const q = this.queue(e.session_id, e.doc_id);
    q.held.set(e.version, { op: e.op, authorPeerId: e.author_peer_id });
    return this.kick(q);
  }

  /** Stops the gap timers (shutdown). Held ops are dropped: the next replica's gap read repairs them. */
  close(): void {
    this.closed = true;
    for (const q of this.queues.values()) clearTimeout(q.gapTimer);
    this.queues.clear();
  }

  private queue(sessionId: string, docId: string): DocQueue {
    const key = `${sessionId}\u0000${docId}`;
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = { key, sessionId, docId, held: new Map(), running: false, fillDue: false, gapTimer: undefined }));
    return q;
  }

  private kick(q: DocQueue): Promise<void> {
    return q.running || this.closed ? Promise.resolve() : this.run(q);
  }

  private async run(q: DocQueue): Promise<void> {
    q.running = true;
    try {
      await this.drain(q);
    } catch (err) {
      // A store or log error: the ops stay held and the gap timer retries (never lost, never applied twice).
      this.count('failed', 1);
      this.logger.warn(`Could not move selections of ${q.docId} through committed ops (retried in ${this.options.gapMs} ms): ${(err as Error).message}`, 'SelectionBatcher');
      this.armGap(q);
    } finally {
      q.running = false;
      if (q.held.size === 0 && q.gapTimer === undefined && this.queues.get(q.key) === q) this.queues.delete(q.key);
    }
  }

  private async drain(q: DocQueue): Promise<void> {
    for (let started = Date.now(); ; started = Date.now()) {
      const applied = await this.presence.appliedVersion(q.sessionId, q.docId);
      this.dropUpTo(q, applied);
      if (q.held.size === 0) break;
      const first = Math.min(...q.held.keys());
      // Nothing recorded (a document presence has not seen an op of, or one idle past the retention): the
      // selections were set by clients at whatever version they had; the first op known starts the count.
      const base = applied ?? first - 1;
      const batch: Array<{ op: TextOp; authorPeerId: string }> = [];
      for (let v = base + 1; q.held.has(v); v++) batch.push(q.held.get(v)!);
      if (batch.length === 0) {
        if (!q.fillDue && q.held.size < this.options.maxHeld) {
          this.armGap(q);
          break;
        }
        q.fillDue = false;
        await this.fill(q, base, first - 1);
        continue;
      }
      const result = await this.presence.transformSelectionsMany(q.sessionId, q.docId, batch, { from: applied, to: base + batch.length });
      // Another replica moved this document's version between our read and write: read it again.
      if (result.outOfStep) continue;
      for (let v = base + 1; v <= base + batch.length; v++) q.held.delete(v);
      q.fillDue = false;
      this.count('applied', batch.length);
      if (q.held.size === 0) {
        clearTimeout(q.gapTimer);
        q.gapTimer = undefined;
        break;
      }
      const wait = this.options.intervalMs - (Date.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Reads the ops after `from` (the applied version) up to `upTo` from the conflict service into `held`. If
   * none of them can be read — no longer retained (compacted), or the log unreachable while `maxHeld` ops
   * piled up — the applied version jumps to `upTo` without moving selections (logged, counted as skipped).
   */
  private async fill(q: DocQueue, from: number, upTo: number): Promise<void> {
    let at = from;
    try {
      for (;;) {
        const page = await this.log(q.sessionId, q.docId, at);
        const fresh = page.ops.filter((o) => o.version > at && !q.held.has(o.version));
        for (const o of fresh) q.held.set(o.version, { op: o.op, authorPeerId: o.peer_id });
        this.count('filled', fresh.filter((o) => o.version <= upTo).length);
        const last = Math.max(at, ...page.ops.map((o) => o.version));
        if (last >= upTo) return;
        if (last === at) {
          // The log ends before the held ops: they were never committed (an op is in the log before its
          // event is emitted), so the event was bogus. Drop them rather than wait for them forever.
          this.dropAbove(q, at);
          return;
        }
        at = last;
      }
    } catch (err) {
      // Part of the gap was read: apply that first; the rest comes with the next pass.
      if (at > from) return;
      const unretained = err instanceof ChorusError && err.code === 'RELOAD_REQUIRED';
      if (!unretained && q.held.size < this.options.maxHeld) throw err;
      this.logger.warn(`Skipping committed ops ${from + 1}..${upTo} of ${q.docId} for selections (${unretained ? 'no longer retained' : `log unreachable with ${q.held.size} ops held`}): ${(err as Error).message}`, 'SelectionBatcher');
    }
    const result = await this.presence.transformSelectionsMany(q.sessionId, q.docId, [], { from, to: upTo });
    if (!result.outOfStep) this.count('skipped', upTo - from);
  }

  private dropAbove(q: DocQueue, head: number): void {
    const bogus = [...q.held.keys()].filter((v) => v > head);
    for (const v of bogus) q.held.delete(v);
    this.count('invalid', bogus.length);
    this.logger.warn(`Dropped op_committed versions ${bogus.join(', ')} of ${q.docId}: the op log ends at ${head}`, 'SelectionBatcher');
  }

  private dropUpTo(q: DocQueue, applied: number | null): void {
    if (applied === null) return;
    let dropped = 0;
    for (const v of q.held.keys()) {
      if (v <= applied) {
        q.held.delete(v);
        dropped++;
      }
    }
    if (dropped > 0) this.count('duplicate', dropped);
  }

  private armGap(q: DocQueue): void {
    if (q.gapTimer !== undefined || this.closed) return;
    q.gapTimer = setTimeout(() => {
      q.gapTimer = undefined;
      q.fillDue = true;
      void this.kick(q);
    }, this.options.gapMs);
    q.gapTimer.unref();
  }
}
