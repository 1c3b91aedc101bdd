import {
  ChorusError,
  FILE_CHUNK_BYTES,
  chunkLayout,
  parseFilesPayload,
  manifestSchema,
  type Manifest,
  type ManifestEntry,
  type ClientPayload,
  type ServerMessageOf,
} from '@chorus/protocol';
import { TypedEmitter } from './emitter';
import { randomId } from './random-id';
import type { ChorusSession } from './session';

// Project file sync, the client half (docs/file-sync.md): the host answers manifest and file requests from a
// FileSource; the guest fetches the manifest, diffs, downloads in the seed or the compact format, verifies every
// file against its manifest sha256 and resumes an interrupted transfer from the chunks it already has.
// Browser-safe: WebCrypto for sha256, CompressionStream for deflate. Disk access (Node) is in file-sync-node.ts.

/** What a host serves: its manifest and byte ranges of its files. */
export interface FileSource {
  manifest(): Promise<Manifest>;
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
}

export interface SyncDiff {
  /** On the remote side only. */
  readonly add: string[];
  /** On both sides, with different content. */
  readonly update: string[];
  /** On the local side only. */
  readonly delete: string[];
  readonly unchanged: string[];
}

/** What `remote` has that `local` lacks or has otherwise (by sha256), and what `local` has beyond it. */
export function syncDiff(local: readonly ManifestEntry[], remote: readonly ManifestEntry[]): SyncDiff {
  const mine = new Map(local.map((f) => [f.path, f]));
  const theirs = new Set(remote.map((f) => f.path));
  const diff = { add: [] as string[], update: [] as string[], delete: [] as string[], unchanged: [] as string[] };
  for (const f of remote) {
    const m = mine.get(f.path);
    if (!m) diff.add.push(f.path);
    else if (m.hash !== f.hash || m.size !== f.size) diff.update.push(f.path);
    else diff.unchanged.push(f.path);
  }
  for (const f of local) if (!theirs.has(f.path)) diff.delete.push(f.path);
  for (const list of Object.values(diff)) list.sort();
  return diff;
}

/** The compact format's chunk layout (libs/protocol: the server's file cache computes the same). */
export { chunkLayout };

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function transform(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream)).arrayBuffer());
}
export const deflate = (bytes: Uint8Array) => transform(bytes, new CompressionStream('deflate'));
export const inflate = (bytes: Uint8Array) => transform(bytes, new DecompressionStream('deflate'));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends one request, waiting and resending while the server says RATE_LIMITED (bytes per second). */
async function sendPaced<T extends 'file_manifest' | 'files_chunk' | 'file_data'>(session: ChorusSession, type: T, payload: ClientPayload<T>, run?: { cancelled: boolean }): Promise<void> {
  for (;;) {
    try {
      // A run cancelled while the connection was down (the guest resumes it) must not send on the new one.
      await session.client.ready();
      if (run?.cancelled) return;
      await session.client.request(type, payload);
      return;
    } catch (err) {
      const e = ChorusError.from(err);
      if (e.code !== 'RATE_LIMITED') throw err;
      await sleep(e.details.retry_after_ms ?? 100);
    }
  }
}

export interface FileHostOptions {
  /** Seed chunks: raw bytes per `files_chunk` (each byte costs up to 4 characters of JSON). Default 128 KiB. */
  readonly seedChunkBytes?: number;
  /** Compact chunks sent before waiting for an ack. Default 8. */
  readonly window?: number;
  /** Compact chunks read and hashed ahead of the one being sent. Default 2. */
  readonly readAhead?: number;
}

/**
 * Answers this session's file requests from `source` (`share_project` first makes this peer the host): the
 * manifest on `request_file_manifest`, the files on `request_files` in the format asked for. A repeated request
 * of a transfer (a resume) replaces the one in progress for that guest and skips the chunks it already has.
 */
