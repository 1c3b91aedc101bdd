// Closed-loop (or rate-limited) load with N concurrent writers; latency = submit → ack of each op.

export interface LoadResult {
  writers: number;
  ops: number;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

export interface LoadOptions {
  writers: number;
  warmupMs: number;
  durationMs: number;
  /** Total target ops/s across writers (open loop per writer, bounded by its own latency); none = as fast as possible. */
  targetOpsPerSecond?: number;
  /** One op by writer `w`; resolves when acknowledged. */
  submit: (w: number) => Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const start = performance.now();
  const measureFrom = start + opts.warmupMs;
  const end = measureFrom + opts.durationMs;
  const latencies: number[] = [];
  let errors = 0;
  const interval = opts.targetOpsPerSecond ? (1_000 * opts.writers) / opts.targetOpsPerSecond : 0;
  await Promise.all(
    Array.from({ length: opts.writers }, async (_, w) => {
      // Spread the writers' first sends over one interval so a rate-limited run is not one burst per tick.
      let next = start + (interval * w) / opts.writers;
      while (performance.now() < end) {
        if (interval > 0) {
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
          next += interval;
        }
        const t0 = performance.now();
        try {
          await opts.submit(w);
        } catch {
          errors += 1;
          continue;
        }
        const t1 = performance.now();
        if (t0 >= measureFrom && t1 <= end) latencies.push(t1 - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 100) / 100;
  return {
    writers: opts.writers,
    ops: latencies.length,
    ops_per_s: Math.round(latencies.length / (opts.durationMs / 1_000)),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    errors,
  };
}

/**
 * How a simulated writer picks the base version of its next op on a document.
 * - 'broadcast' (default): as a client with the document open — it receives every committed op and bases its
 *   next op on the newest version it has seen. Every ack a writer gets stands for the broadcast every writer
 *   gets of that op, at the same moment (in the product the broadcast goes out with the ack, through the
 *   fan-out). An op is then transformed against the ops committed while it was in flight: real concurrency.
 * - 'own-acks': the writer sees only its own acks (as if it ignored broadcasts), so on a document it comes back
 *   to after a while it is based far behind head and is transformed against everything committed since: the
 *   worst case for the transform work, and how the benchmark modelled writers before 2026-11-22.
 */
export type BaseRule = 'broadcast' | 'own-acks';

export class WriterBases {
  private readonly seen = new Map<string, number>();
  private readonly own = new Map<string, number>();

  constructor(private readonly rule: BaseRule) {}

  base(writer: number, doc: string): number {
    return (this.rule === 'broadcast' ? this.seen.get(doc) : this.own.get(`${writer} ${doc}`)) ?? 0;
  }

  acked(writer: number, doc: string, version: number): void {
    if (this.rule === 'broadcast') this.seen.set(doc, Math.max(version, this.seen.get(doc) ?? 0));
    else this.own.set(`${writer} ${doc}`, version);
  }
}

/**
 * The simulated writers of one run, shared by the service-direct and the transport paths: writer `w` is the
 * client `writer-w` (an editor), picks a random document of `docs` for each op, numbers its submits 1, 2, … and
 * bases each op on the version WriterBases gives.
 */
export class Writers {
  private readonly seqs: number[];
  private readonly bases: WriterBases;

  constructor(
    private readonly session: string,
    count: number,
    private readonly docs: readonly string[],
    rule: BaseRule = 'broadcast',
  ) {
    this.seqs = new Array<number>(count).fill(0);
    this.bases = new WriterBases(rule);
  }

  caller(w: number): { user_id: string; client_id: string; role: 'editor' } {
    return { user_id: `user-${w}`, client_id: `writer-${w}-${this.session.slice(0, 8)}`, role: 'editor' };
  }

  /** The next op of writer `w`: its document, base version and seq. */
  next(w: number): { doc: string; base: number; seq: number } {
    const doc = this.docs[this.docs.length === 1 ? 0 : Math.floor(Math.random() * this.docs.length)];
    return { doc, base: this.bases.base(w, doc), seq: ++this.seqs[w] };
  }

  acked(w: number, doc: string, version: number): void {
    this.bases.acked(w, doc, version);
  }
}
