import type { LoggerService } from '@nestjs/common';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { authorize, can } from '@chorus/auth';
import type { Audience, AuditRecord, Caller, ConflictApi, TypedClient, YjsRestored } from '@chorus/contracts';
import { ChorusError, YJS_LIMITS, type Role, type ServerMessageOf } from '@chorus/protocol';
import type { YjsMetrics } from './yjs.metrics';
import { decodeMessage, encodeAwareness, encodeStep1, encodeStep2, encodeUpdate, type YMessage } from './yjs-protocol';
import { YjsSeqs } from './yjs-seqs';

type YjsVersionSaved = ConflictApi['yjs.save_version']['res'];

/** Who sends y-protocols messages for a document: an edge connection (Socket.IO, /ws) or a stock provider on /yjs/. */
export interface YjsSubscriber {
  /** The connection's id (unique on this node). */
  readonly id: string;
  readonly userId: string;
  /** The dedupe/audit identity stored with each update: the peer id, or `yjs:<connection>` on the /yjs/ path. */
  readonly clientId: string;
  /** The current role in the session (kept live for edge connections). */
  role(): Role;
  /**
   * Starts receiving the document's pushes: an edge connection joins the document room, a /yjs/ socket registers
   * as a binary sink (`sink`). Called before the state is read, so nothing durable in between is missed.
   */
  subscribe(sessionId: string, docId: string): Promise<void>;
  /** Undoes `subscribe` (the document room is left). */
  unsubscribe?(sessionId: string, docId: string): void;
  /** A /yjs/ socket: where the hub's pushes for its document are written, as binary frames. */
  readonly sink?: (frame: Uint8Array) => void;
}

export interface YjsOutcome {
  /** y-protocols messages for the sender (the sync reply, awareness states). */
  readonly replies: Uint8Array[];
  /** The durable seq of the update the message carried, or null. */
  readonly seq: number | null;
  /** What the message was (a provider framing acknowledges updates: Hocuspocus's SyncStatus). */
  readonly kind: YMessage['kind'];
}

/** What a Yjs document is on this gateway: its local subscribers and the awareness states known here. */
interface LocalDoc {
  readonly sessionId: string;
  readonly docId: string;
  /** Awareness of every client of the document this node heard of (its own state stays null). */
  readonly awareness: Awareness;
  readonly subscribers: Map<string, { readonly subscriber: YjsSubscriber; readonly clients: Set<number> }>;
  /** Durable updates pushed to this node in the current event-loop turn, not yet written to the binary sinks. */
  pending: Uint8Array[];
  pendingBytes: number;
  flush: NodeJS.Immediate | undefined;
  /** Which durable updates reached this node: a hole that outlasts GAP_GRACE_MS is filled from the stored state. */
  readonly seqs: YjsSeqs;
  gapTimer: NodeJS.Timeout | undefined;
  filling: boolean;
  /**
   * The document's delete set and state vector as this node knows them, kept from the first read-only sync on
   * (undefined while only editors are subscribed): a viewer's sync step 2 answer holds its whole delete set, and is
   * a no-op — ignored, not refused — when it holds nothing else the document lacks. `unfolded` are the durable
   * updates delivered since, folded in lazily (on the next check, or beyond FOLD_MAX_BYTES), so a keystroke costs no
   * decoding here.
   */
  known: KnownState | undefined;
}

/**
 * How long a missing seq may stay missing before it is taken as lost with its gateway and the state is read: pushes
 * of different gateways arrive out of order, and on a loaded machine a push can trail its commit by over a second.
 */
export const GAP_GRACE_MS = 2_000;

/** The gateway reads a document's state to fill a hole as a service, never as a participant (viewer may read). */
const GAP_READER: Caller = { user_id: 'service:gateway', client_id: 'gateway:gap-fill', role: 'viewer' };

interface KnownState {
  ds: DeleteSet;
  /** The state vector of what this node knows is stored (client → next clock). */
  readonly sv: Map<number, number>;
  unfolded: Uint8Array[];
  unfoldedBytes: number;
  /** Settles once the state read that started it is in `unfolded` (or failed: then it is no longer the doc's). */
  readonly ready: Promise<void>;
}

type DeleteSet = ReturnType<typeof Y.createDeleteSet>;

