import { ChorusError, type ServerMessageOf } from '@chorus/protocol';
import { transformSelection, type TextOp } from '@chorus/ot';
import { backoffDelay } from './backoff';
import { TypedEmitter } from './emitter';
import { ClientClosedError } from './errors';
import { OtClient, type RemoteApplied } from './ot-client';
import type { ChorusSession } from './session';
import { opFromUtf16Change, utf16ChangesOf, type Utf16Change } from './text';

/** A document's lock as the server last told it (null: unlocked). */
export interface DocumentLock {
  /** The user holding the lock. */
  holderId: string;
  /** The connection (peer) that took it. */
  peerId: string;
  /** When it expires unless extended (ISO 8601). */
  expiresAt: string;
}

/** Events of {@link ChorusDocument}. */
export interface ChorusDocumentEvents {
  /**
   * The text changed by a remote op (already transformed against local edits not yet acknowledged). `changes`
   * are the same edit in UTF-16 offsets of the text before it: apply them to the editor as they are.
   */
  change: { op: TextOp; changes: Utf16Change[]; peerId: string; version: number; text: string };
  /** A local op was committed by the server as `version`. */
  ack: { version: number; seq: number };
  /**
   * The document was reloaded from the server (RELOAD_REQUIRED, or an op the server refused for good): `text` is
   * the new text, `discarded` the local edits that were not committed (relative to the previous text), if any.
   */
  reload: { text: string; version: number; discarded: TextOp | null; reason: string };
  /** The lock was taken, extended, released, broken or expired. */
  lock: { lock: DocumentLock | null };
  /** The remote cursors in this document moved or changed (`cursors()`). */
  cursors: { docId: string };
  /** The server reported an overlap of concurrent edits (awareness only: the merge already happened). */
  conflict: ServerMessageOf<'conflict_detected'>;
}

/**
 * One shared text document of a session, edited through the OT client (one op in flight, the rest composed
 * into one buffer, remote ops transformed against them). Offsets are code points on the wire; use `editUtf16`
 * and the `changes` of the `change` event to work in editor (UTF-16) offsets.
 *
 * Guarantees: every local edit is committed exactly once (resent with its seq after a reconnect, recognised if
 * it had been committed); remote ops are applied in version order with no gap (a skipped version is fetched);
 * once every edit is acknowledged, `text` equals the server's text at `version`.
 */
export class ChorusDocument extends TypedEmitter<ChorusDocumentEvents> {
  private ot: OtClient | null = null;
  private opening: Promise<void> | null = null;
  private currentLock: DocumentLock | null = null;
  private closedError: ChorusError | null = null;
  private resendTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;

  constructor(
    /** The session the document belongs to. */
    readonly session: ChorusSession,
    /** The document id: a project path such as `src/main.rs`. */
    readonly id: string,
  ) {
    super();
  }

  /** The local text (the server's plus local edits not yet acknowledged). */
  get text(): string {
    return this.state().text;
  }

  /** The last server version applied. */
  get version(): number {
    return this.state().version;
  }

  /** Whether local edits are waiting for the server. */
  get pending(): boolean {
    return this.ot?.pending ?? false;
  }

  /** The lock as last known. */
  get lock(): DocumentLock | null {
    return this.currentLock;
  }

