import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { inflate } from 'node:zlib';
import type { LoggerService } from '@nestjs/common';
import type { ChunkEntry, FilesPayload } from '@chorus/protocol';
import type { BlobCache, BlobCacheLimits, BlobToStore } from './blob-cache';
import type { FileCacheMetrics } from './file-cache.metrics';
import type { OfferedFile } from './file-sync.store';

const inflateAsync = promisify(inflate);

/** One chunk the relay forwarded, as the write-behind receives it (after the relay pushed it). */
export type ObservedChunk = {
  readonly sessionId: string;
  readonly hostPeer: string;
  readonly guestPeer: string;
  /** The manifest entries of the chunk's paths (the offer the relay checked the chunk against). */
  readonly offered: ReadonlyMap<string, OfferedFile>;
} & ({ readonly format: 'compact'; readonly entries: readonly ChunkEntry[]; readonly encoding: 'none' | 'deflate'; readonly data: Uint8Array } | { readonly format: 'seed'; readonly files: FilesPayload });

export interface WriteBehindOptions extends BlobCacheLimits {
  /** Bytes of chunks and verified files waiting at most (beyond: dropped and counted, never waited for). */
  readonly queueBytes: number;
  /** Bytes of partly received files held at most (beyond: the oldest given up). */
  readonly assemblyBytes: number;
  /** A batch is written when it reaches this many bytes, or `flushMs` after its first file. */
  readonly batchBytes: number;
  readonly flushMs: number;
}

export const WRITE_BEHIND_DEFAULTS = { queueBytes: 64 * 1024 * 1024, assemblyBytes: 64 * 1024 * 1024, batchBytes: 4 * 1024 * 1024, flushMs: 100 } as const;

/** A file being put together from its chunks (bytes may come in any order; the sha256 check decides). */
interface Assembly {
  readonly hash: string;
  readonly bytes: Uint8Array;
  filled: number;
}

/** How long a hash written (or seen cached) is not assembled again: the cache may evict it meanwhile. */
const KNOWN_TTL_MS = 60_000;
const KNOWN_MAX = 100_000;

/**
 * The cache's write-behind (docs/file-sync.md, "The cache"): the relay hands each forwarded chunk to `observe`
 * (synchronous, O(1): queued, never awaited) and goes on. A worker drains the queue off the relay's path —
 * inflates, puts whole files together, checks each file's sha256 against its manifest hash (a mismatch is never
 * stored) — and writes verified files in batches through the BlobCache port. The queue is bounded: a chunk that does
 * not fit is dropped (its files are not cached), a failed write is logged and counted; neither ever reaches the
 * transfer. Best-effort: a gateway killed before a flush loses those entries (guests then get PEER_DISCONNECTED
 * naming them once the host is gone — still correct).
 */
export class BlobWriteBehind {
  private readonly queue: ObservedChunk[] = [];
  private queued = 0;
  private draining = false;
  private readonly assemblies = new Map<string, Assembly>();
  private assembled = 0;
  private batch: Array<BlobToStore & { sessionId: string }> = [];
  private batchSize = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly known = new Map<string, number>();
  private stopped = false;
  private overflowLoggedAt = 0;

  constructor(
    private readonly cache: BlobCache,
    private readonly options: WriteBehindOptions,
    private readonly metrics: FileCacheMetrics,
    private readonly logger: LoggerService,
  ) {}