/** Delivered updates not yet folded into a document's known delete set are folded beyond this many bytes. */
const FOLD_MAX_BYTES = 1024 * 1024;

/** Coalesced updates are written at once beyond this many bytes (as Hocuspocus's flushMaxBytes). */
const FLUSH_MAX_BYTES = 256 * 1024;

export type YjsPush = (sessionId: string, audience: Audience, message: ServerMessageOf<'yjs_message'>) => void;

/**
 * The gateway's Yjs documents (docs/yjs.md): the one code path behind `yjs_sync` (Socket.IO and /ws, through the
 * Edge handler table) and the stock-provider path /yjs/. It speaks y-protocols: sync step 1 subscribes and is
 * answered from the durable state (conflict service, Postgres), an update is appended (durable) before it is
 * answered and pushed on the one outbound road to every subscriber on every gateway, awareness is relayed.
 *
 * Awareness is presence: no store, no lease of ours — each client renews its state every 15 s and every receiver
 * drops a state not renewed for 30 s (the y-protocols awareness contract). A connection that closes has its states
 * removed at once (pushed as an awareness removal); a gateway that dies stops renewing nothing (its clients renew
 * their own), so their states expire 30 s after their connections went with it.
 */
export class YjsDocs {
  private readonly docs = new Map<string, LocalDoc>();
  /** Writes a push to this node's sockets only (the hub); until bound, to the binary sockets alone. */
  private local: (sessionId: string, message: ServerMessageOf<'yjs_message'>) => void = (_sessionId, message) => this.deliver(message);

  constructor(
    private readonly conflict: TypedClient<ConflictApi>,
    private readonly push: YjsPush,
    readonly metrics: YjsMetrics,
    private readonly logger: LoggerService,
    /**
     * Records a created document in the session's audit trail (`yjs_document_created`), before the creator's sync
     * is answered. Never throws: a failed record is logged and counted by the recorder (recordAudit).
     */
    private readonly audit?: (sessionId: string, record: AuditRecord) => Promise<void>,
  ) {}

  /**
   * Where a fill goes: the local hub, so that this node's edge connections of the document (Socket.IO, /ws) get it
   * as well as its binary sockets (the hub hands it back to `deliver`). Local only: every node fills its own holes.
   */
  bindLocal(local: (sessionId: string, message: ServerMessageOf<'yjs_message'>) => void): void {
    this.local = local;
  }

  /** Local documents with subscribers (tests, metrics). */
  get size(): number {
    return this.docs.size;
  }

  /** One y-protocols message from `subscriber`. Throws a ChorusError (with nothing stored) when refused. */
  async handle(subscriber: YjsSubscriber, sessionId: string, docId: string, bytes: Uint8Array): Promise<YjsOutcome> {
    let message: YMessage;
    try {
      message = decodeMessage(bytes);
    } catch (err) {
      this.metrics.refused.inc({ reason: 'malformed' });
      throw ChorusError.validation('message', (err as Error).message);
    }
    const caller: Caller = { user_id: subscriber.userId, client_id: subscriber.clientId, role: subscriber.role() };
    switch (message.kind) {
      case 'step1':
        return this.syncStep1(subscriber, caller, sessionId, docId, message.stateVector);
      case 'step2':
      case 'update':
        return { replies: [], seq: await this.update(subscriber, caller, sessionId, docId, message.update), kind: message.kind };
      case 'awareness':
        this.awareness(subscriber, sessionId, docId, message.update);
        return { replies: [], seq: null, kind: message.kind };
      case 'query_awareness': {
        const doc = this.subscribed(subscriber, sessionId, docId);
        return { replies: [awarenessOf(doc)].filter((m): m is Uint8Array => m !== undefined), seq: null, kind: message.kind };
      }
    }
  }

