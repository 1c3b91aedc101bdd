// npm run bench:tracing — what tracing costs the transport per message (docs/observability.md):
//   baseline: building and serialising an envelope, the work every message does anyway;
//   off:      the same plus the transport's span calls with no SDK registered (the default: API no-ops);
//   on:       the same with the SDK registered (NodeTracerProvider, every span sampled, exported to a sink).
// Off must cost next to nothing; on is paid only by those who turn it on. One process, no Redis or Postgres:
// this isolates the tracing calls from the transport's I/O. BENCH_QUICK=1 for a short run.
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '@chorus/tracing';
import { endSpan, startSendSpan, withReceiveSpan, type RequestEnvelope } from '@chorus/transport';
import { cpuCalibrationMs, printTable, round, writeResult } from './lib/report';

const N = process.env.BENCH_QUICK === '1' ? 20_000 : 200_000;
/** Rounds alternate between the modes compared (this VM's speed drifts within seconds): best of each. */
const ROUNDS = 5;

class Sink implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

function envelope(i: number): RequestEnvelope {
  return { i: `bench.${i}`, p: 'op.submit', d: { session_id: 's', doc_id: 'd', version: i, op: ['x'], seq: i }, r: 'reply', t: Date.now() + 10_000, o: 'bench' };
}

/** The same stand-in handler in every mode: the transport awaits the handler either way. */
const handler = async (env: RequestEnvelope): Promise<{ i: string }> => Promise.resolve({ i: env.i });
const noFailure = (): undefined => undefined;

async function baseline(): Promise<number> {
  const started = performance.now();
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const env = envelope(i);
    bytes += JSON.stringify(env).length;
    const parsed = JSON.parse(JSON.stringify(env)) as RequestEnvelope;
    await handler(parsed);
  }
  if (bytes < 0) throw new Error('unreachable');
  return ((performance.now() - started) * 1e6) / N;
}

async function traced(): Promise<number> {
  const started = performance.now();
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const env = envelope(i);
    const { span, carrier } = startSendSpan('conflict', env.p, 'request');
    if (carrier !== undefined) env.c = carrier;
    bytes += JSON.stringify(env).length;
    const parsed = JSON.parse(JSON.stringify(env)) as RequestEnvelope;
    await withReceiveSpan('conflict', parsed, 1, () => handler(parsed), noFailure);
    endSpan(span);
  }
  if (bytes < 0) throw new Error('unreachable');
  return ((performance.now() - started) * 1e6) / N;
}

/** Best ns/message of each mode over ROUNDS rounds, the modes taking turns within each round. */
async function interleaved(modes: Array<() => Promise<number>>): Promise<number[]> {
  const best = modes.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [m, run] of modes.entries()) best[m] = Math.min(best[m], await run());
  }
  return best;
}

async function main(): Promise<void> {
  const calibrationStart = cpuCalibrationMs();
  // Off and its baseline first (no SDK registered yet), then on against a fresh baseline: once registered, the
  // SDK stays.
  const [base, off] = await interleaved([baseline, traced]);
  const sink = new Sink();
  startTracing('standalone', { exporter: sink });
  const [baseAfter, on] = await interleaved([baseline, traced]);
  const rows = [
    { mode: 'baseline (envelope JSON round trip)', 'ns/message': round(base, 0), 'vs baseline': '1.00' },
    { mode: 'tracing off (no SDK: span calls skipped)', 'ns/message': round(off, 0), 'vs baseline': (off / base).toFixed(2) },
    { mode: 'baseline, SDK registered', 'ns/message': round(baseAfter, 0), 'vs baseline': '1.00' },
    { mode: 'tracing on (SDK, every span sampled)', 'ns/message': round(on, 0), 'vs baseline': (on / baseAfter).toFixed(2) },
  ];
  printTable(`Transport tracing cost per message (best of ${ROUNDS} × ${N} messages; ${sink.exported} spans exported)`, rows);
  writeResult('tracing', {
    messages: N,
    rounds: ROUNDS,
    ns_per_message: { baseline: round(base, 0), baseline_after: round(baseAfter, 0), off: round(off, 0), on: round(on, 0) },
    off_over_baseline: round(off / base, 3),
    on_over_baseline: round(on / baseAfter, 3),
    spans_exported: sink.exported,
    cpu_calibration_ms: { start: calibrationStart, end: cpuCalibrationMs() },
  });
}

void main();
