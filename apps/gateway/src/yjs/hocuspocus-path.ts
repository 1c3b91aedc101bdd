import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { can, type JoinGrant } from '@chorus/auth';
import { ChorusError, YJS_LIMITS, docIdSchema, sessionIdSchema, type Role } from '@chorus/protocol';
import { HandshakeRefused } from '../socket/edge';
import { YJS_CLOSE, YjsSockets, closeFor, type YjsChannel, type YjsSocketDeps } from './yjs-socket';

/** The path an unmodified @hocuspocus/provider connects to: `new HocuspocusProvider({ url: 'ws://host/hocuspocus', … })`. */
export const HOCUSPOCUS_PATH = '/hocuspocus';

/**
 * The Hocuspocus wire (@hocuspocus/provider and @hocuspocus/common 4.x): every frame is a varstring — the document
 * name, with `\0<provider session>` appended when the provider multiplexes one name — then a varuint type and its
 * body. Sync, Awareness and QueryAwareness carry y-protocols messages unchanged (after the type); Auth is a
 * varuint sub-type (0 token, 1 permission denied, 2 authenticated) and a varstring (the token, a reason, the
 * scope); SyncStatus a varuint (1 applied); Close and Stateless the provider's detach and its app messages. Ping and
 * Pong are a single byte, no name.
 */
const MSG = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3, stateless: 5, close: 7, syncStatus: 8, pong: 10 } as const;
const AUTH = { token: 0, permissionDenied: 1, authenticated: 2 } as const;

/** Bounds on what an unauthenticated socket may make this node hold (Hocuspocus's own are 100 documents, 5 MiB). */
export const HOCUSPOCUS_LIMITS = { authTimeoutMs: 10_000, maxDocuments: 100, maxPendingMessages: 200, maxPendingBytes: 1 << 20, maxAuthMessages: 200 } as const;

/** One document name on a socket: waiting for its token (messages queued), refused, or a live channel. */
type DocState = { readonly state: 'pending'; readonly queue: Uint8Array[] } | { readonly state: 'denied' } | { readonly state: 'open'; readonly channel: YjsChannel };

/**
 * The Hocuspocus provider's protocol (docs/yjs.md "Hocuspocus provider"), a second framing over the same core as
 * /yjs/ (YjsSockets): the name `session_id/doc_id` addresses a document, the provider's token (a join token, sent in
 * its Auth message — never in the URL) is checked per document and answered `authenticated` (`read-write`, or
 * `readonly` for viewers) or `permission-denied` with the reason. Several documents may share one socket (one user
 * per socket: its cap slot is taken at the first accepted token). An update is acknowledged with SyncStatus only once
 * it is durable; a viewer's update is refused with SyncStatus(false), nothing stored, the socket staying open.
 */