  /**
   * Subscribe, then read: a push of an update made durable meanwhile reaches the subscriber as well as the state
   * (Yjs applies it once). Answered with step 2 (what the client lacks), the server's step 1 (so the client sends
   * what the server lacks) and the awareness states known here.
   */
  private async syncStep1(subscriber: YjsSubscriber, caller: Caller, sessionId: string, docId: string, stateVector: Uint8Array): Promise<YjsOutcome> {
    const doc = this.docOf(sessionId, docId);
    // A read-only sync: the delete set is kept from now on (before the read, so no push in between is missed).
    const loaded = !can(caller.role, 'document.edit') && doc.known === undefined ? keepDeleteSet(doc) : undefined;
    if (!doc.subscribers.has(subscriber.id)) {
      doc.subscribers.set(subscriber.id, { subscriber, clients: new Set() });
      try {
        await subscriber.subscribe(sessionId, docId);
      } catch (err) {
        loaded?.(null);
        this.unsubscribe(subscriber, sessionId, docId);
        throw err;
      }
    }
    let state;
    try {
      state = await this.conflict.call('yjs.open', { caller, payload: { session_id: sessionId, doc_id: docId } });
    } catch (err) {
      loaded?.(null);
      this.unsubscribe(subscriber, sessionId, docId);
      throw err;
    }
    // The state holds every seq up to its head: the first read is where this node starts; a later head beyond what
    // was pushed here means a hole for the subscribers already here (an update whose gateway died before its push).
    this.noteHead(doc, state.seq);
    // Created by this sync: an audit event of the session (durable) before the answer.
    if (state.created === true) await this.audit?.(sessionId, { kind: 'yjs_document_created', doc_id: docId, user_id: subscriber.userId });
    const merged = Buffer.from(state.update, 'base64');
    loaded?.(merged);
    let diff: Uint8Array;
    try {
      diff = Y.diffUpdate(merged, stateVector);
    } catch (err) {
      this.metrics.refused.inc({ reason: 'malformed' });
      throw ChorusError.validation('message', `sync step 1: not a state vector (${(err as Error).message})`);
    }
    const replies = [encodeStep2(diff), encodeStep1(Y.encodeStateVectorFromUpdate(merged))];
    const aware = awarenessOf(doc);
    if (aware) replies.push(aware);
    return { replies, seq: null, kind: 'step1' };
  }

  private async update(subscriber: YjsSubscriber, caller: Caller, sessionId: string, docId: string, update: Uint8Array): Promise<number | null> {
    const doc = this.subscribed(subscriber, sessionId, docId);
    // An empty update (no structs, no deletions: a step 2 of a client with nothing new) is no change: not stored.
    if (update.length === 2 && update[0] === 0 && update[1] === 0) return null;
    try {
      authorize(caller.role, 'document.edit');
    } catch (err) {
      // A viewer's no-op (a stock provider's step 2 answer: its whole delete set, nothing the document lacks) is
      // ignored, not refused; anything else it holds is an edit.
      if (update.length <= YJS_LIMITS.maxUpdateBytes && (await this.addsNothing(doc, caller, update))) {
        this.metrics.updates.inc({ outcome: 'ignored' });
        return null;
      }
      this.metrics.refused.inc({ reason: 'read_only' });
      throw err;
    }
    if (update.length > YJS_LIMITS.maxUpdateBytes) {
      this.metrics.refused.inc({ reason: 'too_large' });
      throw new ChorusError('PAYLOAD_TOO_LARGE', `A Yjs update may be at most ${YJS_LIMITS.maxUpdateBytes} bytes; this one has ${update.length}. Nothing was stored.`);
    }
    const started = performance.now();
    const appended = await this.conflict.call('yjs.append', { caller, payload: { session_id: sessionId, doc_id: docId, update: Buffer.from(update).toString('base64') } });
    this.metrics.appendLatency.observe((performance.now() - started) / 1000);
    this.metrics.updates.inc({ outcome: appended.duplicate ? 'duplicate' : 'appended' });
    // Durable first, then the push: to every subscriber on every gateway, the sender included (for a stock
    // provider, which has no ack, its own update coming back is the sign that it is stored).
    if (!appended.duplicate) {
      this.push(sessionId, { to: 'document', doc_id: docId }, { type: 'yjs_message', session_id: sessionId, doc_id: docId, message: Buffer.from(encodeUpdate(update)).toString('base64'), seq: appended.seq });
    }
    return appended.seq;
  }

