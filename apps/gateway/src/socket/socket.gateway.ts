import type { Server as HttpServer } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { Server, type ExtendedError } from 'socket.io';
import { TokenError, type IdentityTokens } from '@chorus/auth';
import {
  ChorusError,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  clientMessageLimits,
  disconnectNotice,
  isClientMessageType,
  messageIdSchema,
  parseClientMessage,
  type ClientMessage,
  type DisconnectName,
  type MessageId,
  type ServerMessage,
} from '@chorus/protocol';
import type { ClientAddresses } from '../http/client-address';
import type { OriginPolicy } from '../http/origin-policy';
import type { ConnectionRegistry } from '../limits/connection-registry';
import { limitKindOf, type WsRateLimiter } from '../limits/ws-rate-limiter';
import type { ChorusSocket, ConnectionState, GatewayDeps, HandlerTable } from './connection';
import { endMembership } from './membership';

export interface SocketGatewayOptions {
  /** Browser origins allowed to open a socket (CORS_ORIGINS), checked on every transport's handshake. */
  readonly origins: OriginPolicy;
  /** The client address of a handshake (TRUSTED_PROXIES), the same as every REST limiter's. */
  readonly addresses: ClientAddresses;
  readonly transports: Array<'websocket' | 'polling'>;
  readonly maxConnectionsPerUser: number;
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  /** Presence leases are renewed this often for every peer on this node. */
  readonly heartbeatMs: number;
}

type Ack = (reply: ServerMessage) => void;

/**
 * The Socket.IO edge. Every inbound message goes through one path: validate with libs/protocol (unknown type,
 * bad field, oversize → typed error), rate-limit by kind, run its handler, ack with the reply or the error —
 * every request is acked, so `emitWithAck` never hangs. Rooms reach every gateway through the Redis adapter.
 */
export class SocketGateway {
  private io: Server | undefined;
  private draining = false;
  private inFlight = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly redisClients: Redis[] = [];
  private deps: GatewayDeps | undefined;
  /** Disconnect clean-ups (presence leave, peer_left) still running: shutdown waits for them. */
  private readonly cleanups = new Set<Promise<void>>();

  constructor(
    private readonly options: SocketGatewayOptions,
    private readonly tokens: IdentityTokens,
    private readonly limiter: WsRateLimiter,
    private readonly connections: ConnectionRegistry,
    private readonly handlers: HandlerTable,
    private readonly makeDeps: (io: Server) => GatewayDeps,
    private readonly logger: LoggerService,
  ) {}

  get accepting(): boolean {
    return this.io !== undefined && !this.draining;
  }

  attach(http: HttpServer): void {
    const io = new Server(http, {
      transports: this.options.transports,
      // `cors` only writes headers on polling responses, which a browser enforces; a websocket upgrade is never
      // subject to CORS, so the origin is checked here on every new engine.io connection (polling or websocket)
      // before the handshake completes. Upgrades of an existing polling connection were checked at its handshake.
      cors: { origin: this.options.origins.corsOrigin, credentials: true },
      allowRequest: (req, callback) => {
        const refusal = this.options.origins.refusal(req);
        if (refusal !== undefined) {
          this.deps?.metrics.handshakesRefused.inc({ reason: 'origin' });
          this.logger.verbose?.(`Refused a handshake from ${this.options.addresses.of(req)}: ${refusal}`, 'SocketGateway');
        }
        callback(refusal ?? null, refusal === undefined);
      },
      // The transport ceiling, well above every per-kind limit: a too-large message still arrives and is acked
      // PAYLOAD_TOO_LARGE by libs/protocol; only a frame above 1 MiB closes the connection (docs/protocol.md).
      maxHttpBufferSize: MAX_FRAME_BYTES,
      serveClient: false,
    });
    if (this.options.redisUrl !== undefined) {
      const pub = new Redis(this.options.redisUrl, { connectionName: 'socketio-pub' });
      const sub = pub.duplicate({ connectionName: 'socketio-sub' });
      for (const c of [pub, sub]) c.on('error', () => undefined);
      this.redisClients.push(pub, sub);
      io.adapter(createAdapter(pub, sub, { key: `${this.options.redisPrefix}:socket.io` }));
    }
    this.io = io;
    this.deps = this.makeDeps(io);
    io.use((socket, next) => void this.authenticate(socket as ChorusSocket).then(() => next(), (err: unknown) => next(toConnectError(err))));
    io.on('connection', (socket) => this.onConnection(socket as ChorusSocket));
    this.timers.push(setInterval(() => void this.heartbeat(), this.options.heartbeatMs).unref());
  }

