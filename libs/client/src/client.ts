import {
  ChorusError,
  type AckOf,
  type ClientMessageType,
  type ClientPayload,
  type DisconnectNotice,
  type ErrorMessage,
  type ReplyOf,
  type ServerMessage,
  type ServerMessageOf,
} from '@chorus/protocol';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { reconnectStep, type BackoffOptions, type ConnectionEnd } from './backoff';
import { TypedEmitter } from './emitter';
import { ClientClosedError, ConnectionLostError, RequestTimeoutError } from './errors';
import { randomId } from './random-id';
import { ChorusRest } from './rest';
import { SessionAdmin } from './session-admin';
import { ChorusSession, type SessionOptions } from './session';
import { socketIoWire } from './socketio-wire';
import type { Wire, WireFactory } from './wire';
import { wsWire, type WsTransportOptions } from './ws-wire';

export type { ChorusSocket } from './socketio-wire';

/**
 * The transport: `socket.io` (the default), or `websocket` — a plain WebSocket to the gateway's `/ws` (the
 * browser's `WebSocket`; in Node the `ws` package's class passed as `WebSocket`, or Node's global one). Same API,
 * same recovery on both.
 */
export type ChorusTransport = 'socket.io' | 'websocket' | ({ kind: 'websocket' } & WsTransportOptions);

/** Connection state: `connecting` (first attempt), `connected` (hello received), `reconnecting`, `closed`. */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Options of {@link ChorusClient}. */
export interface ChorusClientOptions {
  /**
   * The gateway base URL, or several: after a lost connection or a failed attempt the client moves to the next
   * one (behind a load balancer, one URL is enough).
   */
  url: string | readonly string[];
  /**
   * The access token, or a provider called before every connection attempt (so a reconnect gets a fresh one)
   * and, `tokenRefreshMarginMs` before the connection's token expires (hello's `token_expires_at`), for a
   * `reauth` that keeps the connection open past the expiry.
   */
  token: string | (() => string | Promise<string>);
  /** How long before the token's expiry a provider's fresh token is sent with `reauth` (default 30 s; at most half its remaining life). */
  tokenRefreshMarginMs?: number;
  /** This client's peer id in every session it joins (default: random per client). One per tab or process. */
  peerId?: string;
  /** Reconnect timing (jittered exponential backoff). */
  backoff?: BackoffOptions;
  /**
   * `false`: one connection only — the first connection that ends (or a first attempt that fails) closes the
   * client for good (`closed`, with the refusal's `error` when there was one), whatever the disconnect code
   * allows. For tests and tools that watch exactly one connection; apps keep the default (`true`).
   */
  reconnect?: boolean;
  /** Deadline of one request's ack (default 15 s). */
  requestTimeoutMs?: number;
  /**
   * Liveness check of an open connection: a `ping` every `intervalMs` (default 10 s); no `pong` within
   * `timeoutMs` (default 5 s) closes it and reconnects. A half-open connection (a NAT that dropped it, a
   * laptop that slept) is then found within seconds, not after Socket.IO's own 45 s. `false` turns it off.
   */
  heartbeat?: { intervalMs?: number; timeoutMs?: number } | false;
  /** The transport (default `socket.io`). */
  transport?: ChorusTransport;
  /** Extra socket.io-client options (e.g. `transports`). `auth`, `reconnection` and `forceNew` are the SDK's. */
  socket?: Partial<ManagerOptions & SocketOptions>;
  /** `fetch` for REST (default: the global one). */
  fetch?: typeof fetch;
  /** Random source of the jitter and of generated ids (default `Math.random`): seed it in tests. */
  random?: () => number;
  /** Where failures the SDK handled itself are reported (default: `console.warn`). Never silent. */
  onWarning?: (message: string, error?: unknown) => void;
}