  /** @internal Resolves when the document is loaded. */
  opened(): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.ot) return Promise.resolve();
    this.opening ??= this.load().finally(() => (this.opening = null));
    return this.opening;
  }

  /**
   * Applies a local edit (code points, against `text`), shows it at once and sends it. Returns the op as applied.
   * Throws OtValidationError when the op does not fit the text (nothing is applied then).
   */
  edit(op: TextOp): TextOp {
    const ot = this.state();
    const applied = ot.applyLocal(op);
    this.moveCursors(applied, null);
    return applied;
  }

  /** Replaces UTF-16 range [from, to) of `text` by `insert` (an editor change). Returns the op sent. */
  editUtf16(change: Utf16Change): TextOp {
    return this.edit(opFromUtf16Change(this.text, change));
  }

  /**
   * The other peers' cursors in this document, in code points of `text`: as they last reported them, moved
   * through every op applied since by the tie rule (a peer's own insert carries its cursor, anyone else's does not).
   */
  cursors(): Array<{ peerId: string; userId: string; displayName: string; selection: { anchor: number; head: number } }> {
    return this.session.presence.cursorsIn(this.id).filter((c) => c.peerId !== this.session.client.peerId);
  }

  /** Takes (or extends) the exclusive edit lock (`ttl_ms`, default 5 minutes on the server). */
  async lockFile(ttlMs?: number): Promise<DocumentLock> {
    const reply = await this.session.client.request('lock_file', { session_id: this.session.id, doc_id: this.id, ...(ttlMs !== undefined ? { ttl_ms: ttlMs } : {}) });
    this.setLock({ holderId: reply.holder_id, peerId: reply.peer_id, expiresAt: reply.expires_at });
    return this.currentLock as DocumentLock;
  }

  /** Releases our lock; `force` breaks someone else's (owner or admin). */
  async unlockFile(force = false): Promise<void> {
    await this.session.client.request('unlock_file', { session_id: this.session.id, doc_id: this.id, ...(force ? { force } : {}) });
    this.setLock(null);
  }

  /** Who changed what, oldest first (one page: continue from the last entry's version while it is below `head`). */
  history(options: { fromVersion?: number; limit?: number } = {}): Promise<ServerMessageOf<'history'>> {
    return this.session.client.request('document_history', {
      session_id: this.session.id,
      doc_id: this.id,
      ...(options.fromVersion !== undefined ? { from_version: options.fromVersion } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    });
  }

  /** The text at a past (retained) version. */
  async at(version: number): Promise<{ version: number; text: string }> {
    const reply = await this.session.client.request('document_at', { session_id: this.session.id, doc_id: this.id, version });
    return { version: reply.version, text: reply.content };
  }

  /** @internal A push for this document. */
  handlePush(m: ServerMessageOf<'op' | 'file_locked' | 'file_unlocked' | 'conflict_detected'>): void {
    if (m.type === 'op') this.ot?.receive(m);
    else if (m.type === 'file_locked') this.setLock({ holderId: m.holder_id, peerId: m.peer_id, expiresAt: m.expires_at });
    else if (m.type === 'file_unlocked') this.setLock(null);
    else this.emit('conflict', m);
  }

  /**
   * @internal After a rejoin: reopen (subscribes this socket to the document's ops, refreshes the lock), catch up
   * with `fetch_ops` from our version, then resend the in-flight op with its seq (recognised if committed).
   */
  async resume(): Promise<void> {
    if (!this.ot || this.closedError) return;
    const reply = await this.session.client.request('open_document', { session_id: this.session.id, doc_id: this.id });
    this.applyLockField(reply.lock);
    const ot = this.ot;
    if (reply.version > ot.version || ot.pending) await this.fetchFrom(ot.version, false);
    if (this.ot === ot) ot.resendInflight();
  }

  /** @internal The session ended: no more edits. */
  sessionEnded(error: ChorusError): void {
    this.closedError = error;
    if (this.resendTimer) clearTimeout(this.resendTimer);
  }

  private state(): OtClient {
    if (!this.ot) throw new ChorusError('CONFLICT', `document ${this.id} is not open yet: await session.document(id)`);
    return this.ot;
  }

  private async load(): Promise<void> {
    await this.session.ready();
    const reply = await this.session.client.request('open_document', { session_id: this.session.id, doc_id: this.id });
    this.applyLockField(reply.lock);
    this.ot = this.makeOt(reply.version, reply.content);
  }

  private makeOt(version: number, text: string): OtClient {
    const client = this.session.client;
    return new OtClient(client.peerId, version, text, () => client.nextOpSeq(), {
      submit: (op, base, seq) => void this.submit(op, base, seq),
      fetch: (from) => void this.fetchFrom(from, true),
      applied: (change) => this.remoteApplied(change),
      acked: (version, seq) => {
        this.failures = 0;
        this.emit('ack', { version, seq });
      },
    });
  }

  private async submit(op: TextOp, version: number, seq: number): Promise<void> {
    const ot = this.ot;
    try {
      const ack = await this.session.client.request('submit_op', { session_id: this.session.id, doc_id: this.id, version, op, seq });
      if (this.ot === ot) ot?.receiveAck(ack.version, ack.seq);
    } catch (err) {
      if (this.ot !== ot || this.closedError) return;
      const error = ChorusError.from(err);
      if (err instanceof ChorusError && err.name === 'ConnectionLostError') return; // resume() resends it
      if (error.code === 'RELOAD_REQUIRED') return void this.reload(`submit_op: ${error.message}`);
      if (!error.retryable || error.code === 'FILE_LOCKED') {
        this.session.client.warn(`submit_op on ${this.id} refused (${error.code}): reloading`, err);
        return void this.reload(`submit_op refused: ${error.code} ${error.message}`);
      }
      // A timeout, UNAVAILABLE or RATE_LIMITED: the same (peer, seq) again, which the server dedupes.
      this.session.client.warn(`submit_op on ${this.id}: ${error.code}, resending seq ${seq}`, err);
      const delay = error.details.retry_after_ms ?? backoffDelay(this.failures++, this.session.client.random, { initialDelayMs: 100, maxDelayMs: 5_000 });
      if (this.resendTimer) clearTimeout(this.resendTimer);
      this.resendTimer = setTimeout(() => {
        this.resendTimer = null;
        if (this.ot === ot && this.session.client.state === 'connected') ot?.resendInflight();
      }, delay);
    }
  }

  /**
   * Every committed op after `from`, page by page up to the head, fed to the OT client in order. A gap the OT
   * client reports is given GAP_GRACE_MS to fill by itself first: our ack comes straight back from the gateway,
   * while the ops committed just before it come through the fan-out and often land a few ms later — fetching at
   * once cost one fetch_ops round trip per op under concurrent typing (42 fetches for 46 ops in bench:client),
   * doubling the keystroke latency and the server's load. Only a push really lost is fetched.
   */
  private async fetchFrom(from: number, fromOt: boolean): Promise<void> {
    const ot = this.ot;
    if (!ot) return;
    let stopped = false;
    try {
      if (fromOt) {
        await sleep(GAP_GRACE_MS);
        if (this.ot !== ot || !ot.hasGap) return;
        from = ot.version;
      }
      let next = from;
      for (;;) {
        const page = await this.session.client.request('fetch_ops', { session_id: this.session.id, doc_id: this.id, from_version: next });
        if (this.ot !== ot) return;
        for (const op of page.ops) ot.receive(op);
        const last = page.ops.length > 0 ? page.ops[page.ops.length - 1].version : next;
        if (last >= page.head || page.ops.length === 0) break;
        next = last;
      }
    } catch (err) {
      const error = ChorusError.from(err);
      if (error.code === 'RELOAD_REQUIRED') return void this.reload(`fetch_ops: ${error.message}`);
      // A client closed by the app (or a session that ended) has nothing left to fetch for: stop asking (the OT
      // client stays "fetching", so its gap asks no more). A lost connection is resumed by the rejoin.
      if (this.closedError || err instanceof ClientClosedError) {
        stopped = true;
        return;
      }
      if (!(err instanceof ChorusError && err.name === 'ConnectionLostError')) this.session.client.warn(`fetch_ops on ${this.id} failed (${error.code})`, err);
      if (fromOt && this.ot === ot) {
        // Ask again later; the gap stays visible to the OT client until it is filled.
        await sleep(backoffDelay(this.failures++, this.session.client.random, { initialDelayMs: 100, maxDelayMs: 5_000 }));
      }
    } finally {
      if (fromOt && this.ot === ot && !stopped) ot.fetchDone();
    }
  }

  /** Starts over from the server's text. Never rejects: a failed reload is reported, and the next rejoin retries. */
  private async reload(reason: string): Promise<void> {
    try {
      const reply = await this.session.client.request('open_document', { session_id: this.session.id, doc_id: this.id });
      this.applyLockField(reply.lock);
      const discarded = this.ot ? this.ot.reset(reply.version, reply.content) : null;
      if (!this.ot) this.ot = this.makeOt(reply.version, reply.content);
      this.emit('reload', { text: reply.content, version: reply.version, discarded, reason });
    } catch (err) {
      this.session.client.warn(`reload of ${this.id} (${reason}) failed; retried after the next rejoin`, err);
    }
  }

  private remoteApplied(change: RemoteApplied): void {
    this.moveCursors(change.op, change.peerId);
    this.emit('change', { op: change.op, changes: utf16ChangesOf(change.before, change.op), peerId: change.peerId, version: change.version, text: this.text });
  }

  /** Moves the other peers' cursors through an op by the tie rule (isOwnOp: the op's author is that peer). */
  private moveCursors(op: TextOp, author: string | null): void {
    const cursors = this.session.presence.cursorsIn(this.id);
    if (cursors.length === 0) return;
    for (const c of cursors) this.session.presence.setSelection(c.peerId, transformSelection(c.selection, op, c.peerId === author));
    this.emit('cursors', { docId: this.id });
  }

  private applyLockField(lock: { holder_id: string; peer_id: string; expires_at: string } | null | undefined): void {
    if (lock === undefined) return;
    this.setLock(lock === null ? null : { holderId: lock.holder_id, peerId: lock.peer_id, expiresAt: lock.expires_at });
  }

  private setLock(lock: DocumentLock | null): void {
    this.currentLock = lock;
    this.session.noteLock(this.id, lock);
    this.emit('lock', { lock });
  }
}

/** How long a version gap may stay open before its ops are fetched (the fan-out is usually that fast). */
const GAP_GRACE_MS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
