import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LoggerService } from '@nestjs/common';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { TokenError, can, type Identity, type IdentityTokens } from '@chorus/auth';
import { ChorusError, YJS_LIMITS, docIdSchema, sessionIdSchema, type Role } from '@chorus/protocol';
import type { SessionStreams, StreamMember } from '../fanout/session-streams';
import { CONNECTION_LEASE_MS, type ConnectionRegistry } from '../limits/connection-registry';
import type { WsRateLimiter } from '../limits/ws-rate-limiter';
import type { SessionRouter } from '../routing/session.router';
import type { WsTickets } from '../ws/ws-tickets';
import type { YjsDocs, YjsSubscriber } from './yjs-docs';
import type { YjsMetrics } from './yjs.metrics';
import { HandshakeRefused } from '../socket/edge';
import { encodePermissionDenied } from './yjs-protocol';

/** The path prefix a stock y-websocket provider connects to: `new WebsocketProvider('ws://host/yjs', room, doc, …)`. */
export const YJS_PATH_PREFIX = '/yjs/';

/**
 * Close codes (4000–4999, as the /ws protocol's). y-websocket (3.x) reconnects and resyncs after any of them except
 * 4400–4499, which it takes as final: `removed` (4403) is meant so.
 */
const CLOSE = { rateLimited: 4429, refused: 4400, unavailable: 4503, draining: 4001, removed: 4403 } as const;

export interface YjsPathDeps {
  readonly docs: YjsDocs;
  readonly tokens: IdentityTokens;
  readonly tickets: WsTickets;
  readonly sessions: SessionRouter;
  readonly streams: SessionStreams;
  readonly limiter: WsRateLimiter;
  readonly metrics: YjsMetrics;
  readonly logger: LoggerService;
  /** Whether the gateway still takes connections (false while draining). */
  readonly accepting: () => boolean;
  /**
   * Takes a slot of the user's connection cap (MAX_CONNECTIONS_PER_USER, shared with Socket.IO and /ws, across
   * gateways): the Edge's `admit`; throws when the user has no slot left.
   */
  readonly admit: (identity: Identity, connectionId: string) => Promise<void>;
  /** The same registry the Edge counts in: a /yjs/ socket's slot is renewed while open and released at close. */
  readonly connections: ConnectionRegistry;
}

interface Admitted {
  readonly id: string;
  readonly sessionId: string;
  readonly docId: string;
  readonly identity: Identity;
  readonly role: Role;
}

/**
 * The stock-provider path (docs/yjs.md): `ws://host/yjs/<session_id>/<encodeURIComponent(doc_id)>?join_token=…`
 * (or `?ticket=…`, single-use, from POST /api/v1/auth/ws-ticket), binary frames of y-protocols messages — what
 * y-websocket's WebsocketProvider speaks, unmodified. Authenticated before the upgrade (401/403/404 otherwise),
 * so a refused provider never sees an open socket. Each frame goes through the same YjsDocs as `yjs_sync`.
 *
 * The provider has no ack and no error message: an update that cannot be stored (the conflict service is down,
 * rate limit, malformed) closes the connection, and the provider's resync on reconnect (step 1 / step 2) sends
 * it again — nothing acknowledged is lost, nothing unacknowledged is silently dropped. A viewer's updates are
 * refused (counted, and the provider told once with y-protocols' permission-denied message) and the socket stays
 * open: read-only sync.
 */