  /** The handshake: protocol version, access token, per-user connection cap. */
  private async authenticate(socket: ChorusSocket): Promise<void> {
    if (this.draining) throw new HandshakeRefused('draining', new ChorusError('UNAVAILABLE', 'This gateway is shutting down; reconnect (another replica will take you).'));
    const auth = (socket.handshake.auth ?? {}) as { token?: unknown; protocol_version?: unknown };
    if (auth.protocol_version !== PROTOCOL_VERSION) {
      throw new HandshakeRefused('protocol_mismatch', ChorusError.validation('protocol_version', `This server speaks protocol version ${PROTOCOL_VERSION}; send it as auth.protocol_version.`));
    }
    if (typeof auth.token !== 'string') throw new HandshakeRefused('unauthenticated', new ChorusError('UNAUTHENTICATED', 'Send an access token as auth.token in the handshake.'));
    let identity: ConnectionState['identity'];
    try {
      identity = this.tokens.verifyAccess(auth.token);
    } catch (err) {
      const reason = err instanceof TokenError ? err.reason.replace('_', ' ') : 'invalid';
      throw new HandshakeRefused('unauthenticated', new ChorusError('UNAUTHENTICATED', `The access token was refused (${reason}); obtain a new one.`));
    }
    if (!(await this.connections.register(identity.user_id, socket.id, this.options.maxConnectionsPerUser))) {
      throw new HandshakeRefused('connection_limit', new ChorusError('RATE_LIMITED', `You already have ${this.options.maxConnectionsPerUser} open connections; close one first.`, { retry_after_ms: 5_000 }));
    }
    socket.data = { identity, memberships: new Map(), address: this.options.addresses.of(socket.request) };
  }

  private onConnection(socket: ChorusSocket): void {
    const deps = this.deps as GatewayDeps;
    deps.metrics.connections.inc();
    deps.send(socket, { type: 'hello', protocol_version: PROTOCOL_VERSION, node_id: deps.nodeId, limits: clientMessageLimits() });
    socket.onAny((event: unknown, ...args: unknown[]) => void this.dispatch(socket, event, args));
    socket.on('disconnect', () => {
      const cleanup = this.onDisconnect(socket).catch((err: unknown) => this.logger.warn(`Disconnect clean-up failed: ${(err as Error).message}`, 'SocketGateway'));
      this.cleanups.add(cleanup);
      void cleanup.finally(() => this.cleanups.delete(cleanup));
    });
  }

  private async dispatch(socket: ChorusSocket, event: unknown, args: unknown[]): Promise<void> {
    const deps = this.deps as GatewayDeps;
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    const payload = args[0];
    const id = messageIdOf(payload);
    const type = isClientMessageType(event) ? event : 'unknown';
    const kind = limitKindOf(event);
    const started = performance.now();
    deps.metrics.messagesIn.inc({ type });
    this.inFlight++;
    let reply: ServerMessage;
    try {
      if (this.draining) throw new ChorusError('UNAVAILABLE', 'This gateway is shutting down; reconnect and resend.');
      // Counted before parsing: malformed and unknown messages spend the sender's budget too.
      await this.limiter.check(kind, socket.id, socket.data.identity.user_id).catch((err: unknown) => {
        deps.metrics.rateLimited.inc({ kind });
        throw err;
      });
      const parsed = parseClientMessage(event, payload);
      if (!parsed.ok) throw parsed.error;
      const message: ClientMessage = parsed.value;
      const handler = this.handlers[message.type] as (s: ChorusSocket, m: ClientMessage, d: GatewayDeps) => Promise<ServerMessage>;
      const result = await handler(socket, message, deps);
      reply = (id !== undefined ? { ...result, id } : result) as ServerMessage;
    } catch (err) {
      const error = ChorusError.from(err);
      // Client mistakes (VALIDATION_ERROR, RATE_LIMITED, ...) are a metric, never an error log a client can flood.
      deps.metrics.refused.inc({ type, code: error.code });
      if (error.code === 'SERVER_ERROR') this.logger.error(`${type} failed: ${(err as Error)?.stack ?? String(err)}`, undefined, 'SocketGateway');
      reply = error.toWire(id);
    } finally {
      this.inFlight--;
    }
    deps.metrics.ackLatency.observe({ type, outcome: reply.type === 'error' ? reply.code : 'ok' }, (performance.now() - started) / 1000);
    if (ack) {
      deps.metrics.messagesOut.inc({ type: reply.type });
      ack(reply);
    } else if (reply.type === 'error') {
      // A message sent without an ack callback still learns about its failure.
      deps.send(socket, reply);
    }
  }

