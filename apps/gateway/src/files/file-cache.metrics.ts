import { Counter, Gauge, type Registry } from 'prom-client';

/** The file sync cache on a gateway (docs/file-sync.md, "The cache"; docs/observability.md). */
export class FileCacheMetrics {
  /** Whole files the write-behind handled, by outcome. */
  readonly files: Counter<'outcome'>;
  readonly flushes: Counter<'result'>;
  readonly queueBytes: Gauge;
  readonly evicted: Counter;
  readonly servedBytes: Counter<'format'>;
  readonly readFailures: Counter;

  constructor(registry: Registry) {
    this.files = new Counter({
      name: 'chorus_file_cache_files_total',
      help: 'Files the cache write-behind handled: stored, known (already cached), mismatch (bytes not the manifest sha256), too_large, overflow (queue full: dropped), abandoned (partial file given up), failed (the write failed)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.flushes = new Counter({ name: 'chorus_file_cache_flushes_total', help: 'Batched cache writes, by result (ok, failed)', labelNames: ['result'], registers: [registry] });
    this.queueBytes = new Gauge({ name: 'chorus_file_cache_queue_bytes', help: 'Bytes waiting in the cache write-behind (chunks not yet assembled, files not yet written)', registers: [registry] });
    this.evicted = new Counter({ name: 'chorus_file_cache_evicted_total', help: 'Cached files evicted beyond a session quota (least recently used first)', registers: [registry] });
    this.servedBytes = new Counter({ name: 'chorus_file_cache_served_bytes_total', help: 'File content bytes the cache served to guests, by format (seed, compact)', labelNames: ['format'], registers: [registry] });
    this.readFailures = new Counter({ name: 'chorus_file_cache_read_failures_total', help: 'Cache reads that failed (the request went to the host as without a cache)', registers: [registry] });
  }
}
