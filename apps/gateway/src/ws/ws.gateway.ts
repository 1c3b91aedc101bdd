import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LoggerService } from '@nestjs/common';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { VerifiedAccess } from '@chorus/auth';
import { ChorusError, MAX_FRAME_BYTES, decodeBinaryFrame, WS_AUTH_MAX_BYTES, WS_PATH, disconnectNotice, validationErrorFrom, wsAuthSchema, type MessageId } from '@chorus/protocol';
import type { WsRooms } from '../fanout/ws-rooms';
import type { ClientAddresses } from '../http/client-address';
import type { OriginPolicy } from '../http/origin-policy';
import { HandshakeRefused, messageIdOf, type Edge } from '../socket/edge';
import { WsConnection } from './ws-connection';
import type { WsTickets } from './ws-tickets';

/** A WebSocket path served beside /ws: handed the upgrade with its parsed URL. */
export type UpgradeRoute = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

/** Frames answered before authentication before the connection is closed (a client that ignores the errors). */
const MAX_UNAUTHENTICATED_FRAMES = 10;

export interface WsGatewayOptions {
  readonly origins: OriginPolicy;
  readonly addresses: ClientAddresses;
  /** WS_PING_INTERVAL_MS: a protocol ping this often; a connection that has not answered the previous one is closed. */
  readonly pingIntervalMs: number;
  /** WS_AUTH_TIMEOUT_MS: how long a connection may stay unauthenticated. */
  readonly authTimeoutMs: number;
  /** WS_PERMESSAGE_DEFLATE: compress frames (CPU and ~300 KB of zlib state per busy connection for bandwidth). */
  readonly perMessageDeflate: boolean;
}

/**
 * The plain-WebSocket transport of the edge (`/ws` on the HTTP server of REST and Socket.IO): text frames of
 * JSON `{type, id?, ...fields}`, each request answered by exactly one reply frame echoing its `id` — the object a
 * Socket.IO client gets in its ack — through the same `Edge.handle`. Pushes are written by the local hub (rooms
 * in WsRooms). Authentication: an `Authorization: Bearer` header, a single-use `?ticket=` from REST, or a first
 * frame `{type: "auth", token}`; refusals and shutdown close with the protocol's disconnect codes (4000–4999)
 * after a `disconnect_notice` frame.
 */
export class WsGateway {
  private wss: WebSocketServer | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Every open /ws connection, authenticated or not (the heartbeat pings them all). */
  private readonly all = new Set<WsConnection>();
  /** Other WebSocket paths on this HTTP server (the /yjs/ path), sharing this upgrade routing and origin policy. */
  private readonly routes: Array<{ readonly prefix: string; readonly upgrade: UpgradeRoute; readonly close: () => Promise<void> }> = [];

  constructor(
    private readonly options: WsGatewayOptions,
    private readonly edge: Edge,
    private readonly index: WsRooms,
    private readonly tickets: WsTickets,
    private readonly logger: LoggerService,
  ) {}

  /** Serves upgrades whose path starts with `prefix` (after the origin check) with `upgrade`; `close` at shutdown. */
  route(prefix: string, upgrade: UpgradeRoute, close: () => Promise<void>): void {
    this.routes.push({ prefix, upgrade, close });
  }