/** Events of {@link ChorusClient}. */
export interface ChorusClientEvents {
  /** The connection state changed. */
  state: { state: ConnectionState };
  /** A connection was established: the server's `hello` (node id, limits). Also after every reconnect. */
  hello: ServerMessageOf<'hello'>;
  /** A live connection was lost; the client reconnects unless `willReconnect` is false. */
  disconnected: { reason: string; notice?: DisconnectNotice; willReconnect: boolean };
  /** The client stopped for good (a disconnect code that forbids reconnecting, a refused token, or `close()`). */
  closed: { reason: string; notice?: DisconnectNotice; error?: ErrorMessage };
  /** An `error` pushed outside any request (e.g. PERMISSION_DENIED after a removal from a session). */
  error: ChorusError;
  /** Something the SDK recovered from by itself (a retry, a resend, a reload), for logs and metrics. */
  warning: { message: string; error?: unknown };
  /**
   * Every message the server sent outside a request's reply, as it came and before the SDK acts on it: `hello`,
   * `disconnect_notice`, pushed `error`s and every other push, of every session (joined through this client or
   * not). A tap for logs, tests and tools; apps listen on sessions and documents instead.
   */
  message: ServerMessage;
}

interface LiveConnection {
  wire: Wire;
  url: string;
  pending: Set<(error: Error) => void>;
}

/**
 * One connection to Chorus, kept alive: connects with the access token and protocol version, waits for
 * `hello`, and on any loss reconnects (jittered exponential backoff; at once after a gateway drains; never when
 * the disconnect code says not to), then rejoins every session with its `last_seq`. Sessions are obtained with
 * {@link ChorusClient.session}.
 *
 * ```ts
 * const client = new ChorusClient({ url: 'http://localhost:3000', token: () => auth.accessToken() });
 * await client.connect();
 * const session = client.session(sessionId);
 * await session.join();
 * session.on('chat', (m) => render(m));
 * ```
 */
export class ChorusClient extends TypedEmitter<ChorusClientEvents> {
  /** REST over the current gateway, authenticated with the same token. */
  readonly rest: ChorusRest;
  /** Session management over the same REST client (docs/session-admin.md). */
  readonly admin: SessionAdmin;
  /** This client's peer id in every session. */
  readonly peerId: string;

  private readonly urls: readonly string[];
  private urlIndex = 0;
  private currentState: ConnectionState = 'connecting';
  private live: LiveConnection | null = null;
  /** Ends the current connection or attempt (its socket, heartbeat and pending requests) from outside. */
  private abortAttempt: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private closedReason: string | null = null;
  private wake: (() => void) | null = null;
  private readonly waiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  private readonly sessions = new Map<string, ChorusSession>();
  private lastHello: ServerMessageOf<'hello'> | null = null;
  private opSeq = 0;
  /** @internal The random source (jitter, generated ids). */
  readonly random: () => number;
  /** The transport in use: `socket.io` or `websocket`. */
  readonly transport: 'socket.io' | 'websocket';
  private readonly wireFactory: WireFactory;

  constructor(private readonly options: ChorusClientOptions) {
    super();
    this.urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (this.urls.length === 0) throw new TypeError('ChorusClient needs at least one url');
    this.random = options.random ?? Math.random;
    this.peerId = options.peerId ?? `p-${randomId(this.random)}`;
    const transport = options.transport ?? 'socket.io';
    this.transport = transport === 'socket.io' ? 'socket.io' : 'websocket';
    this.wireFactory = transport === 'socket.io' ? socketIoWire(options.socket) : wsWire(transport === 'websocket' ? {} : transport, options.fetch);
    this.rest = new ChorusRest({ baseUrl: () => this.url, token: () => this.accessToken(), fetch: options.fetch, timeoutMs: options.requestTimeoutMs });
    this.admin = new SessionAdmin(this.rest);
    // In a browser, coming back online ends a backoff wait at once (it may have grown to seconds while offline).
    if (typeof onlineEvents?.addEventListener === 'function') onlineEvents.addEventListener('online', this.onOnline);
  }

  private readonly onOnline = () => this.wake?.();

  /** The current connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The gateway URL in use (or to be tried next). */
  get url(): string {
    return this.urls[this.urlIndex % this.urls.length];
  }

  /** The last `hello`: node id and per-message size limits. */
  get hello(): ServerMessageOf<'hello'> | null {
    return this.lastHello;
  }

  /**
   * Starts the connection (idempotent) and resolves at the first `hello`. Rejects when the client closes for
   * good before connecting (e.g. an invalid token). Reconnects after that are automatic.
   */
  async connect(): Promise<ServerMessageOf<'hello'>> {
    if (this.closedReason !== null) throw new ClientClosedError(this.closedReason);
    this.running ??= this.run();
    await this.ready();
    return this.lastHello as ServerMessageOf<'hello'>;
  }

