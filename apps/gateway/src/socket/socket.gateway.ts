import type { Server as HttpServer } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { Server, type ExtendedError } from 'socket.io';
import { ChorusError, MAX_FRAME_BYTES, disconnectNotice, type ServerMessage } from '@chorus/protocol';
import type { ClientAddresses } from '../http/client-address';
import type { OriginPolicy } from '../http/origin-policy';
import { SocketIoConnection, type ChorusSocket } from './connection';
import { HandshakeRefused, type Edge } from './edge';

export interface SocketGatewayOptions {
  /** Browser origins allowed to open a socket (CORS_ORIGINS), checked on every transport's handshake. */
  readonly origins: OriginPolicy;
  /** The client address of a handshake (TRUSTED_PROXIES), the same as every REST limiter's. */
  readonly addresses: ClientAddresses;
  readonly transports: Array<'websocket' | 'polling'>;
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
}

type Ack = (reply: ServerMessage) => void;

/**
 * The Socket.IO transport of the edge: the handshake (protocol version, token, connection cap), then every
 * inbound event goes to `Edge.handle` and its one reply is the ack — every request is acked, so `emitWithAck`
 * never hangs. Pushes are written by the local hub through `io.local` (encoded once per push).
 */
export class SocketGateway {
  private io: Server | undefined;
  private readonly redisClients: Redis[] = [];

  constructor(
    private readonly options: SocketGatewayOptions,
    private readonly edge: Edge,
    /** The hub writes pushes through this server (fanout/local-hub.ts). */
    private readonly bindHub: (io: Server) => void,
    private readonly logger: LoggerService,
  ) {}

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
          this.edge.deps.metrics.handshakesRefused.inc({ reason: 'origin' });
          this.logger.verbose?.(`Refused a handshake from ${this.options.addresses.of(req)}: ${refusal}`, 'SocketGateway');
        }
        callback(refusal ?? null, refusal === undefined);
      },
      // The transport ceiling, well above every per-kind limit: a too-large message still arrives and is acked
      // PAYLOAD_TOO_LARGE by libs/protocol; only a frame above 1 MiB closes the connection (docs/protocol.md).
      maxHttpBufferSize: MAX_FRAME_BYTES,
      serveClient: false,
      // engine.io would otherwise end every upgrade of another path (our /ws) that has not written a byte within
      // a second — a /ws handshake waiting on Redis (a ticket, the connection cap) under load. /ws ends the
      // upgrades of paths nobody serves itself (ws.gateway.ts).
      destroyUpgrade: false,
    });
    if (this.options.redisUrl !== undefined) {
      const pub = new Redis(this.options.redisUrl, { connectionName: 'socketio-pub' });
      const sub = pub.duplicate({ connectionName: 'socketio-sub' });
      for (const c of [pub, sub]) c.on('error', () => undefined);
      this.redisClients.push(pub, sub);
      io.adapter(createAdapter(pub, sub, { key: `${this.options.redisPrefix}:socket.io` }));
    }
    this.io = io;
    this.bindHub(io);
    io.use((socket, next) => void this.authenticate(socket as ChorusSocket).then(() => next(), (err: unknown) => next(toConnectError(err))));
    io.on('connection', (socket) => this.onConnection(socket as ChorusSocket));
    this.edge.addTransport({ close: () => this.close() });
  }

  /** The handshake: protocol version, access token, per-user connection cap. */
  private async authenticate(socket: ChorusSocket): Promise<void> {
    const auth = (socket.handshake.auth ?? {}) as { token?: unknown; protocol_version?: unknown };
    if (this.edge.isDraining) throw new HandshakeRefused('draining', new ChorusError('UNAVAILABLE', 'This gateway is shutting down; reconnect (another replica will take you).'));
    this.edge.checkProtocolVersion(auth.protocol_version, true);
    const access = await this.edge.authenticate(auth.token, socket.id, 'Send an access token as auth.token in the handshake.');
    socket.data = { identity: access.identity, memberships: new Map(), address: this.options.addresses.of(socket.request), tokenExpiresAtMs: access.expires_at_ms };
  }

  private onConnection(socket: ChorusSocket): void {
    const connection = new SocketIoConnection(socket);
    this.edge.opened(connection);
    socket.onAny((event: unknown, ...args: unknown[]) => void this.dispatch(connection, event, args));
    socket.on('disconnect', () => this.edge.closed(connection));
  }

  private async dispatch(connection: SocketIoConnection, event: unknown, args: unknown[]): Promise<void> {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    const [payload, binary] = splitBinary(event, args[0]);
    const reply = await this.edge.handle(connection, event, payload, binary);
    if (ack) {
      this.edge.deps.metrics.messagesOut.inc({ type: reply.type });
      ack(reply);
    } else if (reply.type === 'error') {
      // A message sent without an ack callback still learns about its failure.
      this.edge.deps.send(connection, reply);
    }
  }

  private async close(): Promise<void> {
    await new Promise<void>((resolve) => void this.io?.close(() => resolve()));
    // QUIT, not disconnect(): io.close() does not await the adapter's UNSUBSCRIBEs, which would otherwise be
    // rejected unanswered ("Connection is closed") whenever Redis is a little slower to reply.
    // A client still connecting holds the adapter's SUBSCRIBEs in its offline queue (a gateway stopped right after
    // it started): let it connect first, so they are answered before the QUIT instead of rejected unhandled.
    await Promise.all(this.redisClients.map(async (c) => {
      await settled(c, REDIS_CONNECT_WAIT_MS);
      await c.quit().catch(() => c.disconnect());
    }));
  }
}

/**
 * A compact file chunk (`file_data`) carries its bytes as a binary attachment in `data`: taken out before the
 * JSON checks (which refuse binary anywhere else) and handed to the edge beside the message.
 */
function splitBinary(event: unknown, payload: unknown): [unknown, Uint8Array | undefined] {
  if (event !== 'file_data' || typeof payload !== 'object' || payload === null || Array.isArray(payload)) return [payload, undefined];
  const d = Object.getOwnPropertyDescriptor(payload, 'data');
  if (d === undefined || !('value' in d) || !(d.value instanceof Uint8Array)) return [payload, undefined];
  const { data: _data, ...header } = payload as Record<string, unknown>;
  return [header, d.value];
}

/** How long a stopping gateway waits for a Socket.IO adapter client that is still connecting. */
const REDIS_CONNECT_WAIT_MS = 2_000;

/** Resolves once `client` is ready, closed for good, or `ms` have passed, whichever is first. */
function settled(client: Redis, ms: number): Promise<void> {
  if (client.status !== 'wait' && client.status !== 'connecting' && client.status !== 'connect' && client.status !== 'reconnecting') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('end', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    client.once('ready', done);
    client.once('end', done);
  });
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
