import { writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';

// Where the time goes during bench:client (BENCH_PROFILE=1): a sampled CPU profile of one Chromium tab through the
// DevTools protocol (Profiler), summarised by self time — `(idle)` is the share the tab had nothing to do — and
// the gateways' own latency histograms (/metrics) between two snapshots.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** A CPU profile of one tab: `stop()` writes the .cpuprofile and returns the top functions by self time. */
export async function startCpuProfile(page: Page): Promise<{ stop(file: string, top?: number): Promise<Array<{ fn: string; self_ms: number; share: string }>> }> {
  const session = await page.context().newCDPSession(page);
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 500 });
  await session.send('Profiler.start');
  return {
    async stop(file, top = 25) {
      const { profile } = await session.send('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      const nodes = profile.nodes as ProfileNode[];
      const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.samples?.length ?? 1) / 1_000;
      const self = new Map<string, number>();
      let total = 0;
      for (const n of nodes) {
        const hits = n.hitCount ?? 0;
        total += hits;
        const url = n.callFrame.url.replace(/^.*\/assets\//, '');
        const key = `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
        self.set(key, (self.get(key) ?? 0) + hits);
      }
      return [...self.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([fn, hits]) => ({ fn: fn.slice(0, 90), self_ms: Math.round(hits * interval), share: `${((100 * hits) / Math.max(1, total)).toFixed(1)}%` }));
    },
  };
}

/** One histogram of the gateways' /metrics (summed over gateways and label sets matching `label`). */
export type HistogramSnapshot = { buckets: Map<number, number>; sum: number; count: number };

export async function histogramOf(bases: readonly string[], name: string, label: string): Promise<HistogramSnapshot> {
  const snapshot: HistogramSnapshot = { buckets: new Map(), sum: 0, count: 0 };
  for (const base of bases) {
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith(name) || !line.includes(label)) continue;
      const value = Number(line.split(' ').pop());
      if (line.startsWith(`${name}_bucket`)) {
        const le = /le="([^"]+)"/.exec(line)?.[1];
        if (le === undefined) continue;
        const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
        snapshot.buckets.set(bound, (snapshot.buckets.get(bound) ?? 0) + value);
      } else if (line.startsWith(`${name}_sum`)) snapshot.sum += value;
      else if (line.startsWith(`${name}_count`)) snapshot.count += value;
    }
  }
  return snapshot;
}

/** count, mean and the bucket bounds holding p50 and p99, of what was observed between two snapshots. */
export function histogramDelta(before: HistogramSnapshot, after: HistogramSnapshot): { count: number; mean_ms: number; p50_le_ms: number; p99_le_ms: number } {
  const count = after.count - before.count;
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const within = (q: number) => {
    for (const b of bounds) if ((after.buckets.get(b) ?? 0) - (before.buckets.get(b) ?? 0) >= q * count) return b * 1_000;
    return Number.POSITIVE_INFINITY;
  };
  return { count, mean_ms: count > 0 ? Math.round(((after.sum - before.sum) / count) * 10_000) / 10 : 0, p50_le_ms: within(0.5), p99_le_ms: within(0.99) };
}
