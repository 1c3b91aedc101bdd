import { randomUUID } from 'node:crypto';
import { authorize, resolveFileAccess } from '@chorus/auth';
import {
  ChorusError,
  FILE_CHUNK_BYTES,
  chunkLayout,
  parseFilesPayload,
  manifestSchema,
  validationErrorFrom,
  type ClientMessageOf,
  type ClientMessageType,
  type FileHost,
  type ReplyOf,
} from '@chorus/protocol';
import type { LoggerService } from '@nestjs/common';
import { CACHE_SEED_CHUNK_BYTES } from '../files/file-cache-server';
import { mayRead, requireReadable } from '../files/file-sync-rules';
import type { OfferedFile } from '../files/file-sync.store';
import type { Connection, GatewayDeps, Membership } from './connection';
import { membershipOf } from './membership';

type Reply<T extends ClientMessageType> = Promise<Omit<ReplyOf<T>, 'id'>>;

/**
 * Project file sync, host to guests (docs/file-sync.md): the seed's flow verbatim on both transports. Every file
 * message goes to exactly one peer of the session — whichever gateway holds it — through the one outbound road
 * (`peers` audience), stamped with the sender's peer id. The server checks what it can without the bytes'
 * meaning: who may host (edit rights), the manifest (normal unique paths, caps), that a guest asks only for paths
 * of the manifest it was sent and that the host sends only those, and bytes per second per connection. The
 * session's per-file path rules apply per path (files/file-sync-rules.ts, docs/files.md "File sync").
 */
export class FileSyncMessageHandlers {
  /** Bytes-per-second budget per connection: a token bucket refilled continuously, one second deep. */
  private readonly buckets = new WeakMap<Connection, { tokens: number; at: number }>();

  constructor(private readonly logger: LoggerService) {}