export class FileSyncHost extends TypedEmitter<{ sent: { to: string; transferId: string | null; chunks: number }; error: ChorusError }> {
  private readonly stops: Array<() => void> = [];
  private shared = false;
  private readonly active = new Map<string, { cancelled: boolean }>();
  /** Chunks sent (compact and seed), for tests and progress. */
  chunksSent = 0;

  constructor(
    private readonly session: ChorusSession,
    private readonly source: FileSource,
    private readonly options: FileHostOptions = {},
  ) {
    super();
    this.stops.push(
      session.on('files', (m) => {
        if (m.type === 'request_file_manifest') void this.answer(() => this.sendManifest(m.from_peer_id));
        else if (m.type === 'request_files') void this.answer(() => this.sendFiles(m));
      }),
      // A lost connection ends the transfers in progress: the guests resume them (with the chunks they have).
      session.client.on('disconnected', () => {
        for (const a of this.active.values()) a.cancelled = true;
      }),
      // Leaving (a lost connection too) ends hosting on the server: a rejoin shares again.
      session.on('joined', (j) => {
        if (j.rejoin && this.shared) void this.answer(() => this.share());
      }),
    );
  }

  /** Makes this peer the session's file host (again after every rejoin, until `close`). */
  async share(): Promise<void> {
    this.shared = true;
    await this.session.client.request('share_project', { session_id: this.session.id });
  }

