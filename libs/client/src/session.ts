import { ChorusError, type IceCandidate, type Participant, type PresenceView, type ServerMessage, type ServerMessageOf } from '@chorus/protocol';
import { backoffDelay } from './backoff';
import { SessionChannels } from './channels';
import type { ChorusClient } from './client';
import { ChorusDocument, type DocumentLock } from './document';
import { TypedEmitter } from './emitter';
import { ClientClosedError } from './errors';
import { toChat, type ChatMessage, type DurableEvent } from './durable';
import { historyPushes, type DurablePush } from './history-events';
import { PresenceStore } from './presence';
import { PresenceSender, type PresencePatch } from './presence-sender';
import { SessionFiles } from './files';
import { SessionPrompts } from './prompts';
import { randomId } from './random-id';
import { SeqWindow } from './seq-window';

/** Options of one session. */
export interface SessionOptions {
  /**
   * Where join tokens come from: a token, or a provider called for the first join and again whenever the token
   * is refused or near its expiry. Default: `POST /api/v1/collaboration/sessions/:id/join` with the access token.
   */
  joinToken?: string | ((sessionId: string) => Promise<string>);
  /** The session password, for the default join token provider. */
  password?: string;
  /**
   * Resume from a stored position: every durable event after it is delivered (replayed, or paged over REST when
   * too far behind). Default: a fresh join, which starts live.
   */
  lastSeq?: number;
}

/** The voice pushes a session passes on (`voice` event). */
/** The file sync pushes a session passes on (`files` event; docs/file-sync.md, file-sync.ts helpers). */
export type FilesPush = ServerMessageOf<'request_file_manifest' | 'request_files' | 'file_manifest' | 'files_chunk' | 'file_data' | 'file_host'>;
export type VoicePush = ServerMessageOf<'voice_user_joined' | 'voice_user_left' | 'voice_member_updated' | 'voice_speaking' | 'voice_offer' | 'voice_answer' | 'voice_ice'>;

/** A WebRTC signal for one peer of this peer's voice room. */
export type VoiceSignal = { kind: 'offer' | 'answer'; sdp: string } | { kind: 'ice'; candidate: IceCandidate };

/** Where the session is: `idle` (not joined yet), `joining` (a join or rejoin is under way), `joined`, `ended`. */
export type SessionState = 'idle' | 'joining' | 'joined' | 'ended';

/** Events of {@link ChorusSession}. */
export interface ChorusSessionEvents {
  /** Joined (or rejoined after a reconnect): the participants and the stream position. */
  joined: { participants: Participant[]; seq: number; recovered: boolean; rejoin: boolean };
  /** Every durable event, once, in order (chat, peers, other session events). */
  event: DurableEvent;
  /** A chat message (also in `event`), including this client's own once acknowledged. */
  chat: ChatMessage;
  /** A chat message's text was edited (also in `event`), including by this client once acknowledged. */
  chat_edited: { seq: number; message: string; userId: string; editedAt: number };
  /** A chat message was deleted (also in `event`): drop its text, show a tombstone. */
  chat_deleted: { seq: number; userId: string; deletedBy: string; deletedAt: number };
  /**
   * A voice push: a member joined, left, muted or is speaking, or a WebRTC signal (offer, answer, ICE candidate)
   * relayed to this peer by a member of its room (`from_peer_id`).
   */
  voice: VoicePush;
  /** A file sync push: a request to this host, a manifest or chunk for this guest, the file host changed. */
  files: FilesPush;
  /** The presence store changed (`session.presence`). */
  presence: { peers: readonly PresenceView[] };
  /** The session's file locks changed (`locks()`): for lock indicators on files that are not open. */
  locks: { locks: ReadonlyMap<string, DocumentLock> };
  /** Someone started or stopped typing. */
  typing: { peerId: string; userId: string; docId: string | null; typing: boolean };
  /** The session ended for this client: removed, deleted, left, or the client closed. */
  ended: { reason: string; error?: ChorusError };
  /** A failure the session could not recover from by itself (e.g. a rejoin refused for good). */
  error: ChorusError;
}