  /** Queues a forwarded chunk; returns at once. A full queue drops it (counted as `overflow`). */
  observe(chunk: ObservedChunk): void {
    if (this.stopped) return;
    const size = chunk.format === 'compact' ? chunk.data.length : chunk.files.reduce((n, [, b]) => n + b.length, 0);
    if (this.queued + size > this.options.queueBytes) {
      const paths = chunk.format === 'compact' ? chunk.entries.map((e) => e.path) : chunk.files.map(([p]) => p);
      for (const path of new Set(paths)) {
        // The file misses these bytes: what was put together of it cannot complete.
        if (this.abandon(assemblyKey(chunk, path))) continue;
        this.metrics.files.inc({ outcome: 'overflow' });
      }
      // Logged at most every 10 s (a burst drops many chunks): the counter has every one.
      const now = Date.now();
      if (now - this.overflowLoggedAt >= 10_000) {
        this.overflowLoggedAt = now;
        this.logger.warn(`File cache: write-behind queue full (${this.queued} of ${this.options.queueBytes} bytes): a chunk of session ${chunk.sessionId} not cached`, 'FileCache');
      }
      return;
    }
    this.queue.push(chunk);
    this.queued += size;
    this.metrics.queueBytes.set(this.queued);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  /** Whether the session's cache is known to hold `hash` (written or seen by this gateway lately). */
  isKnown(sessionId: string, hash: string): boolean {
    const at = this.known.get(`${sessionId}:${hash}`);
    return at !== undefined && at > Date.now();
  }

  /** Remembers hashes the cache answered it holds (a lookup of a request): no need to assemble them again. */
  remember(sessionId: string, hashes: Iterable<string>): void {
    if (this.known.size > KNOWN_MAX) this.known.clear();
    const until = Date.now() + KNOWN_TTL_MS;
    for (const h of hashes) this.known.set(`${sessionId}:${h}`, until);
  }

  /** Writes what is verified and waits for it (shutdown, tests); chunks still queued are processed first. */
  async flush(): Promise<void> {
    while (this.draining || this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    await this.writeBatch();
    await this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    try {
      for (let chunk = this.queue.shift(); chunk !== undefined; chunk = this.queue.shift()) {
        const size = chunk.format === 'compact' ? chunk.data.length : chunk.files.reduce((n, [, b]) => n + b.length, 0);
        try {
          await this.take(chunk);
        } catch (err) {
          this.logger.warn(`File cache: a chunk of session ${chunk.sessionId} not processed (${(err as Error).message})`, 'FileCache');
          this.metrics.files.inc({ outcome: 'failed' });
        }
        this.queued -= size;
        this.metrics.queueBytes.set(this.queued);
      }
    } finally {
      this.draining = false;
    }
  }

  private async take(chunk: ObservedChunk): Promise<void> {
    if (chunk.format === 'compact') {
      const raw = chunk.encoding === 'deflate' ? new Uint8Array(await inflateAsync(chunk.data)) : chunk.data;
      let at = 0;
      for (const e of chunk.entries) {
        await this.part(chunk, e.path, e.offset, raw.subarray(at, at + e.length));
        at += e.length;
      }
    } else {
      // Seed chunks carry no offsets: a file's parts come in order on the host's one connection (a misordered
      // file fails its sha256 check and is not stored).
      for (const [path, list] of chunk.files) {
        const a = this.assemblies.get(assemblyKey(chunk, path));
        await this.part(chunk, path, a?.filled ?? 0, Uint8Array.from(list));
      }
    }
  }

  /** Bytes [offset, offset + part.length) of `path`: a whole file is verified at once, a part joins its file. */
  private async part(chunk: ObservedChunk, path: string, offset: number, part: Uint8Array): Promise<void> {
    const file = chunk.offered.get(path);
    if (!file) return;
    if (offset === 0) {
      if (file.size > this.options.maxBlobBytes) return void this.metrics.files.inc({ outcome: 'too_large' });
      if (this.isKnown(chunk.sessionId, file.hash)) return void this.metrics.files.inc({ outcome: 'known' });
    }
    if (offset === 0 && part.length === file.size) return this.complete(chunk, file, part);
    const key = assemblyKey(chunk, path);
    let a = this.assemblies.get(key);
    if (a === undefined || a.hash !== file.hash) {
      // A file is put together from its first bytes on (a resume that starts mid-file is not cached here).
      if (offset !== 0 || file.size > this.options.maxBlobBytes || this.isKnown(chunk.sessionId, file.hash)) return;
      if (a !== undefined) this.abandon(key);
      this.makeRoom(file.size);
      a = { hash: file.hash, bytes: new Uint8Array(file.size), filled: 0 };
      this.assemblies.set(key, a);
      this.assembled += file.size;
    }
    if (offset + part.length > a.bytes.length) return void this.abandon(key);
    a.bytes.set(part, offset);
    a.filled += part.length;
    if (a.filled < a.bytes.length) return;
    this.assemblies.delete(key);
    this.assembled -= a.bytes.length;
    await this.complete(chunk, file, a.bytes);
  }

  /** Gives up the oldest partial files until `bytes` more fit the assembly budget. */
  private makeRoom(bytes: number): void {
    for (const key of this.assemblies.keys()) {
      if (this.assembled + bytes <= this.options.assemblyBytes) return;
      this.abandon(key);
    }
  }

  private abandon(key: string): boolean {
    const a = this.assemblies.get(key);
    if (a === undefined) return false;
    this.assemblies.delete(key);
    this.assembled -= a.bytes.length;
    this.metrics.files.inc({ outcome: 'abandoned' });
    return true;
  }

  /** A whole file: stored only when its bytes are its manifest sha256. */
  private async complete(chunk: ObservedChunk, file: OfferedFile, bytes: Uint8Array): Promise<void> {
    if ((await sha256Hex(bytes)) !== file.hash) return void this.metrics.files.inc({ outcome: 'mismatch' });
    if (this.isKnown(chunk.sessionId, file.hash)) return void this.metrics.files.inc({ outcome: 'known' });
    this.remember(chunk.sessionId, [file.hash]);
    this.batch.push({ sessionId: chunk.sessionId, sha256: file.hash, bytes, fromPeerId: chunk.hostPeer });
    this.batchSize += bytes.length;
    this.queued += bytes.length;
    if (this.batchSize >= this.options.batchBytes) void this.writeBatch();
    else this.flushTimer ??= setTimeout(() => void this.writeBatch(), this.options.flushMs);
  }

  /** Writes the batch (one put per session, one write at a time); failures are logged and counted. */
  private writeBatch(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.batch;
    const size = this.batchSize;
    this.batch = [];
    this.batchSize = 0;
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      const bySession = new Map<string, BlobToStore[]>();
      for (const b of batch) bySession.set(b.sessionId, [...(bySession.get(b.sessionId) ?? []), b]);
      for (const [sessionId, blobs] of bySession) {
        try {
          const { stored, evicted } = await this.cache.put(sessionId, blobs);
          this.metrics.flushes.inc({ result: 'ok' });
          this.metrics.files.inc({ outcome: 'stored' }, stored);
          this.metrics.files.inc({ outcome: 'known' }, blobs.length - stored);
          this.metrics.evicted.inc(evicted.length);
          for (const h of evicted) this.known.delete(`${sessionId}:${h}`);
        } catch (err) {
          this.metrics.flushes.inc({ result: 'failed' });
          this.metrics.files.inc({ outcome: 'failed' }, blobs.length);
          for (const b of blobs) this.known.delete(`${sessionId}:${b.sha256}`);
          this.logger.warn(`File cache: ${blobs.length} file(s) of session ${sessionId} not written (${(err as Error).message})`, 'FileCache');
        }
      }
      this.queued -= size;
      this.metrics.queueBytes.set(this.queued);
    });
    return this.flushing;
  }
}

const assemblyKey = (chunk: ObservedChunk, path: string) => JSON.stringify([chunk.sessionId, chunk.hostPeer, chunk.guestPeer, path]);

/** sha256 in 1 MiB steps, yielding between them: a big file does not hold the event loop for its whole hash. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  const step = 1024 * 1024;
  for (let at = 0; at < bytes.length; at += step) {
    hash.update(bytes.subarray(at, at + step));
    if (at + step < bytes.length) await new Promise((resolve) => setImmediate(resolve));
  }
  return hash.digest('hex');
}