  private async onDisconnect(socket: ChorusSocket): Promise<void> {
    const deps = this.deps as GatewayDeps;
    deps.metrics.connections.dec();
    const state = socket.data as ConnectionState | undefined;
    if (!state?.identity) return;
    await this.connections.unregister(state.identity.user_id, socket.id).catch(() => undefined);
    await Promise.all([...state.memberships.values()].map((m) => endMembership(socket, m, 'disconnected', deps, this.logger)));
  }

  /** Renews presence leases and connection leases of everything on this node; re-joins presence it lost. */
  private async heartbeat(): Promise<void> {
    const deps = this.deps;
    const io = this.io;
    if (!deps || !io) return;
    deps.metrics.sessions.set(deps.streams.size);
    await deps.streams.checkPositions();
    const sockets = [...io.of('/').sockets.values()] as ChorusSocket[];
    await this.connections.refresh(sockets.filter((s) => s.data?.identity).map((s) => ({ userId: s.data.identity.user_id, connectionId: s.id }))).catch(() => undefined);
    try {
      const { lost } = await deps.presence.call('presence.heartbeat', { node_id: deps.nodeId });
      for (const ref of lost) {
        const socket = sockets.find((s) => s.data?.memberships?.get(ref.session_id)?.peer_id === ref.peer_id);
        if (!socket) continue;
        const id = socket.data.identity;
        await deps.presence.call('presence.join', { session_id: ref.session_id, peer_id: ref.peer_id, user_id: id.user_id, display_name: id.display_name, kind: id.kind, node_id: deps.nodeId });
      }
    } catch (err) {
      this.logger.warn(`Presence heartbeat failed (leases last 15 s; will retry): ${(err as Error).message}`, 'SocketGateway');
    }
  }

  /**
   * Graceful shutdown: refuse new connections and requests (readiness turns 503 so the load balancer stops
   * sending), let in-flight requests finish, then close every connection's transport — clients reconnect on
   * their own and land on another replica — and stop.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (!this.io || this.draining) return;
    this.draining = true;
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const t of this.timers) clearInterval(t);
    const sockets = [...this.io.of('/').sockets.values()] as ChorusSocket[];
    // Closing the underlying connection (not `socket.disconnect()`) makes clients reconnect automatically. The
    // notice is written first: engine.io flushes its write buffer before it closes the transport.
    const notice = disconnectNotice('draining', 'This gateway is shutting down; reconnect and rejoin with last_seq (another replica will take you).');
    for (const socket of sockets) {
      this.deps?.send(socket, notice);
      socket.conn.close();
    }
    await Promise.all(sockets.map((s) => this.onDisconnectWhenGone(s)));
    await Promise.all([...this.cleanups]);
    await new Promise<void>((resolve) => void this.io?.close(() => resolve()));
    // QUIT, not disconnect(): io.close() does not await the adapter's UNSUBSCRIBEs, which would otherwise be
    // rejected unanswered ("Connection is closed") whenever Redis is a little slower to reply.
    await Promise.all(this.redisClients.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private onDisconnectWhenGone(socket: ChorusSocket): Promise<void> {
    return socket.connected ? new Promise((resolve) => socket.once('disconnect', () => resolve())) : Promise.resolve();
  }
}

/** The request's `id`, to echo in its ack — read before validation, so only a plain data property counts. */
function messageIdOf(payload: unknown): MessageId | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const d = Object.getOwnPropertyDescriptor(payload, 'id');
  const parsed = messageIdSchema.safeParse(d !== undefined && 'value' in d ? d.value : undefined);
  return parsed.success ? parsed.data : undefined;
}

/** A handshake refused for a reason the client can act on: the protocol error and its disconnect code. */
class HandshakeRefused extends Error {
  constructor(
    readonly disconnect: DisconnectName,
    readonly error: ChorusError,
  ) {
    super(error.message);
  }
}

/**
 * Handshake refusals reach the client's `connect_error` with the protocol error in `err.data` and, since no
 * push can precede a refused handshake, the `disconnect_notice` in `err.data.disconnect`.
 */
function toConnectError(err: unknown): ExtendedError {
  const refused = err instanceof HandshakeRefused ? err : undefined;
  // Anything else (the connection registry's store failed) is ours: reconnect with backoff.
  const error = refused?.error ?? ChorusError.from(err);
  const retry = error.details.retry_after_ms;
  const out: ExtendedError = new Error(error.message);
  out.data = { ...error.toWire(), disconnect: disconnectNotice(refused?.disconnect ?? 'server_error', error.message, retry !== undefined ? { retry_after_ms: retry } : {}) };
  return out;
}
