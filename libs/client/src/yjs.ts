import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { ChorusError, type ServerMessageOf } from '@chorus/protocol';
import { TypedEmitter } from './emitter';
import type { ChorusSession } from './session';
import { addsNothing } from './yjs-step2';
import { YjsVersions } from './yjs-versions';

export { YjsVersions, yjsRestoreOf, yjsSaveOf, type YjsVersionRestored, type YjsVersionSavedEvent, type YjsVersionsEvents } from './yjs-versions';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;

export interface YjsProviderEvents {
  /** The first sync completed (the server's state is in the Y.Doc), and again after every resync. */
  synced: { synced: boolean };
  /** An update of this client is durable on the server (Postgres), under `seq`. */
  acked: { seq: number; update: Uint8Array };
  /** A message could not be sent or was refused (e.g. PERMISSION_DENIED for a viewer's edit); a resync follows. */
  error: { error: Error };
}

/**
 * `@chorus/client/yjs` (an entry of its own, so the core SDK does not pull in Yjs): a Yjs document of a Chorus
 * session, provider-like (the shape of y-websocket's WebsocketProvider): give it a Y.Doc,
 * edit the doc, and the provider syncs it with every other client of the document — SDK clients, stock y-websocket
 * providers on /yjs/, on any gateway. It speaks the same y-protocols messages as a provider, inside `yjs_sync`
 * requests of the session's connection (Socket.IO), so each update gets an ack once it is durable (`acked`).
 *
 * After a reconnect and rejoin the provider syncs again (step 1 both ways): whatever the server did not
 * acknowledge is sent again as part of the sync, so nothing is lost and nothing is stored twice.
 */
export class YjsProvider extends TypedEmitter<YjsProviderEvents> {
  readonly awareness: Awareness;
  /** This document's version history (yjs-versions.ts): list, all, save, get, doc, restore; `restored` live. */
  readonly versions: YjsVersions;
  private isSynced = false;
  /** connect() was called (syncs on events only from then on). */
  private started = false;
  private destroyed = false;
  private syncing: Promise<void> | null = null;
  /** A sync was asked for while one ran: run it again when it ends. */
  private again = false;
  /** Local updates not yet sent (merged into the next request), and whether one is in flight. */
  private pending: Uint8Array[] = [];
  private flushing = false;
  private readonly offSession: Array<() => void> = [];
  /** Whether the awareness was made here (then destroyed with the provider: it runs a timer). */
  private readonly ownAwareness: boolean;

  /**
   * @param options.awareness an awareness of your own (else one is made, and destroyed with the provider);
   *   `textName`: the Y.Text whose text `versions.get` returns (default `codemirror`).
   */
  constructor(
    private readonly session: ChorusSession,
    readonly docId: string,
    readonly doc: Y.Doc,
    options: { awareness?: Awareness; textName?: string } = {},
  ) {
    super();
    this.versions = new YjsVersions(session.client.rest, session.id, docId, options.textName);
    this.ownAwareness = options.awareness === undefined;
    this.awareness = options.awareness ?? new Awareness(doc);
    doc.on('update', this.onDocUpdate);
    this.awareness.on('update', this.onAwarenessUpdate);
    this.offSession.push(session.attachYjs(docId, this));
    this.offSession.push(session.on('joined', ({ rejoin }) => void (rejoin ? this.resync() : undefined)));
    this.offSession.push(session.on('event', (e) => this.versions.handleEvent(e)));
    // Someone may edit again (a role change to editor or owner, perhaps ours): sync, so what we typed while
    // read-only (refused then; later updates depend on it) is sent. Harmless for another's: nothing to send.
    this.offSession.push(
      session.on('event', (e) => {
        if (e.kind !== 'session_event' || e.message.event_type !== 'role_changed' || e.message.payload['to'] === 'viewer' || !this.started || this.session.state !== 'joined') return;
        void this.resync().catch((error: Error) => this.emit('error', { error }));
      }),
    );
  }

  get synced(): boolean {
    return this.isSynced;
  }

  /** Subscribes and syncs (sync step 1 both ways); resolves once the server's state is in the doc. */
  connect(): Promise<void> {
    this.started = true;
    return this.resync();
  }