/**
 * One session, joined through the client's connection and kept joined across reconnects:
 *   - join tokens fetched (and renewed when refused) through REST or the given provider;
 *   - `lastSeq` kept from pushes, chat acks and `joined`; a rejoin sends it, the server replays what was missed;
 *     `recovered: false` pages the history over REST; live pushes that arrive meanwhile wait, so the app sees
 *     no gap and no duplicate (every durable event is delivered once, by seq);
 *   - chat with a `client_msg_id` per message, resent with the same key after a lost ack (never duplicated);
 *   - presence rebuilt after every rejoin (`presence_update` of our own state, then `who`);
 *   - documents reopened after every rejoin (see ChorusDocument).
 */
export class ChorusSession extends TypedEmitter<ChorusSessionEvents> {
  /** Everyone's presence in this session. */
  readonly presence = new PresenceStore();
  /** The prompt queue and the agents' live activity (docs/agents.md). */
  readonly prompts: SessionPrompts;
  /** Per-file path rules and recorded conflicts (docs/files.md). */
  readonly files: SessionFiles;
  /** The session's channels: subscribe, unsubscribe, publish (kept subscribed across reconnects). */
  readonly channels: SessionChannels;

  private currentState: SessionState = 'idle';
  private wanted = false;
  private joinedOnce = false;
  private participantList: Participant[] = [];
  private seqs: SeqWindow;
  private lastSeqKnown: boolean;
  private recovering = false;
  private held: ServerMessage[] = [];
  private joinToken: string | null = null;
  private joinTokenRenewAt = Number.POSITIVE_INFINITY;
  private joining: Promise<void> | null = null;
  private readonly waiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  private readonly documents = new Map<string, ChorusDocument>();
  /** Yjs documents of this session (yjs.ts), by doc id. */
  private readonly yjsDocs = new Map<string, { handlePush(m: ServerMessageOf<'yjs_message'>): void }>();
  private readonly lockMap = new Map<string, DocumentLock>();
  private readonly own = new PresenceSender(async (patch) => {
    await this.ready();
    await this.client.request('presence_update', { session_id: this.id, ...patch });
  });
  private endedError: ChorusError | null = null;
  private duplicates = 0;

  constructor(
    /** The client this session runs on. */
    readonly client: ChorusClient,
    /** The session id (a UUID). */
    readonly id: string,
    private readonly options: SessionOptions = {},
  ) {
    super();
    this.seqs = new SeqWindow(options.lastSeq ?? 0);
    this.lastSeqKnown = options.lastSeq !== undefined;
    if (typeof options.joinToken === 'string') this.joinToken = options.joinToken;
    this.prompts = new SessionPrompts(client, id, () => this.ready());
    this.files = new SessionFiles(client, id, () => this.ready());
    this.channels = new SessionChannels(client, id, () => this.ready());
  }

  /** The session state. */
  get state(): SessionState {
    return this.currentState;
  }

  /** The highest session `seq` delivered or acknowledged: what a rejoin sends as `last_seq`. */
  get lastSeq(): number {
    return this.seqs.high;
  }

  /** The participants as of the last `joined`. */
  get participants(): readonly Participant[] {
    return this.participantList;
  }

  /** Durable events received twice (a replay overlapping a live push) and dropped: never delivered twice. */
  get duplicatesDropped(): number {
    return this.duplicates;
  }

  /** Joins (or waits for the join under way) and resolves once joined. Rejects if the session ends first. */
  join(): Promise<void> {
    if (this.endedError) return Promise.reject(this.endedError);
    this.wanted = true;
    if (this.currentState === 'joined') return Promise.resolve();
    const joined = this.ready();
    if (this.client.state === 'connected') void this.startJoin();
    else void this.client.connect().catch((err: unknown) => this.client.warn(`connect for session ${this.id} failed`, err));
    return joined;
  }

