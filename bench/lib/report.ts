import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

/** Nearest-rank percentile of unsorted samples (milliseconds). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** Prints rows as an aligned table. */
export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const width = (c: string) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length));
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(columns.map((c) => c.padEnd(width(c)))));
  console.log(line(columns.map((c) => '-'.repeat(width(c)))));
  for (const r of rows) console.log(line(columns.map((c) => String(r[c] ?? '').padStart(width(c)))));
}

/** Writes bench/results/<name>.json with the machine and date beside the figures. */
export function writeResult(name: string, figures: Record<string, unknown>): string {
  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const meta = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', quick: process.env.BENCH_QUICK === '1' };
  writeFileSync(file, `${JSON.stringify({ ...figures, meta }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
  return file;
}

export function progress(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/**
 * Milliseconds this process takes for a fixed piece of integer work (best of 3). This VM's speed drifts (the
 * same run has measured twice as slow an hour apart): results carry it at the start and the end of a run, so
 * two runs' absolute figures can be put side by side. Ratios within one run do not need it.
 */
export function cpuCalibrationMs(): number {
  const work = (): number => {
    let x = 0;
    for (let i = 0; i < 20_000_000; i++) x = (x * 31 + i) % 1_000_003;
    return x;
  };
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    if (work() < 0) throw new Error('unreachable');
    best = Math.min(best, performance.now() - start);
  }
  return round(best, 1);
}

/**
 * Puts `figures` into bench/results/<name>.json beside what other benches wrote there (their keys are kept), with
 * `<key>_meta` saying when and how each of these was measured. For a result file that several benches share
 * (ws.json: bench:ws's idle figures, bench:channels's channel_fanout, as issue 13 lays it out).
 */
export function mergeResult(name: string, figures: Record<string, unknown>, source: string): string {
  const file = join(__dirname, '..', 'results', `${name}.json`);
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const meta = { source, date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick: process.env.BENCH_QUICK === '1' };
  const merged: Record<string, unknown> = { ...previous };
  for (const [key, value] of Object.entries(figures)) {
    merged[key] = value;
    merged[`${key}_meta`] = meta;
  }
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  console.log(`merged ${Object.keys(figures).join(', ')} into ${file}`);
  return file;
}