  /**
   * Whether a read-only connection's update holds nothing the document lacks: no struct beyond the stored state
   * vector (a viewer's step 2 answer has none unless it typed — or an editor's update reached it between the state
   * read and its answer), every deletion already in the document's delete set. Both are this node's (kept from the
   * first read-only sync, folded from the durable updates delivered since); a document whose subscriber became
   * read-only after its sync reads the state once from the conflict service. Never reads per keystroke. A wrong
   * "nothing" would only drop a viewer's edit untold (ignored is not stored): never store one.
   */
  private async addsNothing(doc: LocalDoc, caller: Caller, update: Uint8Array): Promise<boolean> {
    try {
      Y.parseUpdateMeta(update);
    } catch {
      return false; // not an update: refused as read-only like any other edit
    }
    if (doc.known === undefined) {
      const loaded = keepDeleteSet(doc);
      try {
        const state = await this.conflict.call('yjs.state', { caller, payload: { session_id: doc.sessionId, doc_id: doc.docId } });
        loaded(Buffer.from(state.update, 'base64'));
      } catch (err) {
        // Unknown: refused as an edit (counted read_only), the next one asks again.
        loaded(null);
        this.logger.warn(`yjs ${doc.docId}: the delete set could not be read: ${(err as Error).message}`, 'YjsDocs');
        return false;
      }
    }
    const known = doc.known;
    if (known === undefined) return false;
    // A read still under way (another viewer's sync): its state is part of the delete set.
    await known.ready;
    if (doc.known !== known || !this.fold(doc, known)) return false;
    try {
      return Y.snapshotContainsUpdate(new Y.Snapshot(known.ds, known.sv), update);
    } catch {
      return false;
    }
  }

  /**
   * Restores a version (docs/yjs.md "Version history", REST): the conflict service appends the restoring update
   * (durable: the ack), then it is pushed like any other update to every subscriber on every gateway, and the
   * restore is recorded in the session's audit trail (`yjs_version_restored`) before the caller is answered.
   */
  async restore(caller: Caller, sessionId: string, docId: string, version: number): Promise<YjsRestored> {
    const restored = await this.conflict.call('yjs.restore', { caller, payload: { session_id: sessionId, doc_id: docId, version } });
    if (restored.update !== null) {
      this.metrics.updates.inc({ outcome: 'appended' });
      this.push(sessionId, { to: 'document', doc_id: docId }, { type: 'yjs_message', session_id: sessionId, doc_id: docId, message: Buffer.from(encodeUpdate(Buffer.from(restored.update, 'base64'))).toString('base64'), seq: restored.seq });
    }
    if (restored.changed) await this.audit?.(sessionId, { kind: 'yjs_version_restored', doc_id: docId, version, seq: restored.seq, user_id: caller.user_id });
    return restored;
  }

  /**
   * Saves the current durable state as a version (docs/yjs.md "Version history", REST); a version stored by this
   * save is recorded in the session's audit trail (`yjs_version_saved`, durable, pushed to every member: the other
   * tabs' versions panels refresh on it) before the caller is answered. A retried save that stored nothing
   * (`created: false`) records nothing.
   */
  async saveVersion(caller: Caller, sessionId: string, docId: string, label: string | undefined): Promise<YjsVersionSaved> {
    const saved = await this.conflict.call('yjs.save_version', { caller, payload: { session_id: sessionId, doc_id: docId, ...(label !== undefined ? { label } : {}) } });
    if (saved.created) await this.audit?.(sessionId, { kind: 'yjs_version_saved', doc_id: docId, version: saved.version, label: saved.label, seq: saved.seq, user_id: caller.user_id });
    return saved;
  }

  /**
   * The server's sync step 1 from the durable state (its state vector): the client answers with step 2, i.e.
   * everything it has that is not stored. Sent to a /yjs/ socket whose user may edit again (promoted): what the
   * provider typed while read-only was refused, and later updates depend on it.
   */
  async serverStep1(caller: Caller, sessionId: string, docId: string): Promise<Uint8Array> {
    const state = await this.conflict.call('yjs.state', { caller, payload: { session_id: sessionId, doc_id: docId } });
    const doc = this.docs.get(keyOf(sessionId, docId));
    if (doc) this.noteHead(doc, state.seq);
    return encodeStep1(Y.encodeStateVectorFromUpdate(Buffer.from(state.update, 'base64')));
  }

