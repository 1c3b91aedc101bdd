import { TypedEmitter, memoryManifest, sha256Hex, type MemoryFile } from '@chorus/client';
import type { Manifest } from '@chorus/protocol';

// This browser's copy of a session's project (docs/file-sync.md, "In the browser app"): path → bytes, in memory
// and in IndexedDB, so a copy pulled from the host is there again after a reload. Empty at first; filled by files
// the user adds (to share them as the host) or by accepted changes from the session's host. Paths are in the
// one normal form (normalizeFilePath); every change is written to IndexedDB before it is shown.

const DB_NAME = 'chorus-projects';
const FILES = 'files';

interface StoredRecord {
  project: string;
  path: string;
  bytes: Uint8Array;
  modified: number;
}

/** One file of the copy as shown: its bytes, sha256 and modification time (epoch ms). */
export interface ProjectFile {
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly hash: string;
  readonly modified: number;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

function openDb(): Promise<IDBDatabase> {
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => {
    const store = open.result.createObjectStore(FILES, { keyPath: ['project', 'path'] });
    store.createIndex('project', 'project');
  };
  return request(open);
}

export class ProjectStore extends TypedEmitter<{ changed: void }> {
  /** The copy, path → bytes and modified: what memorySource serves when this tab hosts (read live). */
  readonly files = new Map<string, MemoryFile>();
  private readonly hashes = new Map<string, string>();

  private constructor(
    private readonly key: string,
    private readonly db: IDBDatabase | null,
  ) {
    super();
  }

  /**
   * The copy stored under `key` (one per session). Without IndexedDB (refused by the browser) the copy lives in
   * memory only: `persistent` is false and `onUnavailable` says why.
   */
  static async open(key: string, onUnavailable: (reason: string) => void): Promise<ProjectStore> {
    let db: IDBDatabase | null = null;
    try {
      db = await openDb();
    } catch (err) {
      onUnavailable(`this browser keeps the project files in memory only (IndexedDB: ${(err as Error).message})`);
    }
    const store = new ProjectStore(key, db);
    if (db) {
      const records = await request(db.transaction(FILES, 'readonly').objectStore(FILES).index('project').getAll(key));
      for (const r of records as StoredRecord[]) await store.remember(r.path, r.bytes, r.modified);
    }
    return store;
  }

  get persistent(): boolean {
    return this.db !== null;
  }

  /** The copy sorted by path. */
  list(): ProjectFile[] {
    return [...this.files.keys()].sort().map((path) => this.get(path) as ProjectFile);
  }

  get(path: string): ProjectFile | undefined {
    const f = this.files.get(path);
    const hash = this.hashes.get(path);
    return f && hash !== undefined ? { path, bytes: f.bytes, hash, modified: f.modified ?? 0 } : undefined;
  }

  /** The copy's manifest (what syncDiff compares with the host's). */
  manifest(): Promise<Manifest> {
    return memoryManifest(this.files);
  }

  /** Writes files (path → bytes and modified) and removes `remove`, in one IndexedDB transaction, then shows them. */
  async apply(put: ReadonlyMap<string, { bytes: Uint8Array; modified: number }>, remove: readonly string[] = []): Promise<void> {
    if (this.db) {
      const tx = this.db.transaction(FILES, 'readwrite');
      const store = tx.objectStore(FILES);
      for (const [path, f] of put) store.put({ project: this.key, path, bytes: f.bytes, modified: f.modified } satisfies StoredRecord);
      for (const path of remove) store.delete([this.key, path]);
      await done(tx);
    }
    for (const [path, f] of put) await this.remember(path, f.bytes, f.modified);
    for (const path of remove) {
      this.files.delete(path);
      this.hashes.delete(path);
    }
    this.emit('changed', undefined);
  }

  /** The sha256 of every file, recomputed from its bytes now (what the tests compare with the host's). */
  async verify(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [path, f] of [...this.files].sort(([a], [b]) => (a < b ? -1 : 1))) out[path] = await sha256Hex(f.bytes);
    return out;
  }

  private async remember(path: string, bytes: Uint8Array, modified: number): Promise<void> {
    this.files.set(path, { bytes, modified });
    this.hashes.set(path, await sha256Hex(bytes));
  }
}
