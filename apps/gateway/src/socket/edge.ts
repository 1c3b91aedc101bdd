import type { LoggerService } from '@nestjs/common';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { TokenError, type AccessTokenVerifier, type Identity, type VerifiedAccess } from '@chorus/auth';
import {
  ChorusError,
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
import type { ConnectionRegistry } from '../limits/connection-registry';
import { limitKindOf, type WsRateLimiter } from '../limits/ws-rate-limiter';
import type { Connection, GatewayDeps, HandlerTable } from './connection';
import { IdleWatch } from './idle-watch';
import { endMembership } from './membership';
import { restatedIdentity } from './seed-compat';
import { auditRefusal } from './audit';

const tracer = trace.getTracer('@chorus/gateway');

/** A transport (Socket.IO, /ws) as the edge stops it at shutdown, after its connections are gone. */
export interface EdgeTransport {
  close(): Promise<void>;
}

export interface EdgeOptions {
  readonly maxConnectionsPerUser: number;
  /** Presence leases are renewed this often for every peer on this node. */
  readonly heartbeatMs: number;
}

/**
 * The transport-neutral edge: one protocol, two transports. Every inbound message of either transport goes
 * through `handle` — validate with libs/protocol (unknown type, bad field, oversize → typed error), rate-limit by
 * kind, run its handler — and gets exactly one reply, which the transport delivers (Socket.IO: the ack; /ws: a
 * reply frame echoing `id`). Authentication, the per-user connection cap, the live-connection registry, the
 * presence heartbeat, disconnect clean-up and the graceful drain are here too, so both transports share them.
 */
export class Edge {
  private draining = false;
  private started = false;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Every authenticated connection on this node, of both transports. */
  private readonly live = new Map<string, Connection>();
  /** Disconnect clean-ups (presence leave, peer_left) still running: shutdown waits for them. */
  private readonly cleanups = new Set<Promise<void>>();
  private readonly transports: EdgeTransport[] = [];
  /** Per connection: the timer that closes it when its access token expires (moved by `reauth`). */
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  /** Idle transitions of the peers this node holds, pushed on the heartbeat (socket/idle-watch.ts). */
  private readonly idle = new IdleWatch();

  constructor(
    private readonly options: EdgeOptions,
    private readonly tokens: AccessTokenVerifier,
    private readonly limiter: WsRateLimiter,
    private readonly connections: ConnectionRegistry,
    private readonly handlers: HandlerTable,
    readonly deps: GatewayDeps,
    private readonly logger: LoggerService,
  ) {}

  get accepting(): boolean {
    return this.started && !this.draining;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** The connections of both transports open on this node (e.g. to apply a change of the session's path rules). */
  liveConnections(): Iterable<Connection> {
    return this.live.values();
  }

  /** Connections of both transports open on this node. */
  get size(): number {
    return this.live.size;
  }

  /** A transport attached to the HTTP server; the heartbeat starts with the first. */
  addTransport(transport: EdgeTransport): void {
    this.transports.push(transport);
    if (this.started) return;
    this.started = true;
    this.timer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs).unref();
  }

  /** The protocol version a client announced; /ws clients may leave it out (`required: false`). */
  checkProtocolVersion(version: unknown, required: boolean): void {
    if (version === undefined && !required) return;
    if (version !== PROTOCOL_VERSION) {
      const where = required ? 'auth.protocol_version' : 'protocol_version';
      throw new HandshakeRefused('protocol_mismatch', ChorusError.validation('protocol_version', `This server speaks protocol version ${PROTOCOL_VERSION}; send it as ${where}.`));
    }
  }

  /** Verifies an access token and takes a slot of the user's connection cap for `connectionId`. */
  async authenticate(token: unknown, connectionId: string, missing: string): Promise<VerifiedAccess> {
    if (this.draining) throw new HandshakeRefused('draining', new ChorusError('UNAVAILABLE', 'This gateway is shutting down; reconnect (another replica will take you).'));
    if (typeof token !== 'string') throw new HandshakeRefused('unauthenticated', new ChorusError('UNAUTHENTICATED', missing));
    let access: VerifiedAccess;
    try {
      access = await this.tokens.verify(token);
    } catch (err) {
      if (!(err instanceof TokenError)) {
        // The identity provider's keys could not be fetched: ours, not the client's — it reconnects with backoff.
        this.logger.warn(`Access token not verifiable: ${(err as Error)?.message ?? String(err)}`, 'Edge');
        throw new HandshakeRefused('server_error', ChorusError.from(err));
      }
      throw new HandshakeRefused('unauthenticated', new ChorusError('UNAUTHENTICATED', `The access token was refused (${err.reason.replace('_', ' ')}); obtain a new one.`));
    }
    await this.admit(access.identity, connectionId);
    return access;
  }

  /** The per-user connection cap, for an identity already verified (a /ws ticket). */
  async admit(identity: Identity, connectionId: string): Promise<void> {
    if (this.draining) throw new HandshakeRefused('draining', new ChorusError('UNAVAILABLE', 'This gateway is shutting down; reconnect (another replica will take you).'));
    if (!(await this.connections.register(identity.user_id, connectionId, this.options.maxConnectionsPerUser))) {
      throw new HandshakeRefused('connection_limit', new ChorusError('RATE_LIMITED', `You already have ${this.options.maxConnectionsPerUser} open connections; close one first.`, { retry_after_ms: 5_000 }));
    }
  }

  /** An authenticated connection is open: counted, registered for the heartbeat and drain, greeted with `hello`. */
  opened(connection: Connection, id?: MessageId): void {
    this.live.set(connection.id, connection);
    this.deps.metrics.connections.inc();
    this.scheduleExpiry(connection);
    this.deps.send(connection, {
      type: 'hello',
      ...(id !== undefined ? { id } : {}),
      protocol_version: PROTOCOL_VERSION,
      node_id: this.deps.nodeId,
      limits: clientMessageLimits(),
      token_expires_at: connection.data.tokenExpiresAtMs,
    });
  }

  /**
   * Closes the connection with `reauthenticate` (4002) when its access token expires: a revoked or expired
   * identity must not keep a socket forever. `reauth` moves the expiry; the timer then re-arms for the new one.
   */
  private scheduleExpiry(connection: Connection): void {
    // setTimeout holds at most ~24.8 days; a longer token re-arms on the way.
    const delay = Math.min(Math.max(0, connection.data.tokenExpiresAtMs - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      if (this.live.get(connection.id) !== connection) return;
      if (connection.data.tokenExpiresAtMs > Date.now()) return this.scheduleExpiry(connection);
      this.expiries.delete(connection.id);
      this.deps.metrics.tokensExpired.inc({ transport: connection.transport });
      const notice = disconnectNotice('reauthenticate', 'Your access token expired: get a fresh one and reconnect (or send reauth before it expires).');
      this.deps.metrics.messagesOut.inc({ type: notice.type });
      connection.close(notice);
    }, delay);
    timer.unref();
    this.expiries.set(connection.id, timer);
  }

  /** The connection is gone (either transport): its slot and memberships are released. Idempotent. */
  closed(connection: Connection): void {
    if (this.live.get(connection.id) !== connection) return;
    this.live.delete(connection.id);
    clearTimeout(this.expiries.get(connection.id));
    this.expiries.delete(connection.id);
    this.deps.metrics.connections.dec();
    const cleanup = this.cleanUp(connection).catch((err: unknown) => this.logger.warn(`Disconnect clean-up failed: ${(err as Error).message}`, 'Edge'));
    this.cleanups.add(cleanup);
    void cleanup.finally(() => this.cleanups.delete(cleanup));
  }

  /**
   * One request → exactly one reply: the handler's, or an `error` with the request's `id`. Never throws.
   * Each request is the root of its own trace (a SERVER span, a no-op while tracing is off): the transport
   * carries it to the service that handles it (docs/observability.md).
   * `binary`: the data a transport carried beside the JSON (a compact file chunk); only `file_data` takes it.
   */
  handle(connection: Connection, event: unknown, payload: unknown, binary?: Uint8Array): Promise<ServerMessage> {
    const type = isClientMessageType(event) ? event : 'unknown';
    const attributes = { 'rpc.system': 'chorus', 'rpc.method': type, 'chorus.transport': connection.transport, 'chorus.connection_id': connection.id };
    return tracer.startActiveSpan(`ws ${type}`, { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT, async (span) => {
      const reply = await this.respond(connection, event, payload, binary);
      if (reply.type === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: reply.code }).setAttribute('chorus.error_code', reply.code);
      span.end();
      return reply;
    });
  }

  private async respond(connection: Connection, event: unknown, payload: unknown, binary?: Uint8Array): Promise<ServerMessage> {
    const deps = this.deps;
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
      await this.limiter.check(kind, connection.id, connection.data.identity.user_id).catch((err: unknown) => {
        deps.metrics.rateLimited.inc({ kind });
        throw err;
      });
      const parsed = parseClientMessage(event, restatedIdentity(connection, event, payload));
      if (!parsed.ok) throw parsed.error;
      let message: ClientMessage = parsed.value;
      if (binary !== undefined) {
        if (message.type !== 'file_data') throw ChorusError.validation('(frame)', `Binary data is accepted with file_data only, not ${message.type}.`);
        message = { ...message, data: binary };
      }
      const handler = this.handlers[message.type] as (c: Connection, m: ClientMessage, d: GatewayDeps) => Promise<ServerMessage>;
      const result = await handler(connection, message, deps);
      reply = (id !== undefined ? { ...result, id } : result) as ServerMessage;
    } catch (err) {
      const error = ChorusError.from(err);
      // Client mistakes (VALIDATION_ERROR, RATE_LIMITED, ...) are a metric, never an error log a client can flood.
      deps.metrics.refused.inc({ type, code: error.code });
      if (error.code === 'SERVER_ERROR') {
        // With tracing on, the trace id leads from this line to the request's trace (docs/observability.md).
        const traceId = trace.getActiveSpan()?.spanContext().traceId;
        this.logger.error(`${type} failed${traceId === undefined ? '' : ` (trace ${traceId})`}: ${(err as Error)?.stack ?? String(err)}`, undefined, 'Edge');
      }
      // Recorded before the answer, so a client that sees the refusal finds it in the audit export.
      await auditRefusal(deps, this.logger, connection, type, payload, error);
      reply = error.toWire(id);
    } finally {
      this.inFlight--;
    }
    deps.metrics.ackLatency.observe({ type, outcome: reply.type === 'error' ? reply.code : 'ok' }, (performance.now() - started) / 1000);
    return reply;
  }

  private async cleanUp(connection: Connection): Promise<void> {
    const state = connection.data as Connection['data'] | undefined;
    if (!state?.identity) return;
    await this.connections.unregister(state.identity.user_id, connection.id).catch(() => undefined);
    await Promise.all([...state.memberships.values()].map((m) => endMembership(connection, m, 'disconnected', this.deps, this.logger)));
  }

  /** Renews presence leases and connection leases of everything on this node; re-joins presence it lost. */
  private async heartbeat(): Promise<void> {
    const deps = this.deps;
    deps.metrics.sessions.set(deps.streams.size);
    await deps.streams.checkPositions();
    const all = [...this.live.values()];
    await this.connections.refresh(all.map((c) => ({ userId: c.data.identity.user_id, connectionId: c.id }))).catch(() => undefined);
    try {
      const { lost } = await deps.presence.call('presence.heartbeat', { node_id: deps.nodeId });
      for (const ref of lost) {
        const connection = all.find((c) => c.data.memberships.get(ref.session_id)?.peer_id === ref.peer_id);
        if (!connection) continue;
        const id = connection.data.identity;
        await deps.presence.call('presence.join', { session_id: ref.session_id, peer_id: ref.peer_id, user_id: id.user_id, display_name: id.display_name, kind: id.kind, node_id: deps.nodeId });
      }
    } catch (err) {
      this.logger.warn(`Presence heartbeat failed (leases last 15 s; will retry): ${(err as Error).message}`, 'Edge');
    }
    const peers = all.flatMap((c) => [...c.data.memberships.values()].map((m) => ({ session_id: m.session_id, peer_id: m.peer_id })));
    await this.idle.check(
      peers,
      (session_id) => deps.presence.call('presence.who', { session_id }),
      (view) => deps.presenceOut.offer(view),
      (sessionId, err) => this.logger.warn(`Idle check of session ${sessionId} skipped (presence.who failed; next heartbeat retries): ${(err as Error).message}`, 'Edge'),
    );
  }

  /**
   * Graceful shutdown: refuse new connections and requests (readiness turns 503 so the load balancer stops
   * sending), let in-flight requests finish, then close every connection of both transports with the `draining`
   * notice — clients reconnect on their own and land on another replica — and stop the transports.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (!this.started || this.draining) return;
    this.draining = true;
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    clearInterval(this.timer);
    const notice = disconnectNotice('draining', 'This gateway is shutting down; reconnect and rejoin with last_seq (another replica will take you).');
    for (const connection of [...this.live.values()]) {
      this.deps.metrics.messagesOut.inc({ type: notice.type });
      connection.close(notice);
    }
    while (this.live.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await Promise.all([...this.cleanups]);
    for (const t of this.transports) await t.close();
  }
}

/** The request's `id`, to echo in its reply — read before validation, so only a plain data property counts. */
export function messageIdOf(payload: unknown): MessageId | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const d = Object.getOwnPropertyDescriptor(payload, 'id');
  const parsed = messageIdSchema.safeParse(d !== undefined && 'value' in d ? d.value : undefined);
  return parsed.success ? parsed.data : undefined;
}

/** A handshake refused for a reason the client can act on: the protocol error and its disconnect code. */
export class HandshakeRefused extends Error {
  constructor(
    readonly disconnect: DisconnectName,
    readonly error: ChorusError,
  ) {
    super(error.message);
  }
}