  /**
   * Opens `path` as a shared document and, when it does not exist yet (version 0, empty), seeds it with this
   * host's bytes (UTF-8 text only). The host is the one writer of file content, so two seeds never race; edits
   * of others made meanwhile merge as any edit does. Resolves with whether it seeded.
   */
  async seedDocument(path: string, options: { timeoutMs?: number } = {}): Promise<boolean> {
    const entry = (await this.source.manifest()).files.find((f) => f.path === path);
    if (!entry) throw ChorusError.validation('path', `"${path}" is not in this host's manifest.`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await this.source.read(path, 0, entry.size));
    } catch {
      throw ChorusError.validation('path', `"${path}" is not UTF-8 text: it cannot seed a shared document.`);
    }
    const doc = await this.session.document(path);
    if (doc.version !== 0 || doc.text !== '' || text === '') return false;
    doc.edit([text]);
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    while (doc.pending) {
      if (Date.now() > deadline) throw new ChorusError('UNAVAILABLE', `The seed of "${path}" was not acknowledged in time.`);
      await sleep(20);
    }
    return true;
  }

  close(): void {
    for (const stop of this.stops) stop();
    for (const a of this.active.values()) a.cancelled = true;
  }

  private async answer(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.emit('error', ChorusError.from(err));
    }
  }

  private async sendManifest(to: string): Promise<void> {
    const manifest = await this.source.manifest();
    await sendPaced(this.session, 'file_manifest', { session_id: this.session.id, peer_id: to, manifest_json: JSON.stringify(manifest) });
  }

  private async sendFiles(m: ServerMessageOf<'request_files'>): Promise<void> {
    const key = `${m.from_peer_id}`;
    const prior = this.active.get(key);
    if (prior) prior.cancelled = true;
    const run = { cancelled: false };
    this.active.set(key, run);
    const sizes = new Map((await this.source.manifest()).files.map((f) => [f.path, f.size]));
    const files = m.file_paths.map((path) => ({ path, size: sizes.get(path) ?? 0 }));
    let sent = 0;
    if (m.format === 'compact') {
      const transferId = m.transfer_id ?? randomId();
      const chunks = chunkLayout(files, m.chunk_size ?? FILE_CHUNK_BYTES.default);
      const skip = new Set(m.skip_chunks ?? []);
      const inFlight = new Set<Promise<void>>();
      const window = this.options.window ?? 8;
      const encoding = m.compression === 'deflate' ? 'deflate' : 'none';
      // A chunk is read, hashed (and deflated) while the ones before it are on their way: the next `readAhead`
      // chunks are prepared ahead, so reads and digests (thread-pool round trips) overlap the sends.
      const prepare = async (index: number) => {
        const entries = chunks[index];
        const parts = await Promise.all(entries.map((e) => (e.length === 0 ? new Uint8Array(0) : this.source.read(e.path, e.offset, e.length))));
        const raw = concat(parts);
        const [data, sha256] = await Promise.all([encoding === 'deflate' ? deflate(raw) : raw, sha256Hex(raw)]);
        return { entries, data, sha256 };
      };
      const order = chunks.map((_, i) => i).filter((i) => !skip.has(i));
      const prepared = new Map<number, ReturnType<typeof prepare>>();
      const readAhead = this.options.readAhead ?? 2;
      for (let at = 0; at < order.length && !run.cancelled; at++) {
        for (let next = at; next <= at + readAhead && next < order.length; next++) {
          if (prepared.has(order[next])) continue;
          const p = prepare(order[next]);
          // Awaited in turn below; one not reached (the run was cancelled) must not be an unhandled rejection.
          p.catch(() => undefined);
          prepared.set(order[next], p);
        }
        const index = order[at];
        const { entries, data, sha256 } = await (prepared.get(index) as ReturnType<typeof prepare>);
        prepared.delete(index);
        if (run.cancelled) break;
        const p = sendPaced(this.session, 'file_data', { session_id: this.session.id, peer_id: m.from_peer_id, transfer_id: transferId, chunk_index: index, total_chunks: chunks.length, encoding, entries, sha256, data }, run);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p)).catch(() => undefined);
        sent++;
        this.chunksSent++;
        if (inFlight.size >= window) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      this.emit('sent', { to: m.from_peer_id, transferId, chunks: sent });
    } else {
      const budget = this.options.seedChunkBytes ?? 128 * 1024;
      const chunks = chunkLayout(files, budget);
      const inFlight = new Set<Promise<void>>();
      for (let index = 0; index < chunks.length && !run.cancelled; index++) {
        const payload: [string, number[]][] = [];
        for (const e of chunks[index]) payload.push([e.path, Array.from(e.length === 0 ? [] : await this.source.read(e.path, e.offset, e.length))]);
        const p = sendPaced(this.session, 'files_chunk', { session_id: this.session.id, peer_id: m.from_peer_id, files_json: JSON.stringify(payload), chunk_index: index, total_chunks: chunks.length }, run);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p)).catch(() => undefined);
        sent++;
        this.chunksSent++;
        if (inFlight.size >= 4) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      this.emit('sent', { to: m.from_peer_id, transferId: null, chunks: sent });
    }
    if (this.active.get(key) === run) this.active.delete(key);
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface DownloadOptions {
  /** `compact` (binary chunks, the default) or `seed` (files_chunk JSON). */
  readonly format?: 'seed' | 'compact';
  readonly chunkSize?: number;
  readonly compression?: 'none' | 'deflate';
  /** The host to ask (default: the session's file host). */
  readonly hostPeerId?: string;
  /** No chunk for this long: the request is sent again (a resume: only the chunks still missing). Default 3 s. */
  readonly stallMs?: number;
  /** How long the host may be gone before PEER_DISCONNECTED names the files still missing. Default 20 s. */
  readonly hostWaitMs?: number;
  /** false: only the host answers, never the server's file cache (`use_cache: false`). Default true. */
  readonly useCache?: boolean;
}

export interface DownloadProgress {
  readonly bytes: number;
  readonly totalBytes: number;
  readonly files: number;
  readonly totalFiles: number;
}

/**
 * A guest's side: `fetchManifest()`, then `download(manifest, paths)` → the files' bytes, each verified against the
 * manifest sha256 (FILE_INTEGRITY naming it otherwise). Progress events as chunks arrive; a stalled transfer (the
 * host's gateway died, the host reconnected) is requested again with the chunks already received skipped.
 */