  /** Leaves the session (`leave`), closes its documents and stops rejoining it. */
  async leave(): Promise<void> {
    this.wanted = false;
    if (this.client.state === 'connected' && this.currentState === 'joined') await this.client.request('leave', { session_id: this.id });
    this.end('left');
  }

  /** Resolves when joined (now, or after the current join or rejoin). */
  ready(): Promise<void> {
    if (this.endedError) return Promise.reject(this.endedError);
    if (this.currentState === 'joined') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => (this.waiters.delete(waiter), resolve()),
        reject: (e: Error) => (this.waiters.delete(waiter), reject(e)),
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * Sends a chat message and resolves with it as stored (its `seq` and server timestamp). Idempotent: the message
   * carries a `client_msg_id` (generated unless given), and after a lost ack, UNAVAILABLE or a reconnect it is
   * resent with the same key — the server answers a resend with the original, so it is stored and delivered once.
   */
  async sendChat(message: string, options: { clientMsgId?: string } = {}): Promise<ChatMessage> {
    const client_msg_id = options.clientMsgId ?? randomId(this.client.random);
    for (let attempt = 0; ; attempt++) {
      await this.ready();
      try {
        const reply = await this.client.request('chat_message', { session_id: this.id, message, client_msg_id });
        const chat = toChat(reply, this.client.peerId);
        if (this.seqs.mark(reply.seq)) this.deliver({ kind: 'chat', seq: reply.seq, chat });
        return chat;
      } catch (err) {
        if (!(err instanceof ChorusError) || !err.retryable || err instanceof ClientClosedError || attempt >= 50) throw err;
        this.client.warn(`chat_message ${client_msg_id}: ${err.code}, resending with the same client_msg_id`, err);
        await sleep(err.details.retry_after_ms ?? backoffDelay(attempt, this.client.random, { initialDelayMs: 100, maxDelayMs: 5_000 }));
      }
    }
  }

  /**
   * Replaces the text of one of this user's chat messages (`seq`: its `ChatMessage.seq`). Resolves with the
   * stored edit; the server answers a resend of the same text with the same edit, so a retryable failure is
   * retried (after a reconnect too). PERMISSION_DENIED: not the author; NOT_FOUND: no such message, or deleted.
   */
  async editChat(seq: number, message: string): Promise<ServerMessageOf<'message_update'>> {
    return this.retried(`chat_edit ${seq}`, async () => {
      const reply = await this.client.request('chat_edit', { session_id: this.id, seq, message });
      if (this.seqs.mark(reply.seq)) this.deliver({ kind: 'message_update', seq: reply.seq, message: reply });
      return reply;
    });
  }

  /**
   * Deletes a chat message: one's own, or anyone's as owner or admin. Idempotent (a repeat answers the first
   * deletion), so a retryable failure is retried.
   */
  async deleteChat(seq: number): Promise<ServerMessageOf<'message_delete'>> {
    return this.retried(`chat_delete ${seq}`, async () => {
      const reply = await this.client.request('chat_delete', { session_id: this.id, seq });
      if (this.seqs.mark(reply.seq)) this.deliver({ kind: 'message_delete', seq: reply.seq, message: reply });
      return reply;
    });
  }

  /**
   * Joins a voice room of the session (`default` unless named): resolves with its members and this user's ICE
   * servers (for `new RTCPeerConnection({ iceServers })`). Idempotent. After a reconnect the membership is gone
   * with the old connection (the others saw `voice_user_left`): join again.
   */
  async joinVoice(options: { room?: string; muted?: boolean } = {}): Promise<ServerMessageOf<'voice_joined'>> {
    await this.ready();
    return this.client.request('voice_join', { session_id: this.id, ...(options.room !== undefined ? { room: options.room } : {}), ...(options.muted !== undefined ? { muted: options.muted } : {}) });
  }

  async leaveVoice(): Promise<ServerMessageOf<'voice_left'>> {
    await this.ready();
    return this.client.request('voice_leave', { session_id: this.id });
  }

  /** Sends an offer, answer or ICE candidate to one peer of this peer's voice room (PERMISSION_DENIED otherwise). */
  async signal(toPeerId: string, signal: VoiceSignal): Promise<void> {
    await this.ready();
    if (signal.kind === 'ice') await this.client.request('voice_ice', { session_id: this.id, to_peer_id: toPeerId, candidate: signal.candidate });
    else if (signal.kind === 'offer') await this.client.request('voice_offer', { session_id: this.id, to_peer_id: toPeerId, sdp: signal.sdp });
    else await this.client.request('voice_answer', { session_id: this.id, to_peer_id: toPeerId, sdp: signal.sdp });
  }

  async setMuted(muted: boolean): Promise<ServerMessageOf<'voice_member_updated'>> {
    await this.ready();
    return this.client.request(muted ? 'voice_mute' : 'voice_unmute', { session_id: this.id });
  }

  /** Tells the room whether this peer is speaking (send it when your voice-activity detection changes). */
  async setSpeaking(speaking: boolean): Promise<void> {
    await this.ready();
    await this.client.request('voice_speaking', { session_id: this.id, speaking });
  }

  /** Runs an idempotent request once joined, again after a retryable failure (with backoff), up to 50 times. */
  private async retried<T>(what: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.ready();
      try {
        return await run();
      } catch (err) {
        if (!(err instanceof ChorusError) || !err.retryable || err instanceof ClientClosedError || attempt >= 50) throw err;
        this.client.warn(`${what}: ${err.code}, resending`, err);
        await sleep(err.details.retry_after_ms ?? backoffDelay(attempt, this.client.random, { initialDelayMs: 100, maxDelayMs: 5_000 }));
      }
    }
  }

