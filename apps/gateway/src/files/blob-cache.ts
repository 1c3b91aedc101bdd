/**
 * The file sync cache's port (docs/file-sync.md, "The cache"): whole files by sha256, per session. The embedded
 * default is Postgres (PostgresBlobCache, the session database's `file_blobs`); an object store can replace it
 * behind this interface. Every read and write names its session: a blob stored for one session is never read for
 * another (the same content sent in two sessions is stored twice, once under each).
 *
 * Only verified content goes in (the write-behind checks each file's bytes against its manifest sha256), and the
 * cache is best-effort: a blob may be evicted (per-session quota, least recently used first) or never written (a
 * gateway that died before its write-behind flushed) — callers fall back to the host, or to PEER_DISCONNECTED.
 */
export interface BlobCache {
  /** Which of `hashes` this session's cache holds. */
  has(sessionId: string, hashes: readonly string[]): Promise<Set<string>>;
  /** The blobs of `hashes` this session's cache holds (absent: not cached), marked used for the LRU order. */
  get(sessionId: string, hashes: readonly string[]): Promise<Map<string, CachedBlob>>;
  /**
   * Stores verified blobs (one already there is only marked used), then evicts the session's least recently used
   * beyond its quota: how many were new, and the hashes evicted.
   */
  put(sessionId: string, blobs: readonly BlobToStore[]): Promise<{ stored: number; evicted: string[] }>;
  /** Drops every blob of the session (session deletion also cascades in the database). */
  purge(sessionId: string): Promise<number>;
}

export interface CachedBlob {
  readonly bytes: Uint8Array;
  /** The host peer whose chunks carried it first (the `from_peer_id` of what the cache serves). */
  readonly fromPeerId: string;
}

export interface BlobToStore {
  /** Lower-case hex sha256 of `bytes` (checked by the caller against the manifest). */
  readonly sha256: string;
  readonly bytes: Uint8Array;
  readonly fromPeerId: string;
}

/** What the cache may hold: per-session quota (LRU eviction beyond it) and the largest blob stored. */
export interface BlobCacheLimits {
  readonly quotaBytes: number;
  readonly maxBlobBytes: number;
}