export class FileSyncGuest extends TypedEmitter<{ progress: DownloadProgress; rejected: ChorusError }> {
  /** Chunks received and accepted (compact and seed), and how many times a transfer was resumed. */
  chunksReceived = 0;
  resumes = 0;
  /** Chunks that arrived for an index already received (a resume that re-sent finished chunks would count here). */
  duplicates = 0;
  /** At each resume: how many chunks the guest already had (skipped). */
  readonly skipped: number[] = [];

  constructor(private readonly session: ChorusSession) {
    super();
  }

  /**
   * The host's manifest as this guest may see it: entries the session's path rules do not let it read are left
   * out by the server, and `withheld` says how many (0: none; docs/files.md, "File sync"). Requesting such a path
   * anyway fails with PERMISSION_DENIED naming the rule (`error.details.rule`).
   */
  async fetchManifest(options: { hostPeerId?: string; timeoutMs?: number } = {}): Promise<{ manifest: Manifest; hostPeerId: string; withheld: number }> {
    let got: ServerMessageOf<'file_manifest'> | undefined;
    let wake: (() => void) | undefined;
    const stop = this.session.on('files', (m) => {
      if (m.type === 'file_manifest' && (options.hostPeerId === undefined || m.from_peer_id === options.hostPeerId)) {
        got = m;
        wake?.();
      }
    });
    try {
      const relayed = await this.session.client.request('request_file_manifest', { session_id: this.session.id, ...(options.hostPeerId !== undefined ? { to_peer_id: options.hostPeerId } : {}) });
      const deadline = Date.now() + (options.timeoutMs ?? 15_000);
      while (got === undefined || got.from_peer_id !== relayed.to_peer_id) {
        if (Date.now() > deadline) throw new ChorusError('PEER_DISCONNECTED', `No manifest from ${relayed.to_peer_id} within ${options.timeoutMs ?? 15_000} ms.`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
      const parsed = manifestSchema.safeParse(JSON.parse(got.manifest_json));
      if (!parsed.success) throw ChorusError.validation('manifest_json', `The host's manifest is invalid: ${parsed.error.issues[0]?.message}`);
      return { manifest: parsed.data, hostPeerId: relayed.to_peer_id, withheld: got.withheld ?? 0 };
    } finally {
      stop();
    }
  }

  async download(manifest: Manifest, paths: readonly string[], options: DownloadOptions = {}): Promise<Map<string, Uint8Array>> {
    const entries = new Map(manifest.files.map((f) => [f.path, f]));
    const files = paths.map((p) => {
      const f = entries.get(p);
      if (!f) throw ChorusError.validation('paths', `"${p}" is not in the manifest.`);
      return f;
    });
    const format = options.format ?? 'compact';
    const chunkSize = format === 'compact' ? Math.min(FILE_CHUNK_BYTES.max, Math.max(FILE_CHUNK_BYTES.min, options.chunkSize ?? FILE_CHUNK_BYTES.default)) : 0;
    const buffers = new Map(files.map((f) => [f.path, new Uint8Array(f.size)]));
    const filled = new Map(files.map((f) => [f.path, 0]));
    const done = new Map<string, Uint8Array>();
    const totalBytes = files.reduce((n, f) => n + f.size, 0);
    let bytes = 0;
    let lastProgress = Date.now();
    let failure: ChorusError | undefined;
    const transferId = randomId();
    const layout = format === 'compact' ? chunkLayout(files, chunkSize) : [];
    const received = new Set<number>();
    let pending = Promise.resolve();

    const finishFile = async (path: string) => {
      const f = entries.get(path)!;
      const bytesOf = buffers.get(path)!;
      if ((await sha256Hex(bytesOf)) !== f.hash) throw new ChorusError('FILE_INTEGRITY', `"${path}" does not match its manifest sha256.`, { paths: [path] });
      done.set(path, bytesOf);
      this.emit('progress', { bytes, totalBytes, files: done.size, totalFiles: files.length });
    };
    const accept = async (path: string, offset: number, part: Uint8Array) => {
      const f = entries.get(path);
      const buf = buffers.get(path);
      if (!f || !buf || offset + part.length > f.size) throw new ChorusError('FILE_INTEGRITY', `A chunk for "${path}" does not fit its manifest size.`, { paths: [path] });
      buf.set(part, offset);
      filled.set(path, (filled.get(path) ?? 0) + part.length);
      bytes += part.length;
      // The file's hash is checked beside the next chunks (WebCrypto is asynchronous: awaiting each small file's
      // digest in turn would make a chunk of 30 files wait for 30 thread-pool round trips).
      if (filled.get(path) === f.size && !done.has(path)) {
        const check = finishFile(path).catch((err: unknown) => {
          failure ??= ChorusError.from(err);
        });
        checks.add(check);
        void check.finally(() => checks.delete(check));
      }
    };
    const checks = new Set<Promise<void>>();
    const seedOffsets = new Map<string, number>();
    const seedHeld = new Map<number, [string, number[]][]>();
    let seedNext = 0;
    /** A compact chunk's bytes, inflated and hashed: started as it arrives, beside the chunks before it. */
    const digestOf = async (m: ServerMessageOf<'file_data'>): Promise<{ raw: Uint8Array; sha256: string }> => {
      const data = toBytes((m as { data?: unknown }).data);
      const raw = m.encoding === 'deflate' ? await inflate(data) : data;
      return { raw, sha256: await sha256Hex(raw) };
    };
    const onChunk = async (m: ServerMessageOf<'file_data'> | ServerMessageOf<'files_chunk'>, digest?: Promise<{ raw: Uint8Array; sha256: string }>) => {
      if (m.type === 'file_data') {
        if (m.transfer_id !== transferId) return;
        if (received.has(m.chunk_index)) {
          this.duplicates++;
          return;
        }
        const expected = layout[m.chunk_index];
        const { raw, sha256 } = await (digest ?? digestOf(m));
        const names = m.entries.map((e) => e.path);
        const same = expected !== undefined && expected.length === m.entries.length && expected.every((e, i) => e.path === m.entries[i].path && e.offset === m.entries[i].offset && e.length === m.entries[i].length);
        if (!same || sha256 !== m.sha256 || raw.length !== m.entries.reduce((n, e) => n + e.length, 0)) {
          // A tampered or corrupted chunk: never written; named, and fetched again by the next resume.
          this.emit('rejected', new ChorusError('FILE_INTEGRITY', `Chunk ${m.chunk_index} (${names.join(', ')}) does not match its sha256 or layout.`, { paths: [...new Set(names)] }));
          return;
        }
        let at = 0;
        for (const e of m.entries) {
          await accept(e.path, e.offset, raw.subarray(at, at + e.length));
          at += e.length;
        }
        received.add(m.chunk_index);
      } else {
        const payload = parseFilesPayload(JSON.parse(m.files_json));
        if (!payload.ok) throw ChorusError.validation('files_json', `The host sent an unreadable files_chunk: ${payload.message}`);
        // A file continues across chunks: they are applied in chunk_index order (held until the gap is filled).
        seedHeld.set(m.chunk_index, payload.value);
        for (let next = seedHeld.get(seedNext); next !== undefined; next = seedHeld.get(seedNext)) {
          seedHeld.delete(seedNext++);
          for (const [path, list] of next) {
            if (done.has(path)) continue;
            const offset = seedOffsets.get(path) ?? 0;
            seedOffsets.set(path, offset + list.length);
            await accept(path, offset, Uint8Array.from(list));
          }
        }
      }
      this.chunksReceived++;
      lastProgress = Date.now();
      this.emit('progress', { bytes, totalBytes, files: done.size, totalFiles: files.length });
    };
    const stop = this.session.on('files', (m) => {
      if (m.type !== 'file_data' && m.type !== 'files_chunk') return;
      // Chunks are handled one at a time, in arrival order; a compact chunk's digest is started at once (the
      // thread-pool round trips of several chunks overlap), its bytes written only in turn.
      const digest = m.type === 'file_data' && m.transfer_id === transferId && !received.has(m.chunk_index) ? digestOf(m) : undefined;
      digest?.catch(() => undefined); // awaited in turn by onChunk, which reports its failure
      pending = pending.then(() => onChunk(m, digest)).catch((err: unknown) => {
        failure ??= ChorusError.from(err);
      });
    });
    // Empty files need no bytes: done (after the hash check of nothing) as soon as asked for.
    for (const f of files) if (f.size === 0) await finishFile(f.path);

    const request = async () => {
      const missing = files.filter((f) => !done.has(f.path)).map((f) => f.path);
      if (format === 'compact') {
        const skip = [...received];
        if (this.resumes > 0) this.skipped.push(skip.length);
        await this.session.client.request('request_files', {
          session_id: this.session.id,
          file_paths: files.map((f) => f.path),
          format: 'compact',
          transfer_id: transferId,
          chunk_size: chunkSize,
          compression: options.compression ?? 'none',
          ...(skip.length > 0 ? { skip_chunks: skip } : {}),
          ...(options.hostPeerId !== undefined ? { to_peer_id: options.hostPeerId } : {}),
          ...(options.useCache === false ? { use_cache: false } : {}),
        });
      } else {
        // The seed format has no transfer: what is missing is asked for again, whole.
        for (const p of missing) {
          bytes -= filled.get(p) ?? 0;
          filled.set(p, 0);
          seedOffsets.delete(p);
        }
        seedHeld.clear();
        seedNext = 0;
        await this.session.client.request('request_files', { session_id: this.session.id, file_paths: missing, ...(options.hostPeerId !== undefined ? { to_peer_id: options.hostPeerId } : {}), ...(options.useCache === false ? { use_cache: false } : {}) });
      }
    };
    const stallMs = options.stallMs ?? 3_000;
    const hostWaitMs = options.hostWaitMs ?? 20_000;
    let hostGoneSince: number | undefined;
    try {
      if (done.size < files.length) {
        try {
          await request();
        } catch (err) {
          // The host is gone but the server's file cache sends some of the files (`field: "file_paths"`, `paths`
          // the others): wait for those like for a resume. Any other error fails at once, as without a cache.
          const e = ChorusError.from(err);
          if (e.code !== 'PEER_DISCONNECTED' || e.details.field !== 'file_paths') throw e;
          hostGoneSince = Date.now();
        }
      }
      while (done.size < files.length) {
        if (failure) throw failure;
        await sleep(50);
        if (Date.now() - lastProgress < stallMs) continue;
        await pending;
        await Promise.all([...checks]);
        if (done.size === files.length) break;
        try {
          this.resumes++;
          await request();
          hostGoneSince = undefined;
          lastProgress = Date.now();
        } catch (err) {
          const e = ChorusError.from(err);
          if (!e.retryable) throw e;
          hostGoneSince ??= Date.now();
          const missing = files.filter((f) => !done.has(f.path)).map((f) => f.path);
          if (Date.now() - hostGoneSince > hostWaitMs) throw new ChorusError('PEER_DISCONNECTED', `The host left before sending ${missing.length} file(s).`, { paths: missing });
          lastProgress = Date.now() - stallMs + 500;
        }
      }
      await pending;
      await Promise.all([...checks]);
      if (failure) throw failure;
      return done;
    } finally {
      stop();
    }
  }
}

/** Socket.IO hands binary over as a Buffer (Node) or an ArrayBuffer (browser); /ws clients as a Uint8Array. */
function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw ChorusError.validation('data', 'file_data without binary data.');
}