  /**
   * Reports where this client is (send only what changed; `selection` in code points — see `selectionFromUtf16`).
   * Call it on every cursor move: updates are coalesced (the latest value of each field wins) and sent at most
   * every 50 ms — the server's own batching rate — so a fast typist stays far below the presence rate limit.
   * Resolves when the coalesced update carrying this patch is acknowledged. Remembered, and sent again after
   * every rejoin.
   */
  setPresence(patch: PresencePatch): Promise<void> {
    return this.own.update(patch);
  }

  /**
   * Starts (or keeps) the typing indicator; it expires by itself after 5 s without a repeat. Call it on every
   * keystroke: a repeat for the same document within 2 s is not sent again.
   */
  async typing(docId: string | null = null): Promise<void> {
    if (!this.own.shouldSendTyping(docId)) return;
    await this.ready();
    await this.client.request('typing', { session_id: this.id, doc_id: docId });
  }

  /** Clears the typing indicator. */
  async stopTyping(): Promise<void> {
    this.own.typingStopped();
    await this.ready();
    await this.client.request('stop_typing', { session_id: this.id });
  }

  /** Asks the server for everyone's presence and replaces the store with it. */
  async refreshPresence(): Promise<readonly PresenceView[]> {
    await this.ready();
    const list = await this.client.request('who', { session_id: this.id });
    this.presence.reset(list.peers);
    this.emit('presence', { peers: this.presence.peers() });
    return list.peers;
  }

  /** Opens a shared document (one object per doc id) and resolves once its text and version are loaded. */
  async document(docId: string): Promise<ChorusDocument> {
    let doc = this.documents.get(docId);
    if (!doc) {
      doc = new ChorusDocument(this, docId);
      this.documents.set(docId, doc);
    }
    await doc.opened();
    return doc;
  }

  /**
   * Stops this document's op pushes (`close_document`) and forgets it here: it is no longer reopened after a
   * rejoin. `document(docId)` opens it again. Edits not yet acknowledged are dropped with it.
   */
  async closeDocument(docId: string): Promise<void> {
    this.documents.get(docId)?.sessionEnded(new ChorusError('CONFLICT', `document ${docId} was closed: open it again with session.document(id)`));
    this.documents.delete(docId);
    await this.ready();
    await this.client.request('close_document', { session_id: this.id, doc_id: docId });
  }

