import type { LoggerService } from '@nestjs/common';
import type { BlobCache, BlobCacheLimits } from './blob-cache';
import { BlobWriteBehind, WRITE_BEHIND_DEFAULTS, type WriteBehindOptions } from './blob-write-behind';
import type { FileCacheMetrics } from './file-cache.metrics';
import { FileCacheServer } from './file-cache-server';

/**
 * The gateway's file sync cache (docs/file-sync.md, "The cache"): the port (`blobs`), the write-behind the relay
 * feeds (`writes`) and the server of cached chunks (`server`). Absent (GatewayDeps.fileSync.cache undefined) when
 * FILE_CACHE_QUOTA_BYTES is 0 or no FILE_CACHE_DATABASE_URL is set: file sync relays as it did without a cache.
 */
export class FileCache {
  readonly writes: BlobWriteBehind;
  readonly server: FileCacheServer;

  constructor(
    readonly blobs: BlobCache,
    readonly limits: BlobCacheLimits,
    readonly metrics: FileCacheMetrics,
    bytesPerSecond: number,
    private readonly logger: LoggerService,
    writeBehind: Partial<Omit<WriteBehindOptions, keyof BlobCacheLimits>> = {},
  ) {
    this.writes = new BlobWriteBehind(blobs, { ...WRITE_BEHIND_DEFAULTS, ...writeBehind, ...limits }, metrics, logger);
    this.server = new FileCacheServer(blobs, bytesPerSecond, metrics, logger);
  }

  /**
   * Which of `hashes` the session's cache holds — a read that fails answers "none" (counted and logged): the
   * request then goes to the host as without a cache.
   */
  async lookup(sessionId: string, hashes: readonly string[]): Promise<Set<string>> {
    try {
      const found = await this.blobs.has(sessionId, hashes);
      this.writes.remember(sessionId, found);
      return found;
    } catch (err) {
      this.metrics.readFailures.inc();
      this.logger.warn(`File cache of session ${sessionId} not read (${(err as Error).message}); asking the host`, 'FileCache');
      return new Set();
    }
  }
}