  attach(http: HttpServer): void {
    this.wss = new WebSocketServer({
      noServer: true,
      // The transport ceiling, as on Socket.IO: larger frames close the connection with 1009; everything below it
      // is read and answered (PAYLOAD_TOO_LARGE above its kind's limit).
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: this.options.perMessageDeflate,
      clientTracking: false,
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.timer = setInterval(() => this.heartbeat(), this.options.pingIntervalMs).unref();
    this.edge.addTransport({ close: () => this.close() });
  }

  /**
   * Every upgrade of the HTTP server comes here and to engine.io's listener. engine.io serves /socket.io/ (and,
   * with `destroyUpgrade: false`, leaves every other path alone); this serves /ws and ends the rest with 404.
   */
  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '/';
    if (url.startsWith('/socket.io/')) return;
    // The HTTP server no longer listens for errors on an upgraded socket: a reset during a refusal must not throw.
    socket.on('error', this.onSocketError);
    let parsed: URL;
    try {
      parsed = new URL(url, 'http://gateway');
    } catch {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const route = this.routes.find((r) => parsed.pathname.startsWith(r.prefix));
    if (route) {
      if (!this.options.origins.admitUpgrade(req, socket)) return void this.edge.deps.metrics.handshakesRefused.inc({ reason: 'origin' });
      return route.upgrade(req, socket, head, parsed);
    }
    if (parsed.pathname !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (!this.options.origins.admitUpgrade(req, socket)) {
      this.edge.deps.metrics.handshakesRefused.inc({ reason: 'origin' });
      return;
    }
    const wss = this.wss;
    if (!wss) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, req, parsed.searchParams));
  }

  /** One listener for every upgraded socket (a closure here would keep its upgrade request alive). */
  private readonly onSocketError = (): void => this.edge.deps.metrics.wsTransportErrors.inc();

  private onOpen(ws: WebSocket, req: IncomingMessage, query: URLSearchParams): void {
    const connection = new WsConnection(ws, this.index, this.options.addresses.of(req));
    this.all.add(connection);
    this.listen(connection, ws);
    connection.authDeadline = setTimeout(() => {
      if (!connection.authenticated) this.refuse(connection, new HandshakeRefused('unauthenticated', new ChorusError('UNAUTHENTICATED', `No authentication within ${this.options.authTimeoutMs} ms: send {"type":"auth","token":"…"} first.`)));
    }, this.options.authTimeoutMs);
    this.authenticateUpgrade(connection, req, query);
  }

  /**
   * The connection's listeners. Kept apart from the upgrade's request: closures share their function's scope, and
   * one that outlives the handshake (these live as long as the connection) would keep the IncomingMessage alive —
   * kilobytes per idle connection.
   */
  private listen(connection: WsConnection, ws: WebSocket): void {
    ws.on('pong', () => (connection.alive = true));
    ws.on('error', (err) => {
      // A protocol violation (a frame over maxPayload: 1009, bad UTF-8: 1007) — ws closes the connection itself.
      this.edge.deps.metrics.wsTransportErrors.inc();
      this.logger.verbose?.(`/ws ${connection.id}: ${err.message}`, 'WsGateway');
    });
    ws.on('close', () => {
      this.all.delete(connection);
      clearTimeout(connection.authDeadline);
      connection.released();
      this.edge.closed(connection);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => connection.enqueue(() => this.onFrame(connection, data, isBinary)));
  }

  /** The upgrade's own credentials are checked before any frame is handled: frames wait in the connection's chain. */
  private authenticateUpgrade(connection: WsConnection, req: IncomingMessage, query: URLSearchParams): void {
    connection.enqueue(async () => {
      try {
        if (this.edge.isDraining) throw new HandshakeRefused('draining', new ChorusError('UNAVAILABLE', 'This gateway is shutting down; reconnect (another replica will take you).'));
        const version = query.get('protocol_version');
        if (version !== null) this.edge.checkProtocolVersion(Number(version), false);
        const access = await this.upgradeIdentity(connection, req, query);
        if (access) this.opened(connection, access);
      } catch (err) {
        this.refuse(connection, err);
      }
    });
  }

  /** The identity of the upgrade's header or ticket (connection cap taken), or undefined: wait for an `auth` frame. */
  private async upgradeIdentity(connection: WsConnection, req: IncomingMessage, query: URLSearchParams): Promise<VerifiedAccess | undefined> {
    const header = req.headers.authorization;
    if (typeof header === 'string') {
      const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
      return this.edge.authenticate(bearer, connection.id, 'Send the access token as "Authorization: Bearer <token>".');
    }
    const ticket = query.get('ticket');
    if (ticket === null) return undefined;
    const access = await this.tickets.take(ticket);
    if (!access) throw new HandshakeRefused('unauthenticated', new ChorusError('UNAUTHENTICATED', 'The ticket is unknown, used or expired (each is single-use, for 30 s): get a new one with POST /api/v1/auth/ws-ticket.'));
    await this.edge.admit(access.identity, connection.id);
    return access;
  }

  private opened(connection: WsConnection, access: VerifiedAccess, id?: MessageId): void {
    clearTimeout(connection.authDeadline);
    connection.authDeadline = undefined;
    connection.authenticate(access);
    if (!connection.open) {
      // Closed while authenticating: the slot was taken for nobody.
      this.edge.closed(connection);
      return;
    }
    this.edge.opened(connection, id);
  }

  private async onFrame(connection: WsConnection, data: RawData, isBinary: boolean): Promise<void> {
    if (!connection.open) return;
    const metrics = this.edge.deps.metrics;
    const raw = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) {
      // A compact file chunk: [u32 header length][header JSON][data] (docs/file-sync.md). Nothing else is binary.
      if (!connection.authenticated) return this.unauthenticated(connection, undefined, new ChorusError('UNAUTHENTICATED', 'Authenticate first: send {"type":"auth","token":"<access token>"} (or connect with a ticket or an Authorization header).'));
      const decoded = decodeBinaryFrame(raw);
      if (!decoded.ok || typeof decoded.header !== 'object' || decoded.header === null) {
        metrics.refused.inc({ type: 'unknown', code: 'VALIDATION_ERROR' });
        const why = decoded.ok ? 'the header must be a JSON object' : decoded.reason;
        return this.reply(connection, ChorusError.validation('(frame)', `Binary frames carry file_data only ([u32 header length][header JSON][data]): ${why}.`).toWire());
      }
      const d = Object.getOwnPropertyDescriptor(decoded.header, 'type');
      return this.reply(connection, await this.edge.handle(connection, d !== undefined && 'value' in d ? d.value : undefined, decoded.header, decoded.data));
    }
    if (!connection.authenticated && raw.length > WS_AUTH_MAX_BYTES) {
      // Before authentication nothing larger than an auth frame is read: no one may make the gateway parse
      // megabytes of JSON without a token.
      return this.unauthenticated(connection, undefined, new ChorusError('PAYLOAD_TOO_LARGE', `Until authenticated, a frame may be at most ${WS_AUTH_MAX_BYTES} bytes (send {"type":"auth","token":"…"} first).`));
    }
    let frame: unknown;
    try {
      frame = JSON.parse(raw.toString('utf8'));
    } catch {
      metrics.refused.inc({ type: 'unknown', code: 'VALIDATION_ERROR' });
      return this.reply(connection, ChorusError.validation('(message)', 'The frame is not valid JSON: send one JSON object {"type": …} per text frame.').toWire());
    }
    const id = messageIdOf(frame);
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      metrics.refused.inc({ type: 'unknown', code: 'VALIDATION_ERROR' });
      return this.reply(connection, ChorusError.validation('(message)', 'A frame must be a JSON object {"type": …}.').toWire(id));
    }
    const d = Object.getOwnPropertyDescriptor(frame, 'type');
    const type: unknown = d !== undefined && 'value' in d ? d.value : undefined;
    if (!connection.authenticated) {
      if (type === 'auth') return this.onAuthFrame(connection, frame, raw.length, id);
      return this.unauthenticated(connection, id, new ChorusError('UNAUTHENTICATED', 'Authenticate first: send {"type":"auth","token":"<access token>"} (or connect with a ticket or an Authorization header).'));
    }
    if (type === 'auth') return this.reply(connection, ChorusError.validation('type', 'This connection is already authenticated.').toWire(id));
    this.reply(connection, await this.edge.handle(connection, type, frame));
  }