  async share(socket: Connection, m: ClientMessageOf<'share_project'>, deps: GatewayDeps): Reply<'share_project'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'files.host');
    const host: FileHost = { peer_id: membership.peer_id, user_id: socket.data.identity.user_id };
    await deps.fileSync.store.setHost(m.session_id, host);
    const event = { type: 'file_host' as const, session_id: m.session_id, file_host: host };
    deps.push(m.session_id, { to: 'session' }, event, membership.peer_id);
    return event;
  }

  async unshare(socket: Connection, m: ClientMessageOf<'unshare_project'>, deps: GatewayDeps): Reply<'unshare_project'> {
    const membership = membershipOf(socket, m.session_id);
    await fileHostLeft(deps, m.session_id, membership.peer_id);
    return { type: 'file_host', session_id: m.session_id, file_host: await liveFileHost(deps, m.session_id) };
  }

  /**
   * request_file_manifest / request_files: guest → the named peer, else the session's file host. With the file
   * cache on, what the session's cache holds is answered from it (docs/file-sync.md, "The cache"), and a host that
   * left is answered for: its files from the cache, PEER_DISCONNECTED naming only the others.
   */
  async request(socket: Connection, m: ClientMessageOf<'request_file_manifest' | 'request_files'>, deps: GatewayDeps): Reply<'request_files'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'files.receive');
    // The path rules first, before the host, the offer or the cache are asked: a path the guest may not read is
    // refused naming the rule (and audited), whether or not a cached blob could answer it.
    if (m.type === 'request_files') requireReadable(await deps.files.rules(m.session_id), { role: membership.role, user_id: socket.data.identity.user_id }, m.file_paths);
    const named = m.to_peer_id ?? (m.peer_id !== undefined && m.peer_id !== membership.peer_id ? m.peer_id : undefined);
    const paths = m.type === 'request_files' ? m.file_paths : [];
    const cache = m.type === 'request_files' && m.use_cache !== false ? deps.fileSync.cache : undefined;
    let target = named;
    if (target === undefined) {
      // Nobody hosts now: the cache answers for the host that last sent this guest its manifest.
      const host = (await deps.fileSync.store.host(m.session_id)) ?? (cache ? await deps.fileSync.store.offerer(m.session_id, membership.peer_id) : null);
      if (host === null) throw new ChorusError('PEER_DISCONNECTED', `Nobody shares files in session ${m.session_id} (a participant with edit rights sends share_project).`, { paths });
      target = host.peer_id;
    }
    const stamp = { session_id: m.session_id, from_peer_id: membership.peer_id, from_user_id: socket.data.identity.user_id };
    if (m.type !== 'request_files') {
      await this.requirePresent(deps, m.session_id, target, paths);
      deps.push(m.session_id, { to: 'peers', peer_ids: [target] }, { type: 'request_file_manifest', ...stamp });
      return { type: 'file_relayed', session_id: m.session_id, to_peer_id: target };
    }
    if (!cache) await this.requirePresent(deps, m.session_id, target, paths);
    const offered = await deps.fileSync.store.offered(m.session_id, target, membership.peer_id, m.file_paths);
    const missing = m.file_paths.filter((p) => !offered.has(p));
    if (missing.length > 0) throw new ChorusError('PERMISSION_DENIED', `${missing.length} requested path(s) are not in the manifest ${target} sent you (first: "${missing[0]}"); request its manifest first.`, { field: 'file_paths', paths: missing.slice(0, 100) });
    const { type: _t, id: _id, session_id: _s, peer_id: _p, to_peer_id: _to, use_cache: _c, file_paths, ...compact } = m;
    // The chunk size is negotiated here: the guest's wish within the server's bounds (default 256 KiB).
    if (compact.format === 'compact') compact.chunk_size = Math.min(FILE_CHUNK_BYTES.max, Math.max(FILE_CHUNK_BYTES.min, compact.chunk_size ?? FILE_CHUNK_BYTES.default));
    const relay = (skip?: number[]) => deps.push(m.session_id, { to: 'peers', peer_ids: [target] }, { type: 'request_files', ...stamp, file_paths, ...compact, ...(skip ? { skip_chunks: skip } : {}) });
    const relayed = { type: 'file_relayed' as const, session_id: m.session_id, to_peer_id: target };
    if (!cache) {
      relay();
      return relayed;
    }
    const [present, cached, host] = await Promise.all([this.isPresent(deps, m.session_id, target), cache.lookup(m.session_id, [...offered.values()].map((f) => f.hash)), this.hostNamed(deps, m.session_id, membership.peer_id, target)]);
    const gone = () => new ChorusError('PEER_DISCONNECTED', `Peer ${target} is not connected to session ${m.session_id}.`, { field: 'to_peer_id', paths: file_paths.slice(0, 100) });
    if (cached.size === 0 || host === null) {
      if (!present) throw gone();
      relay();
      return relayed;
    }
    const files = file_paths.map((path) => ({ path, size: offered.get(path)?.size ?? 0 }));
    const hashes = new Map(file_paths.map((path) => [path, offered.get(path)?.hash ?? '']));
    const isCached = (path: string) => cached.has(hashes.get(path) ?? '');
    const serving = { sessionId: m.session_id, guestPeer: membership.peer_id, host, hashes, open: () => socket.open };
    if (compact.format === 'compact') {
      // The transfer's layout, as host and guest compute it: the chunks whose files are all cached come from the
      // cache, the host (told to skip those) sends the rest.
      compact.transfer_id ??= `t${randomUUID().replaceAll('-', '')}`;
      const layout = chunkLayout(files, compact.chunk_size ?? FILE_CHUNK_BYTES.default);
      const skip = new Set(compact.skip_chunks ?? []);
      const fromCache: number[] = [];
      const left: number[] = [];
      layout.forEach((entries, i) => {
        if (!skip.has(i)) (entries.every((e) => isCached(e.path)) ? fromCache : left).push(i);
      });
      if (fromCache.length > 0) void cache.server.serve({ ...serving, layout, indexes: fromCache, format: { kind: 'compact', transferId: compact.transfer_id, compression: compact.compression ?? 'none' } }, deps.push);
      if (left.length === 0) return relayed;
      if (present) {
        relay([...skip, ...fromCache]);
        return relayed;
      }
      // What the cache cannot answer: the files of the chunks left (a chunk is served whole or not at all). The
      // field says "some of file_paths": the others are on their way (the SDK waits for them).
      const never = [...new Set(left.flatMap((i) => layout[i].map((e) => e.path)))];
      throw new ChorusError('PEER_DISCONNECTED', `Peer ${target} is not connected to session ${m.session_id}; the file cache sends ${fromCache.length} chunk(s), not ${never.length} file(s).`, { field: 'file_paths', paths: never });
    }
    // The seed format has no transfer to share: the cache answers all the files, or the host does (a host that
    // left: the cache sends what it has, PEER_DISCONNECTED names the rest).
    const have = files.filter((f) => isCached(f.path));
    if (have.length === files.length || (!present && have.length > 0)) {
      const layout = chunkLayout(have, CACHE_SEED_CHUNK_BYTES);
      void cache.server.serve({ ...serving, layout, indexes: layout.map((_, i) => i), format: { kind: 'seed' } }, deps.push);
      if (have.length === files.length) return relayed;
      const never = file_paths.filter((p) => !isCached(p));
      throw new ChorusError('PEER_DISCONNECTED', `Peer ${target} is not connected to session ${m.session_id}; the file cache sends ${have.length} file(s), not ${never.length}.`, { field: 'file_paths', paths: never });
    }
    if (!present) throw gone();
    relay();
    return relayed;
  }

  /** The host answers a guest with its manifest: checked, remembered as that guest's offer, relayed. */
  async manifest(socket: Connection, m: ClientMessageOf<'file_manifest'>, deps: GatewayDeps): Reply<'file_manifest'> {
    const membership = this.hosting(socket, m.session_id);
    this.spend(socket, m.manifest_json.length, deps);
    const manifest = manifestSchema.safeParse(parseJson(m.manifest_json, 'manifest_json'));
    if (!manifest.success) throw prefixed(validationErrorFrom(manifest.error), 'manifest_json');
    const peers = await deps.presence.call('presence.who', { session_id: m.session_id });
    if (!peers.some((p) => p.peer_id === m.peer_id)) throw new ChorusError('PEER_DISCONNECTED', `Peer ${m.peer_id} is not connected to session ${m.session_id}.`, { field: 'to_peer_id' });
    // The path rules: the guest is offered only what the host may read and the guest may read; the others are
    // withheld, as a count (their names would tell what is hidden).
    const rules = await deps.files.rules(m.session_id);
    let kept = manifest.data.files;
    if (rules.length > 0) {
      const hostPrincipal = { role: membership.role, user_id: socket.data.identity.user_id };
      const guest = await deps.fileSync.principals.of(deps, m.session_id, m.peer_id, socket.data.identity, peers);
      kept = kept.filter((f) => guest !== null && mayRead(rules, hostPrincipal, f.path) && mayRead(rules, guest, f.path));
    }
    const withheld = manifest.data.files.length - kept.length;
    if (withheld > 0) deps.metrics.fileSyncWithheld.inc({ at: 'manifest' }, withheld);
    const files = new Map<string, OfferedFile>(kept.map((f) => [f.path, { hash: f.hash, size: f.size }]));
    const offerer = { peer_id: membership.peer_id, user_id: socket.data.identity.user_id };
    await Promise.all([deps.fileSync.store.offer(m.session_id, membership.peer_id, m.peer_id, files), deps.fileSync.cache ? deps.fileSync.store.setOfferer(m.session_id, m.peer_id, offerer) : undefined]);
    const stamp = { session_id: m.session_id, from_peer_id: membership.peer_id, from_user_id: socket.data.identity.user_id };
    const manifestJson = withheld === 0 ? m.manifest_json : JSON.stringify({ files: kept });
    deps.push(m.session_id, { to: 'peers', peer_ids: [m.peer_id] }, { type: 'file_manifest', ...stamp, manifest_json: manifestJson, withheld });
    return { type: 'file_relayed', session_id: m.session_id, to_peer_id: m.peer_id };
  }

  /** A seed-format chunk: only paths the guest was offered, none longer than its manifest size. */
  async chunk(socket: Connection, m: ClientMessageOf<'files_chunk'>, deps: GatewayDeps): Reply<'files_chunk'> {
    const membership = this.hosting(socket, m.session_id);
    this.spend(socket, m.files_json.length, deps);
    const payload = parseFilesPayload(parseJson(m.files_json, 'files_json'));
    if (!payload.ok) throw ChorusError.validation(payload.field === '' ? 'files_json' : `files_json.${payload.field}`, `Invalid files_json: ${payload.message}`);
    const paths = [...new Set(payload.value.map(([p]) => p))];
    const offered = await deps.fileSync.store.offered(m.session_id, membership.peer_id, m.peer_id, paths);
    const sizes = new Map<string, number>();
    for (const [path, bytes] of payload.value) {
      const entry = offered.get(path);
      if (!entry) throw new ChorusError('PERMISSION_DENIED', `"${path}" is not in the manifest you sent ${m.peer_id}.`, { field: 'files_json', paths: [path] });
      const size = (sizes.get(path) ?? 0) + bytes.length;
      if (size > entry.size) throw ChorusError.validation('files_json', `"${path}" is ${entry.size} bytes in the manifest; this chunk alone carries ${size}.`);
      sizes.set(path, size);
    }
    await this.recheck(socket, m.session_id, m.peer_id, paths, deps);
    const stamp = { session_id: m.session_id, from_peer_id: membership.peer_id, from_user_id: socket.data.identity.user_id };
    deps.push(m.session_id, { to: 'peers', peer_ids: [m.peer_id] }, { type: 'files_chunk', ...stamp, files_json: m.files_json, chunk_index: m.chunk_index, total_chunks: m.total_chunks });
    deps.metrics.fileBytesRelayed.inc({ format: 'seed' }, [...sizes.values()].reduce((a, b) => a + b, 0));
    // Forwarded first; the cache's write-behind takes the bytes afterwards, off this path.
    deps.fileSync.cache?.writes.observe({ sessionId: m.session_id, hostPeer: membership.peer_id, guestPeer: m.peer_id, offered, format: 'seed', files: payload.value });
    return { type: 'file_relayed', session_id: m.session_id, to_peer_id: m.peer_id };
  }

  /**
   * A compact chunk (binary): entries only of offered paths and within their manifest sizes, raw bytes matching
   * the entries' total. Crosses gateways as bytes beside its JSON on the road (libs/contracts `outboundCodec`).
   */
  async data(socket: Connection, m: ClientMessageOf<'file_data'>, deps: GatewayDeps): Reply<'file_data'> {
    const membership = this.hosting(socket, m.session_id);
    const data = m.data;
    if (data === undefined) throw ChorusError.validation('data', 'file_data carries its bytes as binary: a Socket.IO binary attachment in "data", or a /ws binary frame ([u32 header length][header JSON][data]).');
    if (data.length > FILE_CHUNK_BYTES.max + 1024) throw new ChorusError('PAYLOAD_TOO_LARGE', `A chunk is at most ${FILE_CHUNK_BYTES.max} bytes.`, { field: 'data' });
    this.spend(socket, data.length, deps);
    const paths = [...new Set(m.entries.map((e) => e.path))];
    const offered = await deps.fileSync.store.offered(m.session_id, membership.peer_id, m.peer_id, paths);
    let raw = 0;
    for (const e of m.entries) {
      const entry = offered.get(e.path);
      if (!entry) throw new ChorusError('PERMISSION_DENIED', `"${e.path}" is not in the manifest you sent ${m.peer_id}.`, { field: 'entries', paths: [e.path] });
      if (e.offset + e.length > entry.size) throw ChorusError.validation('entries', `"${e.path}" is ${entry.size} bytes in the manifest; this chunk reaches byte ${e.offset + e.length}.`);
      raw += e.length;
    }
    if (raw > FILE_CHUNK_BYTES.max) throw ChorusError.validation('entries', `A chunk carries at most ${FILE_CHUNK_BYTES.max} bytes; these entries add up to ${raw}.`);
    if (m.encoding === 'none' && data.length !== raw) throw ChorusError.validation('data', `The entries add up to ${raw} bytes; the data has ${data.length}.`);
    await this.recheck(socket, m.session_id, m.peer_id, paths, deps);
    const { type: _t, id: _id, peer_id, data: _d, session_id, ...header } = m;
    const stamp = { session_id, from_peer_id: membership.peer_id, from_user_id: socket.data.identity.user_id };
    deps.push(session_id, { to: 'peers', peer_ids: [peer_id] }, { type: 'file_data', ...stamp, ...header, data });
    deps.metrics.fileBytesRelayed.inc({ format: 'compact' }, raw);
    // Forwarded first; the cache's write-behind takes the bytes afterwards, off this path.
    deps.fileSync.cache?.writes.observe({ sessionId: session_id, hostPeer: membership.peer_id, guestPeer: peer_id, offered, format: 'compact', entries: m.entries, encoding: m.encoding, data });
    return { type: 'file_relayed', session_id, to_peer_id: peer_id };
  }

  /**
   * A chunk's paths against the rules in force now, for the guest it goes to: they may have changed since the
   * manifest (a rule added, the guest's role lowered). A chunk with a path the guest may not read is dropped — not
   * relayed, not cached — counted (`chorus_file_sync_withheld_total{at="chunk"}`), logged, and refused to the host
   * with PERMISSION_DENIED naming the rule (audited like every refusal).
   */
  private async recheck(socket: Connection, sessionId: string, guestPeer: string, paths: readonly string[], deps: GatewayDeps): Promise<void> {
    const rules = await deps.files.rules(sessionId);
    if (rules.length === 0) return;
    const guest = await deps.fileSync.principals.of(deps, sessionId, guestPeer, socket.data.identity);
    const refused = guest === null ? [...paths] : paths.filter((p) => !mayRead(rules, guest, p));
    if (refused.length === 0) return;
    deps.metrics.fileSyncWithheld.inc({ at: 'chunk' }, refused.length);
    this.logger.warn(`Session ${sessionId}: a chunk for ${guestPeer} dropped, ${refused.length} path(s) it may not read under the path rules`, 'FileSync');
    if (guest === null) throw new ChorusError('PEER_DISCONNECTED', `Peer ${guestPeer} is no longer a participant of session ${sessionId}.`, { field: 'peer_id', paths: refused.slice(0, 100) });
    const rule = resolveFileAccess(rules, guest, refused[0]).rule;
    const why = rule === null ? `role "${guest.role}" may not read it` : `file rule "${rule.name}" (${rule.pattern}) forbids it`;
    throw new ChorusError('PERMISSION_DENIED', `This chunk is not relayed: ${guestPeer} may not read "${refused[0]}" (${why})${refused.length > 1 ? `, nor ${refused.length - 1} other path(s) of it` : ''}.`, {
      field: 'peer_id',
      paths: refused.slice(0, 100),
      ...(rule === null ? {} : { rule: rule.name }),
    });
  }

  /** The sender may host (viewers receive only). */
  private hosting(socket: Connection, sessionId: string): Membership {
    const membership = membershipOf(socket, sessionId);
    authorize(membership.role, 'files.host');
    return membership;
  }

  /** Whether the peer is in the session now (on any gateway). */
  private async isPresent(deps: GatewayDeps, sessionId: string, peerId: string): Promise<boolean> {
    const peers = await deps.presence.call('presence.who', { session_id: sessionId });
    return peers.some((p) => p.peer_id === peerId);
  }

  /** The host `peerId` as the guest knows it (its user id stamps what the cache sends in its name), if known. */
  private async hostNamed(deps: GatewayDeps, sessionId: string, guestPeer: string, peerId: string): Promise<FileHost | null> {
    const [host, offerer] = await Promise.all([deps.fileSync.store.host(sessionId), deps.fileSync.store.offerer(sessionId, guestPeer)]);
    return [host, offerer].find((h) => h?.peer_id === peerId) ?? null;
  }

  /** The peer must be in the session now (on any gateway): otherwise the transfer cannot go on. */
  private async requirePresent(deps: GatewayDeps, sessionId: string, peerId: string, paths: readonly string[]): Promise<void> {
    if (!(await this.isPresent(deps, sessionId, peerId))) {
      throw new ChorusError('PEER_DISCONNECTED', `Peer ${peerId} is not connected to session ${sessionId}.`, { field: 'to_peer_id', ...(paths.length > 0 ? { paths: paths.slice(0, 100) } : {}) });
    }
  }

  /** Charges `bytes` to the connection's per-second budget (FILE_SYNC_BYTES_PER_S), or refuses with when to retry. */
  private spend(socket: Connection, bytes: number, deps: GatewayDeps): void {
    const rate = deps.fileSync.bytesPerSecond;
    const now = performance.now();
    const b = this.buckets.get(socket) ?? { tokens: rate, at: now };
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    // A message larger than a whole second's budget passes when the bucket is full (and empties it beyond).
    const needed = Math.min(bytes, rate);
    if (b.tokens < needed) {
      this.buckets.set(socket, b);
      deps.metrics.rateLimited.inc({ kind: 'files' });
      throw new ChorusError('RATE_LIMITED', `File sync is limited to ${rate} bytes per second per connection.`, { retry_after_ms: Math.max(1, Math.ceil(((needed - b.tokens) / rate) * 1000)) });
    }
    b.tokens -= bytes;
    this.buckets.set(socket, b);
  }
}

