import type { TextOp } from '@chorus/ot';

/** A committed op as the committer needs it (immutable once committed, so safe to cache forever). */
export interface CachedOp {
  readonly version: number;
  readonly base_version: number;
  readonly op: TextOp;
  readonly client_id: string;
  readonly seq: number;
  readonly user_id: string;
}

export interface CachedDoc {
  /** Version of `content`. */
  version: number;
  content: string;
  /** Contiguous committed ops ending at `version` (oldest first), at most `opsPerDoc`. */
  ops: CachedOp[];
  /**
   * The row's meta_seq and min_version when last read under the row lock, if no file lock was live then; null
   * otherwise. The fast path (commit without a transaction) needs it; null means: take the locked path.
   */
  meta: { meta_seq: number; min_version: number } | null;
}

/**
 * What one replica remembers of a document's head, so that a commit on a hot document reads neither the text
 * nor the recent ops again. Never trusted blindly: the committer compares `version` with the locked head row
 * (another replica may have committed since) and reloads what is missing. Only committed state goes in (it is
 * updated after COMMIT), so a rolled-back transaction can never leave a phantom op here. LRU by access.
 */
export class DocumentCache {
  private readonly docs = new Map<string, CachedDoc>();

  constructor(
    private readonly maxDocs: number,
    private readonly opsPerDoc: number,
  ) {}

  static key(sessionId: string, docId: string): string {
    return `${sessionId}\u0000${docId}`;
  }

  get(key: string): CachedDoc | undefined {
    const doc = this.docs.get(key);
    if (doc) {
      this.docs.delete(key);
      this.docs.set(key, doc);
    }
    return doc;
  }

  /** Cached ops of versions (after, upTo], or undefined if the cache does not hold all of them. */
  opsBetween(doc: CachedDoc | undefined, after: number, upTo: number): CachedOp[] | undefined {
    if (!doc || doc.version < upTo) return undefined;
    if (after >= upTo) return [];
    const first = doc.ops.length > 0 ? doc.ops[0].version : doc.version + 1;
    if (after + 1 < first) return undefined;
    return doc.ops.slice(after + 1 - first, upTo + 1 - first);
  }

  /**
   * Records the committed head. `ops` are committed ops (any order, possibly overlapping what is cached) that
   * together with the cached ones should end at `version`; the kept window is the contiguous run ending there.
   */
  set(key: string, version: number, content: string, ops: readonly CachedOp[], meta: CachedDoc['meta']): void {
    const previous = this.docs.get(key);
    const kept = appendWindow(previous?.ops ?? [], ops, version, this.opsPerDoc) ?? this.mergeWindow(previous?.ops ?? [], ops, version);
    this.docs.delete(key);
    this.docs.set(key, { version, content, ops: kept, meta });
    while (this.docs.size > this.maxDocs) {
      const oldest = this.docs.keys().next().value as string;
      this.docs.delete(oldest);
    }
  }

  /** The general case: any order, any overlap; the contiguous run ending at `version`. */
  private mergeWindow(cached: readonly CachedOp[], ops: readonly CachedOp[], version: number): CachedOp[] {
    const byVersion = new Map<number, CachedOp>();
    for (const op of cached) byVersion.set(op.version, op);
    for (const op of ops) byVersion.set(op.version, op);
    const kept: CachedOp[] = [];
    for (let v = version; v > version - this.opsPerDoc; v--) {
      const op = byVersion.get(v);
      if (!op) break;
      kept.push(op);
    }
    return kept.reverse();
  }

  forget(key: string): void {
    this.docs.delete(key);
  }
}

/**
 * The common case of `set`, without a map per commit: `ops` ascending and contiguous up to `version`, starting
 * inside or right after the cached window (a commit's log: cached ops since the batch's lowest base, then the
 * new ones). Returns the new window (a new array: entries are replaced, never mutated), or undefined when the
 * shapes do not fit and the general merge must run.
 */
function appendWindow(cached: readonly CachedOp[], ops: readonly CachedOp[], version: number, limit: number): CachedOp[] | undefined {
  if (ops.length === 0 || ops[ops.length - 1].version !== version) return undefined;
  for (let i = 1; i < ops.length; i++) if (ops[i].version !== ops[i - 1].version + 1) return undefined;
  const first = ops[0].version;
  let prefix: readonly CachedOp[] = [];
  if (cached.length > 0) {
    // The cached window is contiguous: cached[i] is version cachedFirst + i.
    const cachedFirst = cached[0].version;
    const joined = first - cachedFirst; // cached ops older than `first`
    if (joined > 0 && joined <= cached.length) prefix = cached.slice(Math.max(0, joined - Math.max(0, limit - ops.length)), joined);
  }
  const window = prefix.length > 0 ? prefix.concat(ops) : ops.slice();
  return window.length > limit ? window.slice(window.length - limit) : window;
}