export class HocuspocusPath {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: YJS_LIMITS.maxUpdateBytes + 4096, perMessageDeflate: false, clientTracking: false });
  private readonly core: YjsSockets;
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly deps: YjsSocketDeps) {
    this.core = new YjsSockets(deps, HOCUSPOCUS_PATH);
  }

  /** The upgrade is accepted unauthenticated (the token comes in the first frame): draining refuses it with 503. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const refuse = (status: string, error: ChorusError): void => {
      this.deps.metrics.pathRefused.inc({ reason: error.code });
      const body = JSON.stringify(error.toWire());
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    if (url.pathname !== HOCUSPOCUS_PATH && url.pathname !== `${HOCUSPOCUS_PATH}/`) return refuse('404 Not Found', new ChorusError('NOT_FOUND', `The Hocuspocus path is ${HOCUSPOCUS_PATH}; the document is named in the provider's messages.`));
    if (!this.deps.accepting()) return refuse('503 Service Unavailable', new ChorusError('UNAVAILABLE', 'This gateway is shutting down; reconnect.'));
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws));
  }

  async close(): Promise<void> {
    this.core.closeAll();
    for (const ws of this.sockets) ws.close(YJS_CLOSE.draining, 'draining');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onOpen(ws: WebSocket): void {
    this.sockets.add(ws);
    const connectionId = `hp-${randomUUID()}`;
    const docs = new Map<string, DocState>();
    let owner: string | undefined;
    let authChain: Promise<void> = Promise.resolve();
    let authMessages = 0;
    let pending = { messages: 0, bytes: 0 };
    const frame = (name: string, write: (e: encoding.Encoder) => void): Uint8Array => {
      const e = encoding.createEncoder();
      encoding.writeVarString(e, name);
      write(e);
      return encoding.toUint8Array(e);
    };
    const send = (bytes: Uint8Array): void => {
      if (ws.readyState === ws.OPEN) ws.send(bytes);
    };
    const close = (code: number, reason: string): void => ws.close(code, reason.slice(0, 120));
    const deny = (name: string, reason: string): void => send(frame(name, (e) => (encoding.writeVarUint(e, MSG.auth), encoding.writeVarUint(e, AUTH.permissionDenied), encoding.writeVarString(e, reason))));
    /** A queue leaves the socket's pending count (handed to its channel, or dropped). */
    const drop = (doc: DocState | undefined): void => {
      if (doc?.state !== 'pending') return;
      pending = { messages: pending.messages - doc.queue.length, bytes: pending.bytes - doc.queue.reduce((n, b) => n + b.length, 0) };
    };
    const timer = setTimeout(() => owner === undefined && close(YJS_CLOSE.unauthorized, 'Unauthorized: no accepted token in time'), HOCUSPOCUS_LIMITS.authTimeoutMs);
    timer.unref();

    const authenticate = async (name: string, token: string): Promise<void> => {
      const current = docs.get(name);
      let grant: JoinGrant;
      let docId: string;
      let role: Role;
      try {
        const [sessionId, doc] = parseName(name);
        docId = doc;
        grant = this.core.verifyJoin(token, sessionId);
        if (owner !== undefined && grant.user_id !== owner) throw new ChorusError('PERMISSION_DENIED', 'This connection carries another user: one user per connection.');
        // The token's role may be stale (a role change, a removal since it was minted): the session's is used.
        role = await this.core.roleNow(grant, sessionId);
        if (owner === undefined) {
          await this.deps.admit(grant, connectionId);
          if (ws.readyState !== ws.OPEN) return void this.core.release(grant.user_id, connectionId);
          owner = grant.user_id;
          this.core.opened(ws, owner, connectionId);
        }
      } catch (err) {
        const error = ChorusError.from(err instanceof HandshakeRefused ? err.error : err);
        this.deps.metrics.pathRefused.inc({ reason: error.code });
        if (current?.state === 'open') current.channel.close();
        drop(current);
        docs.set(name, { state: 'denied' });
        deny(name, error.message);
        // Over the connection cap (or draining): closed, the provider retries with backoff.
        if (err instanceof HandshakeRefused) close(error.code === 'RATE_LIMITED' ? YJS_CLOSE.rateLimited : YJS_CLOSE.unavailable, error.message);
        return;
      }
      // The socket closed, or the provider detached the document (or sent another token), meanwhile.
      if (ws.readyState !== ws.OPEN || docs.get(name) !== current) return;
      const authenticated = (now: Role): void => send(frame(name, (e) => (encoding.writeVarUint(e, MSG.auth), encoding.writeVarUint(e, AUTH.authenticated), encoding.writeVarString(e, can(now, 'document.edit') ? 'read-write' : 'readonly'))));
      // A token refresh of an open document: answered; its role is the channel's, which follows the session.
      if (current?.state === 'open') return authenticated(current.channel.role);
      authenticated(role);
      const prefix = frame(name, () => undefined);
      const channel = this.core.channel(
        { connectionId, subscriberId: `hp-${randomUUID()}`, sessionId: grant.session_id, docId, identity: grant, role },
        {
          send: (message) => {
            if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([prefix, message]));
          },
          // An update is acknowledged once durable (an empty one, nothing to store, at once): what the provider's
          // unsyncedChanges counts down.
          handled: (outcome) => (outcome.kind === 'step2' || outcome.kind === 'update' ? send(frame(name, (e) => (encoding.writeVarUint(e, MSG.syncStatus), encoding.writeVarUint(e, 1)))) : undefined),
          readOnly: () => send(frame(name, (e) => (encoding.writeVarUint(e, MSG.syncStatus), encoding.writeVarUint(e, 0)))),
          // Live roles: the provider is told its new scope (it updates `authorizedScope`).
          roleChanged: (now) => authenticated(now),
          // Removed from the session (or it was deleted): this document ends, the socket stays for any others.
          removed: (reason) => {
            channel.close();
            if (docs.get(name)?.state === 'open') docs.set(name, { state: 'denied' });
            deny(name, reason === 'session_deleted' ? 'The session was deleted.' : 'You were removed from the session.');
          },
          refused: (error) => {
            const { code, reason } = closeFor(error);
            close(code, reason);
          },
        },
      );
      const queued = current?.state === 'pending' ? current.queue : [];
      drop(current);
      docs.set(name, { state: 'open', channel });
      for (const body of queued) channel.receive(body);
    };

    const onFrame = (bytes: Uint8Array): void => {
      // The provider's answer to a Ping (which this server does not send: its own awareness renewals keep it alive).
      if (bytes.length === 1 && bytes[0] === MSG.pong) return;
      const d = decoding.createDecoder(bytes);
      let name: string;
      let type: number;
      let typeAt: number;
      try {
        name = decoding.readVarString(d);
        typeAt = d.pos;
        type = decoding.readVarUint(d);
      } catch {
        this.deps.metrics.refused.inc({ reason: 'malformed' });
        return close(YJS_CLOSE.refused, 'not a Hocuspocus message');
      }
      const doc = docs.get(name);
      switch (type) {
        case MSG.auth: {
          if (++authMessages > HOCUSPOCUS_LIMITS.maxAuthMessages) return close(YJS_CLOSE.refused, 'too many authentication messages');
          let token: string;
          try {
            if (decoding.readVarUint(d) !== AUTH.token) throw new Error('only token messages are accepted');
            token = decoding.readVarString(d);
          } catch {
            this.deps.metrics.refused.inc({ reason: 'malformed' });
            return close(YJS_CLOSE.refused, 'malformed authentication message');
          }
          if (doc === undefined && !admitName()) return;
          if (doc === undefined || doc.state === 'denied') docs.set(name, { state: 'pending', queue: [] });
          authChain = authChain.then(() => authenticate(name, token)).catch((err: unknown) => {
            this.deps.logger.error(`${HOCUSPOCUS_PATH} ${connectionId}: ${(err as Error)?.stack ?? String(err)}`, undefined, 'HocuspocusPath');
            close(YJS_CLOSE.unavailable, 'SERVER_ERROR');
          });
          return;
        }
        case MSG.sync:
        case MSG.awareness:
        case MSG.queryAwareness: {
          // These three types are y-protocols' own (0, 1, 3): from the type on, the frame is a y-protocols message.
          const body = bytes.subarray(typeAt);
          if (doc?.state === 'open') return doc.channel.receive(body);
          if (doc?.state === 'denied') return void this.deps.metrics.refused.inc({ reason: 'unauthenticated' });
          // Before its token is answered (the provider sends token, step 1 and awareness at once): queued, bounded.
          if (doc === undefined && !admitName()) return;
          const waiting = doc ?? { state: 'pending' as const, queue: [] };
          docs.set(name, waiting);
          pending = { messages: pending.messages + 1, bytes: pending.bytes + body.length };
          if (pending.messages > HOCUSPOCUS_LIMITS.maxPendingMessages || pending.bytes > HOCUSPOCUS_LIMITS.maxPendingBytes) return close(YJS_CLOSE.refused, 'too much sent before authentication');
          waiting.queue.push(body);
          return;
        }
        case MSG.close:
          // The provider detached this document (the socket stays for its others).
          if (doc?.state === 'open') doc.channel.close();
          drop(doc);
          docs.delete(name);
          return;
        case MSG.stateless:
          // No server hooks here: a stateless message has no receiver. Counted, not relayed (docs/yjs.md).
          this.deps.metrics.refused.inc({ reason: 'stateless' });
          return;
        default:
          this.deps.metrics.refused.inc({ reason: 'malformed' });
          return close(YJS_CLOSE.refused, `unsupported Hocuspocus message type ${type}`);
      }
    };
    const admitName = (): boolean => {
      if (docs.size < HOCUSPOCUS_LIMITS.maxDocuments) return true;
      close(YJS_CLOSE.refused, `at most ${HOCUSPOCUS_LIMITS.maxDocuments} documents per connection`);
      return false;
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (ws.readyState !== ws.OPEN) return;
      if (!isBinary) return void close(YJS_CLOSE.refused, 'binary frames of Hocuspocus messages only');
      onFrame(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    });
    ws.on('error', (err) => this.deps.logger.verbose?.(`${HOCUSPOCUS_PATH} ${connectionId}: ${err.message}`, 'HocuspocusPath'));
    ws.on('close', () => {
      clearTimeout(timer);
      this.sockets.delete(ws);
      this.core.closed(ws);
      for (const doc of docs.values()) if (doc.state === 'open') doc.channel.close();
      docs.clear();
    });
  }
}

/** `session_id/doc_id` (the doc id as it is, '/' included), with the provider's `\0<session>` suffix ignored. */
function parseName(name: string): [string, string] {
  const documentName = name.split('\0', 1)[0];
  const slash = documentName.indexOf('/');
  const session = sessionIdSchema.safeParse(slash < 0 ? '' : documentName.slice(0, slash));
  if (!session.success) throw ChorusError.validation('name', 'The document name is <session_id>/<doc_id>: session_id is a UUID.');
  const doc = docIdSchema.safeParse(documentName.slice(slash + 1));
  if (!doc.success) throw ChorusError.validation('name', `Invalid document id: ${doc.error.issues[0]?.message ?? 'invalid'}.`);
  return [session.data, doc.data];
}