  /** Awareness (any role: presence is not editing): checked, applied here, relayed to the document's subscribers. */
  private awareness(subscriber: YjsSubscriber, sessionId: string, docId: string, update: Uint8Array): void {
    const doc = this.subscribed(subscriber, sessionId, docId);
    if (update.length > YJS_LIMITS.maxAwarenessBytes) {
      this.metrics.refused.inc({ reason: 'too_large' });
      throw new ChorusError('PAYLOAD_TOO_LARGE', `An awareness message may be at most ${YJS_LIMITS.maxAwarenessBytes} bytes.`);
    }
    let entries: AwarenessEntry[];
    try {
      entries = readAwareness(update);
    } catch (err) {
      this.metrics.refused.inc({ reason: 'malformed' });
      throw ChorusError.validation('message', `not an awareness update (${(err as Error).message})`);
    }
    const mine = doc.subscribers.get(subscriber.id);
    for (const e of entries) {
      if (e.state === null) mine?.clients.delete(e.clientId);
      else mine?.clients.add(e.clientId);
    }
    applyAwarenessUpdate(doc.awareness, update, subscriber.id);
    this.push(sessionId, { to: 'document', doc_id: docId }, { type: 'yjs_message', session_id: sessionId, doc_id: docId, message: Buffer.from(encodeAwareness(update)).toString('base64'), seq: null });
  }

  /**
   * The hub's delivery of a `yjs_message` push to this node (the only writer of pushes): awareness is recorded for
   * late joiners here, and the frame is written once decoded to every binary socket (/yjs/, /hocuspocus) of the
   * document — updates coalesced per event-loop turn. Edge connections got the same push as JSON through the
   * document room.
   */
  deliver(message: ServerMessageOf<'yjs_message'>): void {
    const doc = this.docs.get(keyOf(message.session_id, message.doc_id));
    if (!doc) return;
    const frame = Buffer.from(message.message, 'base64');
    let decoded: YMessage | undefined;
    try {
      decoded = decodeMessage(frame);
      if (message.seq === null && decoded.kind === 'awareness') applyAwarenessUpdate(doc.awareness, decoded.update, 'remote');
    } catch (err) {
      // Checked by the gateway that relayed it: a failure here is a bug worth seeing, not a client's mistake.
      this.metrics.deliveryFailures.inc();
      this.logger.error(`yjs_message for ${message.doc_id} not applied: ${(err as Error).message}`, undefined, 'YjsDocs');
    }
    if (message.seq !== null) {
      doc.seqs.pushed(message.seq);
      this.watchGap(doc);
    }
    if (message.seq !== null && decoded?.kind === 'update') {
      // Durable updates arriving in one event-loop turn (a group commit answers many at once) go to each binary
      // socket as ONE update (Y.mergeUpdates), as Hocuspocus does: one frame per socket instead of one per update.
      doc.pending.push(decoded.update);
      doc.pendingBytes += decoded.update.length;
      if (doc.known) {
        doc.known.unfolded.push(decoded.update);
        doc.known.unfoldedBytes += decoded.update.length;
        if (doc.known.unfoldedBytes >= FOLD_MAX_BYTES) this.fold(doc, doc.known);
      }
      if (doc.pendingBytes >= FLUSH_MAX_BYTES) this.flush(doc);
      else doc.flush ??= setImmediate(() => this.flush(doc));
      return;
    }
    this.write(doc, frame);
  }

  /**
   * Folds the delivered updates into the document's known state. They were checked when stored: one Yjs cannot
   * decode is a bug, logged and counted; the document then keeps no state (the next read-only sync starts again).
   */
  private fold(doc: LocalDoc, known: KnownState): boolean {
    try {
      foldKnown(known);
      return true;
    } catch (err) {
      this.metrics.deliveryFailures.inc();
      this.logger.error(`yjs ${doc.docId}: the delete set could not be folded: ${(err as Error).message}`, undefined, 'YjsDocs');
      if (doc.known === known) doc.known = undefined;
      return false;
    }
  }

  /** Writes the coalesced updates of a document to its binary sinks. */
  private flush(doc: LocalDoc): void {
    if (doc.flush) clearImmediate(doc.flush);
    doc.flush = undefined;
    const updates = doc.pending;
    doc.pending = [];
    doc.pendingBytes = 0;
    if (updates.length === 0) return;
    let merged: Uint8Array;
    try {
      merged = updates.length === 1 ? updates[0] : Y.mergeUpdates(updates);
    } catch (err) {
      // Each was checked before it was stored: unmergeable is a bug; they still go out one by one.
      this.metrics.deliveryFailures.inc();
      this.logger.error(`yjs updates of ${doc.docId} not merged: ${(err as Error).message}`, undefined, 'YjsDocs');
      for (const u of updates) this.write(doc, encodeUpdate(u));
      return;
    }
    this.write(doc, encodeUpdate(merged));
  }