  /**
   * Every live file lock of the session as last known (doc id → lock): from `joined.locks` on every (re)join, then
   * `file_locked` / `file_unlocked` and our own lock calls. Locks past their `expiresAt` are left out. When the
   * session holds more than `joined` lists (500), a document's own `lock` is the authority.
   */
  locks(): ReadonlyMap<string, DocumentLock> {
    const now = Date.now();
    for (const [docId, lock] of this.lockMap) if (Date.parse(lock.expiresAt) <= now) this.lockMap.delete(docId);
    return new Map(this.lockMap);
  }

  /** @internal A document's lock changed (a push, a reply, an open). */
  noteLock(docId: string, lock: DocumentLock | null): void {
    const known = this.lockMap.get(docId);
    if (lock === null ? known === undefined : known?.holderId === lock.holderId && known.peerId === lock.peerId && known.expiresAt === lock.expiresAt) return;
    if (lock === null) this.lockMap.delete(docId);
    else this.lockMap.set(docId, lock);
    this.emit('locks', { locks: this.locks() });
  }

  /** @internal A Yjs provider (yjs.ts) receives its document's pushes; returns the detach. */
  attachYjs(docId: string, provider: { handlePush(m: ServerMessageOf<'yjs_message'>): void }): () => void {
    this.yjsDocs.set(docId, provider);
    return () => {
      if (this.yjsDocs.get(docId) === provider) this.yjsDocs.delete(docId);
    };
  }

  /** @internal The documents open in this session. */
  openDocuments(): ChorusDocument[] {
    return [...this.documents.values()];
  }

  /** @internal The client (re)connected: rejoin when wanted. */
  connectionRestored(): void {
    if (this.wanted && !this.endedError) void this.startJoin();
  }

  /** @internal The connection was lost: wait for the rejoin. */
  connectionLost(): void {
    if (this.currentState === 'joined' || this.currentState === 'joining') this.currentState = 'joining';
    this.joining = null;
    this.recovering = false;
    this.held = [];
    this.channels.connectionLost();
  }

  /** @internal The client closed for good. */
  clientClosed(error: ChorusError): void {
    this.end(error.message, error);
  }

  /** @internal A push for this session. */
  handlePush(m: ServerMessage): void {
    switch (m.type) {
      case 'chat_message':
      case 'message_update':
      case 'message_delete':
      case 'peer_joined':
      case 'peer_left':
      case 'session_event':
        if (this.recovering) this.held.push(m);
        else this.durable(m);
        return;
      case 'presence_update': {
        const { type: _type, id: _id, ...view } = m;
        this.presence.put(view);
        this.emit('presence', { peers: this.presence.peers() });
        return;
      }
      case 'presence_batch':
        for (const view of m.peers) this.presence.put(view);
        this.emit('presence', { peers: this.presence.peers() });
        return;
      case 'presence_left':
        if (this.presence.remove(m.peer_id)) this.emit('presence', { peers: this.presence.peers() });
        return;
      case 'typing_start':
      case 'typing_stop': {
        const typing = m.type === 'typing_start';
        this.presence.setTyping(m.peer_id, typing ? { doc_id: m.doc_id } : null);
        this.emit('typing', { peerId: m.peer_id, userId: m.user_id, docId: m.doc_id, typing });
        return;
      }
      case 'file_locked':
      case 'file_unlocked':
        this.noteLock(m.doc_id, m.type === 'file_locked' ? { holderId: m.holder_id, peerId: m.peer_id, expiresAt: m.expires_at } : null);
        this.documents.get(m.doc_id)?.handlePush(m);
        return;
      case 'op':
      case 'conflict_detected':
        this.files.handlePush(m);
        this.documents.get(m.doc_id)?.handlePush(m);
        return;
      case 'yjs_message':
        this.yjsDocs.get(m.doc_id)?.handlePush(m);
        return;
      case 'event':
        this.channels.handlePush(m);
        return;
      case 'voice_user_joined':
      case 'voice_user_left':
      case 'voice_member_updated':
      case 'voice_speaking':
      case 'voice_offer':
      case 'voice_answer':
      case 'voice_ice':
        this.emit('voice', m);
        return;
      case 'request_file_manifest':
      case 'request_files':
      case 'file_manifest':
      case 'files_chunk':
      case 'file_data':
      case 'file_host':
        this.emit('files', m);
        return;
      default:
        if (!this.prompts.handlePush(m)) this.files.handlePush(m);
        return;
    }
  }