export class YjsPath {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: YJS_LIMITS.maxUpdateBytes + 1024, perMessageDeflate: false, clientTracking: false });
  /** The open sockets and the cap slot each holds. */
  private readonly open = new Map<WebSocket, { userId: string; connectionId: string }>();
  private readonly leaseTimer: ReturnType<typeof setInterval>;

  constructor(private readonly deps: YjsPathDeps) {
    // The slots are leases (a dead gateway's expire): renewed for every open socket, as the Edge does for its own.
    this.leaseTimer = setInterval(() => {
      if (this.open.size === 0) return;
      this.deps.connections.refresh([...this.open.values()]).catch((err: unknown) => {
        this.deps.metrics.pathRefused.inc({ reason: 'lease_refresh_failed' });
        this.deps.logger.warn(`/yjs/ connection leases not renewed: ${(err as Error).message}`, 'YjsPath');
      });
    }, CONNECTION_LEASE_MS / 3);
    this.leaseTimer.unref();
  }

  /** Handles an upgrade whose path starts with /yjs/ (the /ws gateway's upgrade routing hands it here). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    void this.admit(url).then(
      (admitted) => {
        // The socket may be gone while we authenticated: then no open follows, and the slot goes back now.
        if (socket.destroyed) return void this.release(admitted.identity.user_id, admitted.id);
        this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, admitted));
      },
      (err: unknown) => {
        // The Edge refuses an over-cap connection with a HandshakeRefused carrying the wire error (RATE_LIMITED).
        const error = ChorusError.from(err instanceof HandshakeRefused ? err.error : err);
        this.deps.metrics.pathRefused.inc({ reason: error.code });
        const status = error.code === 'UNAUTHENTICATED' ? '401 Unauthorized' : error.code === 'PERMISSION_DENIED' ? '403 Forbidden' : error.code === 'NOT_FOUND' ? '404 Not Found' : error.code === 'UNAVAILABLE' ? '503 Service Unavailable' : error.code === 'RATE_LIMITED' ? '429 Too Many Requests' : '400 Bad Request';
        const body = JSON.stringify(error.toWire());
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      },
    );
  }

  /** Closes every /yjs/ socket (the gateway drains): providers reconnect to another replica and resync. */
  async close(): Promise<void> {
    clearInterval(this.leaseTimer);
    for (const ws of this.open.keys()) ws.close(CLOSE.draining, 'draining');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private async admit(url: URL): Promise<Admitted> {
    if (!this.deps.accepting()) throw new ChorusError('UNAVAILABLE', 'This gateway is shutting down; reconnect.');
    const rest = url.pathname.slice(YJS_PATH_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash < 0) throw new ChorusError('NOT_FOUND', 'The path is /yjs/<session_id>/<encodeURIComponent(doc_id)>.');
    let docRaw: string;
    try {
      // The provider joins serverUrl and room with '/': the doc id arrives percent-encoded once (its '/' as %2F).
      docRaw = decodeURIComponent(rest.slice(slash + 1));
    } catch {
      throw ChorusError.validation('doc_id', 'The document id in the path is not valid percent-encoding.');
    }
    const session = sessionIdSchema.safeParse(rest.slice(0, slash));
    if (!session.success) throw ChorusError.validation('session_id', 'The path is /yjs/<session_id>/<doc_id>: session_id is a UUID.');
    const doc = docIdSchema.safeParse(docRaw);
    if (!doc.success) throw ChorusError.validation('doc_id', `Invalid document id: ${doc.error.issues[0]?.message ?? 'invalid'}.`);
    const sessionId = session.data;
    const joinToken = url.searchParams.get('join_token');
    if (joinToken !== null) {
      let grant;
      try {
        grant = this.deps.tokens.verifyJoin(joinToken);
      } catch (err) {
        const reason = err instanceof TokenError ? err.reason.replace('_', ' ') : 'invalid';
        throw new ChorusError('UNAUTHENTICATED', `The join token was refused (${reason}); get a new one from POST /api/v1/collaboration/sessions/:id/join.`);
      }
      if (grant.session_id !== sessionId) throw new ChorusError('PERMISSION_DENIED', 'This join token is for another session.');
      // The token's role may be stale (a role change, a removal since it was minted): the session's is used.
      const role = await this.roleNow(grant, sessionId);
      const id = `yjs-${randomUUID()}`;
      await this.deps.admit(grant, id);
      return { id, sessionId, docId: doc.data, identity: grant, role };
    }
    const ticket = url.searchParams.get('ticket');
    if (ticket === null) throw new ChorusError('UNAUTHENTICATED', 'Connect with ?join_token=… (POST /sessions/:id/join) or ?ticket=… (POST /api/v1/auth/ws-ticket).');
    const access = await this.deps.tickets.take(ticket);
    if (!access) throw new ChorusError('UNAUTHENTICATED', 'The ticket is unknown, used or expired (each is single-use, for 30 s).');
    // A ticket proves who, not where: the role is the participant's in this session now.
    const role = await this.roleNow(access.identity, sessionId);
    const id = `yjs-${randomUUID()}`;
    await this.deps.admit(access.identity, id);
    return { id, sessionId, docId: doc.data, identity: access.identity, role };
  }

  /** The user's role in the session now (the session service's rows); PERMISSION_DENIED when not a participant. */
  private async roleNow(identity: Identity, sessionId: string): Promise<Role> {
    const participants = await this.deps.sessions.call('participant.list', { actor: identity, session_id: sessionId });
    const me = participants.find((p) => p.user_id === identity.user_id);
    if (!me) throw new ChorusError('PERMISSION_DENIED', 'You are not a participant of this session: join it first.');
    return me.role;
  }

  /**
   * Follows the session stream as a member (docs/yjs.md "Roles"): a role change applies to the socket's next
   * update, a removal (or the session's deletion) closes it with 4403. Attached at the stream's head, then the role
   * is read again: a change before the attach is in that read, one after it arrives as an effect.
   */
  private async follow(ws: WebSocket, a: Admitted, member: StreamMember, setRole: (role: Role) => void): Promise<void> {
    const { head } = await this.deps.sessions.call('session.events', { session_id: a.sessionId, user_id: a.identity.user_id, after_seq: 0, limit: 1 });
    // No replay (a last_seq past any head): the socket takes no session events, only their effects from here on.
    await this.deps.streams.attach(a.sessionId, member, head, Number.MAX_SAFE_INTEGER);
    try {
      setRole(await this.roleNow(a.identity, a.sessionId));
    } catch (err) {
      // Attached either way (the close detaches): removed meanwhile, or the role unknown — closed, to resync.
      const code = ChorusError.from(err).code;
      const removed = code === 'PERMISSION_DENIED' || code === 'NOT_FOUND';
      if (!removed) this.deps.logger.warn(`/yjs/ ${a.id}: role not read again: ${(err as Error).message}`, 'YjsPath');
      ws.close(removed ? CLOSE.removed : CLOSE.unavailable, removed ? 'removed' : 'unavailable');
    }
  }

  private release(userId: string, connectionId: string): void {
    this.deps.connections.unregister(userId, connectionId).catch((err: unknown) => {
      this.deps.metrics.pathRefused.inc({ reason: 'release_failed' });
      this.deps.logger.warn(`/yjs/ ${connectionId}: connection slot not released (expires with its lease): ${(err as Error).message}`, 'YjsPath');
    });
  }

  private onOpen(ws: WebSocket, a: Admitted): void {
    const id = a.id;
    this.open.set(ws, { userId: a.identity.user_id, connectionId: id });
    this.deps.metrics.pathConnections.inc();
    let told = false;
    // Live: a role change of the session applies to the next update (a demoted editor is refused like a viewer).
    let role = a.role;
    const subscriber: YjsSubscriber = {
      id,
      userId: a.identity.user_id,
      clientId: `yjs:${id.slice(4, 40)}`,
      role: () => role,
      subscribe: async () => undefined,
      sink: (frame) => {
        if (ws.readyState === ws.OPEN) ws.send(frame);
      },
    };
    const member: StreamMember = {
      id,
      userId: a.identity.user_id,
      peerId: subscriber.clientId,
      onEffect: (effect) => {
        if (effect.kind === 'role') {
          const before = role;
          role = effect.role;
          told = false;
          // May edit again: ask for what the provider typed meanwhile (refused then; later updates depend on it).
          if (!can(before, 'document.edit') && can(role, 'document.edit') && this.deps.docs.isSubscribed(subscriber, a.sessionId, a.docId)) {
            this.deps.docs.serverStep1({ user_id: a.identity.user_id, client_id: subscriber.clientId, role }, a.sessionId, a.docId).then(
              (frame) => subscriber.sink?.(frame),
              (err: unknown) => {
                // Not fatal: the provider's next reconnect resyncs the same way.
                this.deps.logger.warn(`/yjs/ ${id}: no resync after the promotion: ${(err as Error).message}`, 'YjsPath');
                this.deps.metrics.pathRefused.inc({ reason: 'resync_failed' });
              },
            );
          }
          return;
        }
        this.deps.metrics.pathRefused.inc({ reason: effect.kind === 'session_deleted' ? 'session_deleted' : 'removed' });
        ws.close(CLOSE.removed, effect.kind === 'session_deleted' ? 'session_deleted' : 'removed');
      },
    };
    // 'attached': a member of the session stream (detach at close); 'opened': only the hold (release at close).
    const streamOpened: Promise<'attached' | 'opened' | false> = this.deps.streams.open(a.sessionId).then(
      () =>
        this.follow(ws, a, member, (now) => (role = now)).then(
          () => 'attached' as const,
          (err: unknown) => {
            this.deps.logger.warn(`/yjs/ ${id}: not following the session stream: ${(err as Error).message}`, 'YjsPath');
            ws.close(CLOSE.unavailable, 'unavailable');
            // attach consumes the hold: if it never ran (the head read failed), the hold is released at close.
            return 'opened' as const;
          },
        ),
      (err: unknown) => {
        this.deps.logger.warn(`/yjs/ ${id}: session stream not opened: ${(err as Error).message}`, 'YjsPath');
        ws.close(CLOSE.unavailable, 'unavailable');
        return false as const;
      },
    );
    const handleFrame = async (data: RawData, isBinary: boolean): Promise<void> => {
      if (ws.readyState !== ws.OPEN) return;
      if (!isBinary) return void ws.close(CLOSE.refused, 'binary frames of y-protocols messages only');
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      try {
        await this.deps.limiter.check('yjs', id, a.identity.user_id);
      } catch {
        this.deps.metrics.refused.inc({ reason: 'rate_limited' });
        return void ws.close(CLOSE.rateLimited, 'rate limited: reconnect later');
      }
      try {
        const outcome = await this.deps.docs.handle(subscriber, a.sessionId, a.docId, bytes);
        for (const reply of outcome.replies) ws.send(reply);
      } catch (err) {
        const error = ChorusError.from(err);
        if (error.code === 'PERMISSION_DENIED') {
          // Read-only sync: the update is dropped, the socket stays (the viewer still receives updates).
          if (!told) ws.send(encodePermissionDenied('read-only: your role may not edit this document'));
          told = true;
          return;
        }
        if (error.code === 'SERVER_ERROR') this.deps.logger.error(`/yjs/ ${id}: ${(err as Error)?.stack ?? String(err)}`, undefined, 'YjsPath');
        else this.deps.logger.warn(`/yjs/ ${id}: message refused (${error.code}): ${error.message}`, 'YjsPath');
        this.deps.metrics.refused.inc({ reason: error.code === 'UNAVAILABLE' || error.code === 'SERVER_ERROR' ? 'failed' : 'refused' });
        // Not stored: closing makes the provider reconnect and resend it with its resync.
        ws.close(error.retryable ? CLOSE.unavailable : CLOSE.refused, error.code);
      }
    };
    // Until the connection is subscribed (its first sync step 1 answered), frames wait in order: an update before
    // it would be refused. After it, updates commute (a CRDT) and each is handled at once, so one slow append does
    // not hold up the ones behind it (pipelining; each is still acknowledged only when durable).
    let chain: Promise<void> = streamOpened.then(() => undefined);
    let pipelined = false;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (pipelined) return void handleFrame(data, isBinary);
      chain = chain.then(async () => {
        if (pipelined) return handleFrame(data, isBinary);
        await handleFrame(data, isBinary);
        pipelined = this.deps.docs.isSubscribed(subscriber, a.sessionId, a.docId);
      });
    });
    ws.on('error', (err) => this.deps.logger.verbose?.(`/yjs/ ${id}: ${err.message}`, 'YjsPath'));
    ws.on('close', () => {
      this.open.delete(ws);
      this.release(a.identity.user_id, id);
      this.deps.metrics.pathConnections.dec();
      this.deps.docs.unsubscribe(subscriber, a.sessionId, a.docId);
      void streamOpened.then((opened) => (opened === 'attached' ? this.deps.streams.detach(a.sessionId, id) : opened === 'opened' ? this.deps.streams.release(a.sessionId) : undefined)).catch((err: unknown) => this.deps.logger.warn(`/yjs/ ${id}: release failed: ${(err as Error).message}`, 'YjsPath'));
    });
  }
}
