import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import type { LoggerService } from '@nestjs/common';
import type { Audience } from '@chorus/contracts';
import type { ChunkEntry, FileHost, ServerMessage } from '@chorus/protocol';
import type { BlobCache, CachedBlob } from './blob-cache';
import type { FileCacheMetrics } from './file-cache.metrics';

const deflateAsync = promisify(deflate);

/** The seed format's raw bytes per `files_chunk` when the cache answers (as the SDK host sends). */
export const CACHE_SEED_CHUNK_BYTES = 128 * 1024;

/** One answer of the cache: chunks of a transfer layout, to one guest, in the format it asked for. */
export interface CacheServing {
  readonly sessionId: string;
  readonly guestPeer: string;
  /** The host whose manifest the guest was sent: the `from_peer_id` / `from_user_id` of every chunk served. */
  readonly host: FileHost;
  /** path → sha256 of every file in the layout. */
  readonly hashes: ReadonlyMap<string, string>;
  readonly layout: readonly ChunkEntry[][];
  /** The chunk indexes to send (the others: skipped by the guest, or sent by the host). */
  readonly indexes: readonly number[];
  readonly format: { readonly kind: 'seed' } | { readonly kind: 'compact'; readonly transferId: string; readonly compression: 'none' | 'deflate' };
  /** Whether the guest's connection is still open (a closed one ends the serving: its resume asks again). */
  readonly open: () => boolean;
}

type Push = (sessionId: string, audience: Audience, message: ServerMessage) => void;

/**
 * Answers file requests from the cache (docs/file-sync.md, "The cache"): the chunks go to the guest through the
 * outbound road like the host's, in the same formats, paced at FILE_SYNC_BYTES_PER_S, blobs loaded chunk by chunk
 * (and let go after their last chunk). A guest's new request replaces its serving in progress (a resume). A blob
 * evicted meanwhile ends the serving: the guest's next resume finds it missing (the host, or PEER_DISCONNECTED).
 */
export class FileCacheServer {
  private readonly active = new Map<string, { cancelled: boolean }>();

  constructor(
    private readonly cache: BlobCache,
    private readonly bytesPerSecond: number,
    private readonly metrics: FileCacheMetrics,
    private readonly logger: LoggerService,
  ) {}

  /**
   * Starts serving in the background, its chunks pushed with `push` (the gateway's road); resolves when done,
   * never rejects (failures are logged and counted).
   */
  serve(s: CacheServing, push: Push): Promise<void> {
    const key = JSON.stringify([s.sessionId, s.guestPeer]);
    const prior = this.active.get(key);
    if (prior) prior.cancelled = true;
    const run = { cancelled: false };
    this.active.set(key, run);
    return this.run(s, run, push)
      .catch((err: unknown) => {
        this.metrics.readFailures.inc();
        this.logger.warn(`File cache: serving ${s.guestPeer} in session ${s.sessionId} stopped (${(err as Error).message})`, 'FileCache');
      })
      .finally(() => {
        if (this.active.get(key) === run) this.active.delete(key);
      });
  }

  private async run(s: CacheServing, run: { cancelled: boolean }, push: Push): Promise<void> {
    const lastUse = new Map<string, number>();
    for (const i of s.indexes) for (const e of s.layout[i]) lastUse.set(e.path, i);
    const loaded = new Map<string, CachedBlob>();
    const started = performance.now();
    let sent = 0;
    for (const index of s.indexes) {
      if (run.cancelled || !s.open()) return;
      const entries = s.layout[index];
      const wanted = [...new Set(entries.map((e) => s.hashes.get(e.path) ?? ''))].filter((h) => !loaded.has(h));
      if (wanted.length > 0) for (const [h, blob] of await this.cache.get(s.sessionId, wanted)) loaded.set(h, blob);
      const parts: Uint8Array[] = [];
      for (const e of entries) {
        const blob = loaded.get(s.hashes.get(e.path) ?? '');
        if (!blob || blob.bytes.length < e.offset + e.length) throw new Error(`"${e.path}" is no longer cached (evicted)`);
        parts.push(blob.bytes.subarray(e.offset, e.offset + e.length));
      }
      if (run.cancelled) return;
      const stamp = { session_id: s.sessionId, from_peer_id: s.host.peer_id, from_user_id: s.host.user_id };
      const raw = Buffer.concat(parts);
      if (s.format.kind === 'compact') {
        const data = s.format.compression === 'deflate' ? await deflateAsync(raw) : raw;
        const sha256 = createHash('sha256').update(raw).digest('hex');
        push(s.sessionId, { to: 'peers', peer_ids: [s.guestPeer] }, { type: 'file_data', ...stamp, transfer_id: s.format.transferId, chunk_index: index, total_chunks: s.layout.length, encoding: s.format.compression, entries, sha256, data });
      } else {
        const payload = entries.map((e, i) => [e.path, Array.from(parts[i])] as [string, number[]]);
        push(s.sessionId, { to: 'peers', peer_ids: [s.guestPeer] }, { type: 'files_chunk', ...stamp, files_json: JSON.stringify(payload), chunk_index: index, total_chunks: s.layout.length });
      }
      this.metrics.servedBytes.inc({ format: s.format.kind }, raw.length);
      for (const e of entries) if (lastUse.get(e.path) === index) loaded.delete(s.hashes.get(e.path) ?? '');
      // Paced like a host's connection: the road and the guest's socket take the bytes at the rate a host may send.
      sent += raw.length;
      const ahead = (sent / this.bytesPerSecond) * 1000 - (performance.now() - started);
      if (ahead > 1) await new Promise((resolve) => setTimeout(resolve, ahead));
    }
  }
}