  private write(doc: LocalDoc, frame: Uint8Array): void {
    let frames = 0;
    for (const { subscriber } of doc.subscribers.values()) {
      if (!subscriber.sink) continue;
      subscriber.sink(frame);
      frames++;
    }
    this.metrics.framesOut.inc(frames);
  }

  /** The subscriber stops (yjs_leave, leaving the session, closing): its awareness states are removed everywhere. */
  unsubscribe(subscriber: YjsSubscriber, sessionId: string, docId: string): void {
    const key = keyOf(sessionId, docId);
    const doc = this.docs.get(key);
    const mine = doc?.subscribers.get(subscriber.id);
    if (!doc || !mine || mine.subscriber !== subscriber) return;
    doc.subscribers.delete(subscriber.id);
    subscriber.unsubscribe?.(sessionId, docId);
    const gone = [...mine.clients].filter((c) => doc.awareness.states.has(c));
    if (gone.length > 0) {
      removeAwarenessStates(doc.awareness, gone, 'closed');
      const update = encodeAwarenessUpdate(doc.awareness, gone);
      this.push(sessionId, { to: 'document', doc_id: docId }, { type: 'yjs_message', session_id: sessionId, doc_id: docId, message: Buffer.from(encodeAwareness(update)).toString('base64'), seq: null });
    }
    if (doc.subscribers.size === 0) {
      if (doc.flush) clearImmediate(doc.flush);
      clearTimeout(doc.gapTimer);
      doc.awareness.destroy();
      doc.awareness.doc.destroy();
      this.docs.delete(key);
    }
  }

  private noteHead(doc: LocalDoc, head: number): void {
    if (this.docs.get(keyOf(doc.sessionId, doc.docId)) !== doc) return;
    doc.seqs.read(head);
    this.watchGap(doc);
  }

  /** A hole in the seqs that reached this node: filled once it has lasted GAP_GRACE_MS. */
  private watchGap(doc: LocalDoc): void {
    if (!doc.seqs.gap || doc.gapTimer !== undefined || doc.filling) return;
    doc.gapTimer = setTimeout(() => void this.fillGap(doc), GAP_GRACE_MS);
    doc.gapTimer.unref();
  }

  /**
   * The hole lasted: an update is durable that no push brought here (its gateway died between the commit and the
   * push — every node that holds subscribers of the document fills its own). The stored state is read and written
   * to this node's subscribers of the document as one update: Yjs applies only what each lacks. Not fatal when it
   * fails: logged, counted, tried again after the grace.
   */
  private async fillGap(doc: LocalDoc): Promise<void> {
    doc.gapTimer = undefined;
    const live = () => this.docs.get(keyOf(doc.sessionId, doc.docId)) === doc;
    if (!live() || !doc.seqs.gap) return;
    const from = doc.seqs.missingFrom;
    doc.filling = true;
    try {
      const state = await this.conflict.call('yjs.state', { caller: GAP_READER, payload: { session_id: doc.sessionId, doc_id: doc.docId } });
      if (!live()) return;
      doc.seqs.filled(state.seq);
      this.metrics.gapFills.inc({ outcome: 'filled' });
      this.logger.warn(`yjs ${doc.docId}: seqs from ${from} never pushed here (lost with their gateway?): filled from the stored state at ${state.seq}`, 'YjsDocs');
      const update = Buffer.from(state.update, 'base64');
      this.local(doc.sessionId, { type: 'yjs_message', session_id: doc.sessionId, doc_id: doc.docId, message: Buffer.from(encodeUpdate(update)).toString('base64'), seq: state.seq });
    } catch (err) {
      this.metrics.gapFills.inc({ outcome: 'failed' });
      this.logger.warn(`yjs ${doc.docId}: a hole from seq ${from} not filled (tried again in ${GAP_GRACE_MS} ms): ${(err as Error).message}`, 'YjsDocs');
    } finally {
      doc.filling = false;
      if (live()) this.watchGap(doc);
    }
  }