  private durable(m: DurablePush): void {
    if (!this.seqs.mark(m.seq)) {
      this.duplicates++;
      return;
    }
    if (m.type === 'chat_message') this.deliver({ kind: 'chat', seq: m.seq, chat: toChat(m, this.client.peerId) });
    else if (m.type === 'message_update') this.deliver({ kind: 'message_update', seq: m.seq, message: m });
    else if (m.type === 'message_delete') this.deliver({ kind: 'message_delete', seq: m.seq, message: m });
    else if (m.type === 'peer_joined') this.deliver({ kind: 'peer_joined', seq: m.seq, message: m });
    else if (m.type === 'peer_left') this.deliver({ kind: 'peer_left', seq: m.seq, message: m });
    else this.deliver({ kind: 'session_event', seq: m.seq, message: m });
  }

  private deliver(event: DurableEvent): void {
    this.emit('event', event);
    if (event.kind === 'chat') this.emit('chat', event.chat);
    else if (event.kind === 'message_update') {
      const m = event.message;
      this.emit('chat_edited', { seq: m.message_seq, message: m.message, userId: m.user_id, editedAt: m.edited_at });
    } else if (event.kind === 'message_delete') {
      const m = event.message;
      this.emit('chat_deleted', { seq: m.message_seq, userId: m.user_id, deletedBy: m.deleted_by, deletedAt: m.deleted_at });
    }
  }

  private startJoin(): Promise<void> {
    this.joining ??= this.runJoin().finally(() => (this.joining = null));
    return this.joining;
  }

  private async runJoin(): Promise<void> {
    this.currentState = 'joining';
    const rejoin = this.joinedOnce;
    for (let attempt = 0; this.wanted && !this.endedError; attempt++) {
      try {
        const join_token = await this.token(attempt > 0);
        const last_seq = this.lastSeqKnown ? this.seqs.high : undefined;
        // From here until the join is processed, durable pushes (the replay, and live events that may overtake
        // the ack) are held, then delivered in seq order after any history paged over REST.
        this.recovering = true;
        this.held = [];
        const reply = await this.client.request('join', { session_id: this.id, peer_id: this.client.peerId, join_token, ...(last_seq !== undefined ? { last_seq } : {}) });
        await this.joined(reply, last_seq, rejoin);
        return;
      } catch (err) {
        this.recovering = false;
        this.held = [];
        const error = ChorusError.from(err);
        if (err instanceof ClientClosedError) return;
        if (err instanceof ChorusError && err.name === 'ConnectionLostError') return; // the reconnect rejoins
        if (error.code === 'UNAUTHENTICATED' && attempt === 0) {
          this.joinToken = null;
          continue;
        }
        if (!error.retryable) {
          this.emit('error', error);
          this.end(`join refused: ${error.code} ${error.message}`, error);
          return;
        }
        this.client.warn(`join ${this.id}: ${error.code}, retrying`, err);
        await sleep(error.details.retry_after_ms ?? backoffDelay(attempt, this.client.random));
        if (this.client.state !== 'connected') return;
      }
    }
  }