  /** Stops for good: leaves nothing running. Pending requests reject with ClientClosedError. */
  close(): void {
    this.stop('closed by the application');
  }

  /** The session `sessionId` (one object per id): call `join()` on it. */
  session(sessionId: string, options: SessionOptions = {}): ChorusSession {
    let session = this.sessions.get(sessionId);
    if (!session) {
      session = new ChorusSession(this, sessionId, options);
      this.sessions.set(sessionId, session);
    }
    return session;
  }

  /**
   * Sends one request and resolves with its success reply; an `error` reply rejects with a ChorusError of its
   * code. Waits for a connection first (up to the timeout). A connection lost before the ack rejects with
   * ConnectionLostError (retryable). Typed from the registry: `request('who', { session_id })` → `presence_list`.
   */
  async request<T extends ClientMessageType>(type: T, payload: ClientPayload<T>, options: { timeoutMs?: number } = {}): Promise<ReplyOf<T>> {
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 15_000;
    const started = Date.now();
    await this.ready(timeoutMs);
    const conn = this.live;
    if (!conn) throw new ConnectionLostError(type);
    return this.send(conn, type, payload, Math.max(1, timeoutMs - (Date.now() - started)));
  }

  /**
   * The escape hatch under {@link request}: sends any event with any payload as it is, over the same wire, and
   * resolves with the ack as the server sent it — a success reply and an `error` message alike (no typing, no
   * ChorusError). Rejects only when no ack comes: timeout, connection lost, client closed; or at once when the
   * transport refuses to send it (an event name Socket.IO reserves). Over /ws the frame is the payload's fields
   * plus `type` and `id`, so send objects there. For tools and hostile-input tests that must send what the typed
   * API refuses to build; apps use `request`.
   *
   * ```ts
   * const ack = await client.requestRaw('chat_message', { session_id: 42 }); // { type: 'error', code: 'VALIDATION_ERROR', … }
   * ```
   */
  async requestRaw(type: string, payload: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 15_000;
    const started = Date.now();
    await this.ready(timeoutMs);
    const conn = this.live;
    if (!conn) throw new ConnectionLostError(type);
    return this.exchange(conn, type, payload, Math.max(1, timeoutMs - (Date.now() - started)), (raw) => raw);
  }

  /** One request on one connection: its reply, or a rejection (error reply, timeout, connection lost). */
  private send<T extends ClientMessageType>(conn: LiveConnection, type: T, payload: ClientPayload<T>, timeoutMs: number): Promise<ReplyOf<T>> {
    return this.exchange(conn, type, payload, timeoutMs, (raw) => {
      const reply = raw as AckOf<T>;
      if (reply && typeof reply === 'object' && reply.type === 'error') throw ChorusError.from(reply);
      return reply as ReplyOf<T>;
    });
  }