  isSubscribed(subscriber: YjsSubscriber, sessionId: string, docId: string): boolean {
    return this.docs.get(keyOf(sessionId, docId))?.subscribers.get(subscriber.id)?.subscriber === subscriber;
  }

  /** Every document of a session the subscriber is in (it left the session or closed). */
  unsubscribeSession(subscriberId: string, sessionId: string): void {
    for (const doc of [...this.docs.values()]) {
      if (doc.sessionId !== sessionId) continue;
      const mine = doc.subscribers.get(subscriberId);
      if (mine) this.unsubscribe(mine.subscriber, sessionId, doc.docId);
    }
  }

  private subscribed(subscriber: YjsSubscriber, sessionId: string, docId: string): LocalDoc {
    const doc = this.docs.get(keyOf(sessionId, docId));
    if (!doc?.subscribers.has(subscriber.id)) {
      this.metrics.refused.inc({ reason: 'not_subscribed' });
      throw new ChorusError('VALIDATION_ERROR', `Send sync step 1 for ${docId} first: it subscribes this connection to the document.`, { field: 'message' });
    }
    return doc;
  }

  private docOf(sessionId: string, docId: string): LocalDoc {
    const key = keyOf(sessionId, docId);
    let doc = this.docs.get(key);
    if (!doc) {
      const scratch = new Y.Doc();
      const awareness = new Awareness(scratch);
      // This node has no state of its own: only the clients' states, expiring unless renewed (30 s).
      awareness.setLocalState(null);
      doc = { sessionId, docId, awareness, subscribers: new Map(), pending: [], pendingBytes: 0, flush: undefined, seqs: new YjsSeqs(), gapTimer: undefined, filling: false, known: undefined };
      this.docs.set(key, doc);
    }
    return doc;
  }
}

/**
 * Starts keeping the delete set of `doc` (empty, so pushes from now on are kept); the caller hands over the state it
 * read (a merged update), or null when the read failed (then the doc keeps none: the next read-only sync starts again).
 */
function keepDeleteSet(doc: LocalDoc): (state: Uint8Array | null) => void {
  let settle!: () => void;
  const known: KnownState = { ds: Y.createDeleteSet(), sv: new Map(), unfolded: [], unfoldedBytes: 0, ready: new Promise<void>((resolve) => (settle = resolve)) };
  doc.known = known;
  return (state) => {
    if (state !== null) known.unfolded.push(state);
    else if (doc.known === known) doc.known = undefined;
    settle();
  };
}

/** Folds the delivered updates into the known delete set (normalised: `snapshotContainsUpdate` compares them). */
function foldKnown(known: KnownState): void {
  if (known.unfolded.length === 0) return;
  const sets = [known.ds];
  for (const u of known.unfolded) {
    const { structs, ds } = Y.decodeUpdate(u);
    sets.push(ds);
    for (const s of structs) {
      const end = s.id.clock + s.length;
      if (end > (known.sv.get(s.id.client) ?? 0)) known.sv.set(s.id.client, end);
    }
  }
  known.ds = Y.mergeDeleteSets(sets);
  known.unfolded = [];
  known.unfoldedBytes = 0;
}

function keyOf(sessionId: string, docId: string): string {
  return `${sessionId}\u0000${docId}`;
}

/** The awareness states known here as one message, or undefined when there are none. */
function awarenessOf(doc: LocalDoc): Uint8Array | undefined {
  const clients = [...doc.awareness.states.keys()];
  return clients.length === 0 ? undefined : encodeAwareness(encodeAwarenessUpdate(doc.awareness, clients));
}

interface AwarenessEntry {
  readonly clientId: number;
  readonly state: unknown;
}

/** Decodes an awareness update completely (y-protocols would throw half-way, after applying a prefix). */
function readAwareness(update: Uint8Array): AwarenessEntry[] {
  const d = decoding.createDecoder(update);
  const n = decoding.readVarUint(d);
  if (n > 1_000) throw new Error(`${n} states in one update`);
  const entries: AwarenessEntry[] = [];
  for (let i = 0; i < n; i++) {
    const clientId = decoding.readVarUint(d);
    decoding.readVarUint(d);
    const state: unknown = JSON.parse(decoding.readVarString(d));
    entries.push({ clientId, state });
  }
  if (decoding.hasContent(d)) throw new Error('trailing bytes');
  return entries;
}
