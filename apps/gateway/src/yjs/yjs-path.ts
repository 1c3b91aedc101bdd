import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Identity } from '@chorus/auth';
import { ChorusError, YJS_LIMITS, docIdSchema, sessionIdSchema, type Role } from '@chorus/protocol';
import { HandshakeRefused } from '../socket/edge';
import { encodePermissionDenied } from './yjs-protocol';
import { YJS_CLOSE, YjsSockets, closeFor, type YjsSocketDeps } from './yjs-socket';

/** The path prefix a stock y-websocket provider connects to: `new WebsocketProvider('ws://host/yjs', room, doc, …)`. */
export const YJS_PATH_PREFIX = '/yjs/';

export type YjsPathDeps = YjsSocketDeps;

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
  private readonly core: YjsSockets;

  constructor(private readonly deps: YjsPathDeps) {
    this.core = new YjsSockets(deps, '/yjs/');
  }

  /** Handles an upgrade whose path starts with /yjs/ (the /ws gateway's upgrade routing hands it here). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    void this.admit(url).then(
      (admitted) => {
        // The socket may be gone while we authenticated: then no open follows, and the slot goes back now.
        if (socket.destroyed) return void this.core.release(admitted.identity.user_id, admitted.id);
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
    this.core.closeAll();
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
      const grant = this.core.verifyJoin(joinToken, sessionId);
      // The token's role may be stale (a role change, a removal since it was minted): the session's is used.
      const role = await this.core.roleNow(grant, sessionId);
      const id = `yjs-${randomUUID()}`;
      await this.underLimit(grant, id);
      await this.deps.admit(grant, id);
      return { id, sessionId, docId: doc.data, identity: grant, role };
    }
    const ticket = url.searchParams.get('ticket');
    if (ticket === null) throw new ChorusError('UNAUTHENTICATED', 'Connect with ?join_token=… (POST /sessions/:id/join) or ?ticket=… (POST /api/v1/auth/ws-ticket).');
    const access = await this.deps.tickets.take(ticket);
    if (!access) throw new ChorusError('UNAUTHENTICATED', 'The ticket is unknown, used or expired (each is single-use, for 30 s).');
    // A ticket proves who, not where: the role is the participant's in this session now.
    const role = await this.core.roleNow(access.identity, sessionId);
    const id = `yjs-${randomUUID()}`;
    await this.underLimit(access.identity, id);
    await this.deps.admit(access.identity, id);
    return { id, sessionId, docId: doc.data, identity: access.identity, role };
  }

  /**
   * A connection counts as a message of the user's `yjs` budget: a provider closed for its rate limit (4529)
   * reconnects at once (y-websocket's first retry is after 200 ms), and while its user is still over the budget the
   * upgrade is refused 429 — a failed attempt, so the provider's backoff grows (it is reset only by a sync), and a
   * fresh socket is no way around the per-user limit. Nothing is lost meanwhile: the provider keeps its document
   * and sends what is not stored in its resync. (Counted with the other refused upgrades, `reason="RATE_LIMITED"`.)
   */
  private async underLimit(identity: Identity, id: string): Promise<void> {
    await this.deps.limiter.check('yjs', id, identity.user_id);
  }

  private onOpen(ws: WebSocket, a: Admitted): void {
    this.core.opened(ws, a.identity.user_id, a.id);
    let told = false;
    const channel = this.core.channel(
      { connectionId: a.id, subscriberId: a.id, sessionId: a.sessionId, docId: a.docId, identity: a.identity, role: a.role },
      {
        send: (message) => {
          if (ws.readyState === ws.OPEN) ws.send(message);
        },
        readOnly: () => {
          // The provider is told once, with y-protocols' permission-denied message (y-websocket logs it).
          if (!told && ws.readyState === ws.OPEN) ws.send(encodePermissionDenied('read-only: your role may not edit this document'));
          told = true;
        },
        // A new role applies to the next update; a viewer made editor again is told again if demoted later.
        roleChanged: () => void (told = false),
        removed: (reason) => ws.close(YJS_CLOSE.removed, reason),
        refused: (error) => {
          const { code, reason } = closeFor(error);
          ws.close(code, reason);
        },
      },
    );
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (ws.readyState !== ws.OPEN) return;
      if (!isBinary) return void ws.close(YJS_CLOSE.malformed, 'binary frames of y-protocols messages only');
      channel.receive(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    });
    ws.on('error', (err) => this.deps.logger.verbose?.(`/yjs/ ${a.id}: ${err.message}`, 'YjsPath'));
    ws.on('close', () => {
      this.core.closed(ws);
      channel.close();
    });
  }
}