  /** One exchange on one connection: `settle` turns the ack into the result (or throws); timeout and loss reject. */
  private exchange<R>(conn: LiveConnection, type: string, payload: unknown, timeoutMs: number, settle: (ack: unknown) => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        conn.pending.delete(fail);
        reject(error);
      };
      const timer = setTimeout(() => fail(new RequestTimeoutError(type, timeoutMs)), timeoutMs);
      conn.pending.add(fail);
      try {
        conn.wire.request(type, payload as object, (ack) => {
          clearTimeout(timer);
          conn.pending.delete(fail);
          try {
            resolve(settle(ack));
          } catch (err) {
            reject(err as Error);
          }
        });
      } catch (err) {
        // The transport refused to send it at all (e.g. an event name Socket.IO reserves).
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Resolves when connected (now or later); rejects after `timeoutMs` or when the client closes. */
  ready(timeoutMs?: number): Promise<void> {
    if (this.closedReason !== null) return Promise.reject(new ClientClosedError(this.closedReason));
    if (this.currentState === 'connected' && this.live) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          reject(e);
        },
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => waiter.reject(new ChorusError('UNAVAILABLE', `not connected within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** @internal The next op seq of this peer: one counter for all documents, never reused by this client. */
  nextOpSeq(): number {
    return ++this.opSeq;
  }

  /** @internal A recovered failure: reported, never silent. */
  warn(message: string, error?: unknown): void {
    if (this.options.onWarning) this.options.onWarning(message, error);
    // eslint-disable-next-line no-console -- the default sink of recovered failures when the app gives none
    else console.warn(`[chorus] ${message}`, error ?? '');
    this.emit('warning', { message, error });
  }

  /** @internal A session ended for good (removed, deleted, left): forget it. */
  forget(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  private async accessToken(): Promise<string> {
    return typeof this.options.token === 'function' ? this.options.token() : this.options.token;
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit('state', { state });
  }

  private stop(reason: string, extra: { notice?: DisconnectNotice; error?: ErrorMessage } = {}): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    const closed = new ClientClosedError(reason);
    for (const w of [...this.waiters]) w.reject(closed);
    if (this.live) for (const fail of [...this.live.pending]) fail(closed);
    this.abortAttempt?.();
    this.live = null;
    this.wake?.();
    onlineEvents?.removeEventListener?.('online', this.onOnline);
    this.setState('closed');
    for (const session of this.sessions.values()) session.clientClosed(closed);
    this.emit('closed', { reason, ...extra });
  }

  /** The reconnect loop: one connection at a time, until closed. */
  private async run(): Promise<void> {
    let failures = 0;
    while (this.closedReason === null) {
      const { end, connected } = await this.connectOnce(this.url).catch((err: unknown) => {
        this.warn(`connecting to ${this.url} failed`, err);
        return { end: { kind: 'unreachable', message: (err as Error).message } as ConnectionEnd, connected: false };
      });
      if (this.closedReason !== null) break;
      if (connected) failures = 0;
      let step = reconnectStep(end, failures, this.random, { ...this.options.backoff, canRefreshToken: typeof this.options.token === 'function' });
      if (this.options.reconnect === false && step.action === 'retry') step = { action: 'stop', reason: `reconnect is off: ${describeEnd(end)}` };
      if (connected && end.kind === 'lost') this.emit('disconnected', { reason: end.reason, notice: end.notice, willReconnect: step.action === 'retry' });
      if (step.action === 'stop') {
        this.stop(step.reason, { notice: end.kind === 'lost' ? end.notice : end.kind === 'refused' ? end.error.disconnect : undefined, error: end.kind === 'refused' ? end.error : undefined });
        break;
      }
      failures++;
      if (step.rotate) this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      this.setState('reconnecting');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, step.delayMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** One connection attempt, resolved when it ends (refused, unreachable, or lost after working). */
  private async connectOnce(url: string): Promise<{ end: ConnectionEnd; connected: boolean }> {
    let token: string;
    try {
      token = await this.accessToken();
    } catch (err) {
      this.warn('the access token provider failed', err);
      return { end: { kind: 'unreachable', message: `token provider: ${(err as Error).message}` }, connected: false };
    }
    return new Promise((resolve) => {
      let connected = false;
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      let refresh: ReturnType<typeof setTimeout> | undefined;
      let finished = false;
      // Wires report asynchronously only (never from inside the factory), so `conn` exists when these run.
      const finish = (end: ConnectionEnd) => {
        if (finished) return;
        finished = true;
        if (heartbeat !== undefined) clearInterval(heartbeat);
        clearTimeout(refresh);
        conn.wire.close();
        if (this.live === conn) this.live = null;
        const lost = new ConnectionLostError('request');
        for (const fail of [...conn.pending]) fail(lost);
        if (connected) for (const session of this.sessions.values()) session.connectionLost();
        if (this.abortAttempt === abort) this.abortAttempt = null;
        resolve({ end, connected });
      };
      const abort = () => finish({ kind: 'lost', reason: 'closed by the client' });
      this.abortAttempt = abort;
      const wire = this.wireFactory(url, token, {
        end: finish,
        notice: (m) => {
          this.emit('message', m);
          // removed (4503) / session_deleted (4504) name the session: it ends, whatever the connection does next.
          if (m.session_id !== undefined && (m.code === 4503 || m.code === 4504)) this.sessions.get(m.session_id)?.endedByServer(`${m.name}: ${m.reason}`);
        },
        hello: (hello) => {
          if (finished) return;
          const live = conn;
          connected = true;
          this.emit('message', hello);
          this.lastHello = hello;
          this.live = live;
          this.setState('connected');
          this.emit('hello', hello);
          for (const w of [...this.waiters]) w.resolve();
          for (const session of this.sessions.values()) session.connectionRestored();
          heartbeat ??= this.startHeartbeat(live, () => finish({ kind: 'lost', reason: 'heartbeat timeout' }));
          const schedule = (expiresAt: number | undefined) => {
            clearTimeout(refresh);
            if (expiresAt === undefined || typeof this.options.token !== 'function' || finished) return;
            // At most half the remaining life early: a token shorter-lived than the margin would otherwise be
            // refreshed at once, again and again.
            const left = Math.max(0, expiresAt - Date.now());
            const margin = Math.min(this.options.tokenRefreshMarginMs ?? 30_000, left / 2);
            const delay = left - margin;
            // setTimeout holds at most ~24.8 days (a longer delay fires at once): a month-long token re-arms on the way.
            if (delay > MAX_TIMER_MS) refresh = setTimeout(() => schedule(expiresAt), MAX_TIMER_MS);
            else refresh = setTimeout(() => void this.reauth(live, expiresAt).then(schedule), delay);
          };
          schedule(hello.token_expires_at);
        },
        error: (m) => {
          this.emit('message', m);
          this.pushedError(m);
        },
        push: (message) => {
          this.emit('message', message);
          const m = message as ServerMessage & { session_id?: string };
          if (typeof m.session_id === 'string') this.sessions.get(m.session_id)?.handlePush(m);
        },
      });
      const conn: LiveConnection = { wire, url, pending: new Set() };
    });
  }

  /**
   * Sends `reauth` with a fresh token from the provider; resolves with the new expiry to schedule the next one,
   * or undefined when there is nothing more to do: a failure is reported and the server's `reauthenticate`
   * close at expiry reconnects (asking the provider again); a provider handing back a token that expires no
   * later is not asked again on this connection (that would loop).
   */
  private async reauth(conn: LiveConnection, expiresAt: number): Promise<number | undefined> {
    try {
      const token = await this.accessToken();
      if (this.live !== conn) return undefined;
      const reply = await this.send(conn, 'reauth', { token }, this.options.requestTimeoutMs ?? 15_000);
      if (reply.token_expires_at > expiresAt) return reply.token_expires_at;
      this.warn('the token provider returned a token that expires no later than the current one: the connection will reconnect at expiry');
    } catch (err) {
      if (this.live === conn) this.warn('refreshing the access token (reauth) failed: the connection will reconnect at expiry', err);
    }
    return undefined;
  }

  private startHeartbeat(conn: LiveConnection, dead: () => void): ReturnType<typeof setInterval> | undefined {
    if (this.options.heartbeat === false) return undefined;
    const intervalMs = this.options.heartbeat?.intervalMs ?? 10_000;
    const timeoutMs = this.options.heartbeat?.timeoutMs ?? 5_000;
    let inFlight = false;
    return setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      this.send(conn, 'ping', {}, timeoutMs).then(
        () => (inFlight = false),
        (err: unknown) => {
          inFlight = false;
          // Any answer, even an error (RATE_LIMITED, UNAVAILABLE while draining), proves the connection alive.
          if (!(err instanceof RequestTimeoutError) || this.live !== conn) return;
          this.warn(`no pong from ${conn.url} within ${timeoutMs} ms: reconnecting`, err);
          dead();
        },
      );
    }, intervalMs);
  }

  private pushedError(message: ErrorMessage): void {
    this.emit('error', ChorusError.from(message));
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** How a connection ended, in words (the `closed` reason when `reconnect` is off). */
function describeEnd(end: ConnectionEnd): string {
  if (end.kind === 'refused') return `refused: ${end.error.code}: ${end.error.message}`;
  if (end.kind === 'lost') return end.notice ? `${end.notice.name} (${end.notice.code}): ${end.notice.reason}` : `lost: ${end.reason}`;
  return `unreachable: ${end.message}`;
}

/** The browser's `window` (its `online` event), when there is one; Node has none. */
const onlineEvents = globalThis as { addEventListener?: (type: 'online', listener: () => void) => void; removeEventListener?: (type: 'online', listener: () => void) => void } | undefined;