  /** Resolves once synced (now or later). */
  whenSynced(): Promise<void> {
    if (this.isSynced) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.on('synced', ({ synced }) => {
        if (!synced) return;
        off();
        resolve();
      });
    });
  }

  /** Stops syncing: our awareness state is removed for everyone, the document left. The Y.Doc stays usable. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.doc.off('update', this.onDocUpdate);
    this.awareness.off('update', this.onAwarenessUpdate);
    for (const off of this.offSession) off();
    removeAwarenessStates(this.awareness, [this.doc.clientID], 'destroy');
    if (this.ownAwareness) this.awareness.destroy();
    // Leaving also removes our awareness for everyone (the gateway does it for a closed connection as well).
    if (this.session.state === 'joined') {
      await this.session.client.request('yjs_leave', { session_id: this.session.id, doc_id: this.docId }).catch((error: Error) => this.emit('error', { error }));
    }
  }

  /** @internal A `yjs_message` push for this document (an update already durable, or awareness). */
  handlePush(m: ServerMessageOf<'yjs_message'>): void {
    if (this.destroyed) return;
    this.read(fromBase64(m.message));
  }

  /**
   * One sync at a time; a sync asked for while one runs runs again after it (a rejoin during a sync that is failing
   * with the lost connection must still sync on the new one). Only the last attempt's failure is reported.
   */
  private resync(): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      let attempts = 0;
      try {
        do {
          this.again = false;
          try {
            await this.runSync();
          } catch (err) {
            // A retryable refusal (rate limit, a busy service) while still joined: again after a pause.
            const retry = err instanceof ChorusError && err.retryable && this.session.state === 'joined' && ++attempts < 20;
            if (retry) {
              this.again = true;
              await new Promise((resolve) => setTimeout(resolve, err.details.retry_after_ms ?? 200 * attempts));
            } else if (!this.again) throw err;
          }
        } while (this.again && !this.destroyed);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  private async runSync(): Promise<void> {
    this.isSynced = false;
    const step1 = encode((e) => {
      encoding.writeVarUint(e, MESSAGE_SYNC);
      syncProtocol.writeSyncStep1(e, this.doc);
    });
    const reply = await this.send(step1);
    // step 2 (what we lack) is applied; the server's step 1 gets our step 2 (what it lacks), acked when durable.
    let serverStep2: Uint8Array | null = null;
    for (const message of reply.messages) {
      const bytes = fromBase64(message);
      const part = syncPartOf(bytes);
      if (part?.kind === syncProtocol.messageYjsSyncStep2) serverStep2 = part.body;
      const answer = this.read(bytes);
      if (!answer) continue;
      // Yjs puts the whole delete set in every step 2: on a document with deletions our answer is never empty, even
      // when the server has everything. Not sent then: a viewer's would be refused (and the sync never complete),
      // an editor's would be a request for nothing.
      if (part?.kind === syncProtocol.messageYjsSyncStep1 && serverStep2 !== null && addsNothing(bodyOf(answer), serverStep2, part.body)) continue;
      try {
        const r = await this.send(answer);
        if (r.seq !== null) this.emit('acked', { seq: r.seq, update: bodyOf(answer) });
      } catch (err) {
        // Read-only (a viewer, or demoted): what we have that the server lacks (our own edits) is refused, but the
        // server's state is in the doc, so the read-only sync is complete. Reported; a promotion resyncs and sends it.
        if (!(err instanceof ChorusError && err.code === 'PERMISSION_DENIED')) throw err;
        this.emit('error', { error: err });
      }
    }
    const local = this.awareness.getLocalState();
    if (local !== null) await this.sendAwareness([this.doc.clientID]);
    this.isSynced = true;
    this.emit('synced', { synced: true });
  }

  /** Applies one y-protocols message from the server; returns the answer to send, if any (a step 2). */
  private read(bytes: Uint8Array): Uint8Array | undefined {
    const decoder = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_AWARENESS) {
      applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), this);
      return undefined;
    }
    if (type !== MESSAGE_SYNC) return undefined;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.readSyncMessage(decoder, encoder, this.doc, this);
    return encoding.length(encoder) > 1 ? encoding.toUint8Array(encoder) : undefined;
  }

  /**
   * Local updates while one is in flight are merged into the next request (as a provider batches keystrokes): one
   * request at a time per document, whatever the typing speed, so a fast typist stays inside the rate limit.
   */
  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this || this.destroyed) return;
    this.pending.push(update);
    if (!this.flushing) void this.flush();
  };

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0 && !this.destroyed) {
        const batch = this.pending;
        this.pending = [];
        const merged = batch.length === 1 ? batch[0] : Y.mergeUpdates(batch);
        const message = encode((e) => {
          encoding.writeVarUint(e, MESSAGE_SYNC);
          syncProtocol.writeUpdate(e, merged);
        });
        try {
          const r = await this.send(message);
          if (r.seq !== null) for (const update of batch) this.emit('acked', { seq: r.seq, update });
        } catch (err) {
          // Not acknowledged: the next sync (now, or after the rejoin) carries these in our step 2.
          this.emit('error', { error: err as Error });
          if (this.session.state === 'joined') void this.resync().catch((error: Error) => this.emit('error', { error }));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private readonly onAwarenessUpdate = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => {
    if (origin === this || this.destroyed) return;
    void this.sendAwareness([...added, ...updated, ...removed]).catch((error: Error) => this.emit('error', { error }));
  };

  private async sendAwareness(clients: number[]): Promise<void> {
    await this.send(
      encode((e) => {
        encoding.writeVarUint(e, MESSAGE_AWARENESS);
        encoding.writeVarUint8Array(e, encodeAwarenessUpdate(this.awareness, clients));
      }),
    );
  }

  private send(message: Uint8Array): Promise<ServerMessageOf<'yjs_sync_reply'>> {
    return this.session.client.request('yjs_sync', { session_id: this.session.id, doc_id: this.docId, message: toBase64(message) });
  }
}

// base64 without Node's Buffer (this entry runs in browsers too): btoa/atob, in chunks below the argument limit.
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The sync message type (step 1 / step 2 / update) and its body (a state vector or an update), or null. */
function syncPartOf(message: Uint8Array): { kind: number; body: Uint8Array } | null {
  const d = decoding.createDecoder(message);
  if (decoding.readVarUint(d) !== MESSAGE_SYNC) return null;
  const kind = decoding.readVarUint(d);
  return { kind, body: decoding.readVarUint8Array(d) };
}

/** The update inside a sync message (type, sync type, then the bytes). */
function bodyOf(message: Uint8Array): Uint8Array {
  const d = decoding.createDecoder(message);
  decoding.readVarUint(d);
  decoding.readVarUint(d);
  return decoding.readVarUint8Array(d);
}

function encode(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}