  /**
   * A frame before authentication other than `auth`: answered, and counted — rate limits are per user, so an
   * unauthenticated connection gets a few answers (MAX_UNAUTHENTICATED_FRAMES), then is closed with 4500.
   */
  private unauthenticated(connection: WsConnection, id: MessageId | undefined, error: ChorusError): void {
    this.edge.deps.metrics.refused.inc({ type: 'unknown', code: error.code });
    if (++connection.unauthenticatedFrames > MAX_UNAUTHENTICATED_FRAMES) {
      return this.refuse(connection, new HandshakeRefused('unauthenticated', new ChorusError('UNAUTHENTICATED', `${MAX_UNAUTHENTICATED_FRAMES} frames without authenticating: closing.`)), id);
    }
    this.reply(connection, error.toWire(id));
  }

  private async onAuthFrame(connection: WsConnection, frame: object, bytes: number, id: MessageId | undefined): Promise<void> {
    try {
      if (bytes > WS_AUTH_MAX_BYTES) throw new ChorusError('PAYLOAD_TOO_LARGE', `An "auth" frame may be at most ${WS_AUTH_MAX_BYTES} bytes.`);
      const parsed = wsAuthSchema.safeParse(frame);
      if (!parsed.success) throw validationErrorFrom(parsed.error);
      this.edge.checkProtocolVersion(parsed.data.protocol_version, false);
      const access = await this.edge.authenticate(parsed.data.token, connection.id, 'Send the access token as "token".');
      this.opened(connection, access, id);
    } catch (err) {
      // A malformed auth frame may be retried; a refused token or a full connection cap ends the connection.
      if (err instanceof HandshakeRefused) return this.refuse(connection, err, id);
      const error = ChorusError.from(err);
      this.edge.deps.metrics.refused.inc({ type: 'unknown', code: error.code });
      this.reply(connection, error.toWire(id));
    }
  }

  private reply(connection: WsConnection, message: Parameters<WsConnection['send']>[0]): void {
    this.edge.deps.send(connection, message);
  }

  /** A refused authentication: the `error`, the `disconnect_notice`, then the close with its code. */
  private refuse(connection: WsConnection, err: unknown, id?: MessageId): void {
    const refused = err instanceof HandshakeRefused ? err : undefined;
    const error = refused?.error ?? ChorusError.from(err);
    if (!refused) this.logger.warn(`/ws authentication failed on our side: ${(err as Error)?.message ?? String(err)}`, 'WsGateway');
    this.edge.deps.metrics.handshakesRefused.inc({ reason: refused?.disconnect ?? 'server_error' });
    if (!connection.open) return;
    const retry = error.details.retry_after_ms;
    this.reply(connection, error.toWire(id));
    const notice = disconnectNotice(refused?.disconnect ?? 'server_error', error.message, retry !== undefined ? { retry_after_ms: retry } : {});
    this.edge.deps.metrics.messagesOut.inc({ type: notice.type });
    connection.close(notice);
  }

  /** Protocol pings: a connection that did not answer the previous one (a dead peer, a frozen tab) is closed. */
  private heartbeat(): void {
    for (const connection of this.all) {
      if (!connection.alive) {
        this.edge.deps.metrics.wsMissedPongs.inc();
        connection.terminate();
        continue;
      }
      connection.alive = false;
      connection.ping();
    }
  }

  private async close(): Promise<void> {
    clearInterval(this.timer);
    // What the edge did not close (connections still authenticating): closed now, without a goodbye.
    for (const connection of this.all) connection.terminate();
    for (const r of this.routes) await r.close();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
  }
}