/** The session's file host if it is still in the session (a dead gateway's host is not shown). */
export async function liveFileHost(deps: GatewayDeps, sessionId: string, presentPeers?: readonly { peer_id: string }[]): Promise<FileHost | null> {
  const host = await deps.fileSync.store.host(sessionId);
  if (host === null) return null;
  const peers = presentPeers ?? (await deps.presence.call('presence.who', { session_id: sessionId }));
  return peers.some((p) => p.peer_id === host.peer_id) ? host : null;
}

/**
 * `joined.file_host` / `presence_list.file_host`: a store that does not answer costs only this field (absent:
 * "could not tell", as for `locks`), never the join or `who` — counted and logged, not swallowed.
 */
export async function fileHostField(deps: GatewayDeps, sessionId: string, peers: readonly { peer_id: string }[], logger: { warn(message: string, context?: string): void }): Promise<{ file_host?: FileHost | null }> {
  try {
    return { file_host: await liveFileHost(deps, sessionId, peers) };
  } catch (err) {
    deps.metrics.fileHostUnavailable.inc();
    logger.warn(`Session ${sessionId}: file host not read (${(err as Error).message})`, 'FileSync');
    return {};
  }
}

/** A peer left (or unshared): if it was the file host, nobody is, and the session hears so. */
export async function fileHostLeft(deps: GatewayDeps, sessionId: string, peerId: string): Promise<void> {
  if (await deps.fileSync.store.clearHost(sessionId, peerId)) deps.push(sessionId, { to: 'session' }, { type: 'file_host', session_id: sessionId, file_host: null }, peerId);
}

function parseJson(raw: string, field: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw ChorusError.validation(field, `${field} is not valid JSON.`);
  }
}

/** A VALIDATION_ERROR of the inner document, its field under the message field (`manifest_json.files.3.path`). */
function prefixed(err: ChorusError, field: string): ChorusError {
  const inner = err.details.field;
  return new ChorusError(err.code, err.message, { ...err.details, field: inner && inner !== '(message)' ? `${field}.${inner}` : field });
}