  private async joined(reply: ServerMessageOf<'joined'>, lastSeq: number | undefined, rejoin: boolean): Promise<void> {
    this.participantList = reply.participants;
    // Lock pushes are never replayed: every (re)join replaces the whole lock state with `joined.locks`.
    if (reply.locks !== undefined) {
      this.lockMap.clear();
      for (const l of reply.locks) this.lockMap.set(l.doc_id, { holderId: l.holder_id, peerId: l.peer_id, expiresAt: l.expires_at });
      this.emit('locks', { locks: this.locks() });
    }
    if (!reply.recovered && lastSeq !== undefined && lastSeq < reply.seq) await this.pageHistory(lastSeq, reply.seq);
    // A last_seq ahead of the stream (a stored position from another incarnation of the session) is worthless:
    // start over from the server's position rather than send it again on every rejoin.
    if (!reply.recovered && lastSeq !== undefined && lastSeq > reply.seq) this.seqs = new SeqWindow(reply.seq);
    this.recovering = false;
    const held = this.held.sort((x, y) => seqOf(x) - seqOf(y));
    this.held = [];
    for (const m of held) this.handlePush(m);
    // Everything up to joined.seq is now delivered, or ours (our own peer_joined is never pushed to us).
    this.seqs.advanceTo(reply.seq);
    this.lastSeqKnown = true;
    this.joinedOnce = true;
    this.currentState = 'joined';
    this.emit('joined', { participants: reply.participants, seq: reply.seq, recovered: reply.recovered, rejoin });
    for (const w of [...this.waiters]) w.resolve();
    await this.afterJoin();
  }

  /** History over REST, (from, to], through the same once-by-seq filter as pushes. */
  private async pageHistory(from: number, to: number): Promise<void> {
    for (const m of await historyPushes(this.client.rest, this.id, from, to, this.client.peerId)) this.durable(m);
  }

  /** After every (re)join: our presence again, everyone's presence, the documents reopened. */
  private async afterJoin(): Promise<void> {
    const tasks: Array<Promise<unknown>> = [];
    if (Object.keys(this.own.state).length > 0) tasks.push(this.client.request('presence_update', { session_id: this.id, ...this.own.state }));
    tasks.push(this.refreshPresence());
    for (const doc of this.documents.values()) tasks.push(doc.resume());
    tasks.push(this.channels.resume());
    const results = await Promise.allSettled(tasks);
    for (const r of results) if (r.status === 'rejected') this.client.warn(`after joining ${this.id}: a resync step failed`, r.reason);
  }

  private async token(refresh: boolean): Promise<string> {
    if (this.joinToken !== null && !refresh && Date.now() < this.joinTokenRenewAt) return this.joinToken;
    const provider = this.options.joinToken;
    if (typeof provider === 'function') this.joinToken = await provider(this.id);
    else if (typeof provider === 'string' && !refresh) this.joinToken = provider;
    else {
      const grant = await this.client.rest.joinToken(this.id, this.options.password);
      this.joinToken = grant.join_token;
      // Renewed a minute before it expires (or at 80% of a short life), so a rejoin rarely meets a stale one.
      this.joinTokenRenewAt = Date.now() + Math.max(grant.expires_in_s * 800, (grant.expires_in_s - 60) * 1_000);
    }
    return this.joinToken;
  }

  private end(reason: string, error?: ChorusError): void {
    if (this.endedError) return;
    this.endedError = error ?? new ChorusError('NOT_FOUND', `session ${this.id} ended: ${reason}`);
    this.currentState = 'ended';
    this.wanted = false;
    this.own.cancel(this.endedError);
    for (const w of [...this.waiters]) w.reject(this.endedError);
    for (const doc of this.documents.values()) doc.sessionEnded(this.endedError);
    this.client.forget(this.id);
    this.emit('ended', { reason, ...(error ? { error } : {}) });
  }

  /** @internal A disconnect notice named this session (removed, deleted). */
  endedByServer(reason: string): void {
    this.end(reason, new ChorusError('PERMISSION_DENIED', reason));
  }
}

function seqOf(m: ServerMessage): number {
  return 'seq' in m && typeof m.seq === 'number' ? m.seq : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
