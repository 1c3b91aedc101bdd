import type { LoggerService } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { TokenError, can, type Identity, type IdentityTokens, type JoinGrant } from '@chorus/auth';
import { ChorusError, type Role } from '@chorus/protocol';
import type { SessionStreams, StreamMember } from '../fanout/session-streams';
import { CONNECTION_LEASE_MS, type ConnectionRegistry } from '../limits/connection-registry';
import type { WsRateLimiter } from '../limits/ws-rate-limiter';
import type { SessionRouter } from '../routing/session.router';
import type { WsTickets } from '../ws/ws-tickets';
import type { YjsDocs, YjsOutcome, YjsSubscriber } from './yjs-docs';
import type { YjsMetrics } from './yjs.metrics';

/**
 * Close codes of the provider paths (docs/yjs.md "Close codes"), each chosen for what the stock providers do with
 * it. y-websocket 3.x (`defaultShouldReconnect`) takes 4400–4499 as final — the server decided reconnecting cannot
 * help — and reconnects after any other code, with its backoff (100 ms · 2^failures, at most maxBackoffTime; reset
 * once a connection syncs), then resyncs (sync step 1 both ways), so nothing it typed is lost. The Hocuspocus
 * provider reconnects after any code (a removal there is a permission-denied of the document, not a close).
 * - transient (reconnect, resync): `draining`, `unavailable`, `rateLimited` (4529: y-websocket's "try again later"
 *   range, not 4429 — that one would end the provider for good), `malformed` (1007, RFC 6455 "inconsistent data":
 *   a message we could not use says nothing about the client's document, and its resync sends it freshly encoded);
 * - final: `removed` (4403), `tooLarge` (4413: the same content would come back in every resync), `refused` (4400:
 *   what reconnecting cannot fix — e.g. the document is a text (OT) one), `unauthorized` (4401, /hocuspocus).
 */
export const YJS_CLOSE = { draining: 4001, unavailable: 4503, rateLimited: 4529, malformed: 1007, removed: 4403, tooLarge: 4413, refused: 4400, unauthorized: 4401 } as const;

/** The close for a refused message (nothing was stored): its code and a reason for the provider's close event. */
export function closeFor(error: ChorusError): { code: number; reason: string } {
  if (error.code === 'RATE_LIMITED') return { code: YJS_CLOSE.rateLimited, reason: 'rate limited: reconnect later' };
  if (error.code === 'VALIDATION_ERROR') return { code: YJS_CLOSE.malformed, reason: 'VALIDATION_ERROR: message refused, nothing stored; resync' };
  if (error.code === 'PAYLOAD_TOO_LARGE') return { code: YJS_CLOSE.tooLarge, reason: 'PAYLOAD_TOO_LARGE' };
  return { code: error.retryable ? YJS_CLOSE.unavailable : YJS_CLOSE.refused, reason: error.code };
}

export interface YjsSocketDeps {
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
  /** The same registry the Edge counts in: a provider socket's slot is renewed while open and released at close. */
  readonly connections: ConnectionRegistry;
}

/** One document of one provider socket, once authorized: who, where, with which role. */
export interface YjsChannelOf {
  /** The socket's connection id (its cap slot and rate-limit key). */
  readonly connectionId: string;
  /** Unique per channel on this node (a socket multiplexing documents has one channel per document). */
  readonly subscriberId: string;
  readonly sessionId: string;
  readonly docId: string;
  readonly identity: Identity;
  readonly role: Role;
}

/** What a framing does with the channel's traffic: the same core, two wires (/yjs/ and /hocuspocus). */
export interface YjsFraming {
  /** Writes one y-protocols message (a reply or a hub push) to the socket, framed for this wire. */
  send(message: Uint8Array): void;
  /** A message was handled (for an update: it is durable). */
  handled?(outcome: YjsOutcome): void;
  /** A viewer's update was refused (nothing stored); the socket stays open. */
  readOnly(): void;
  /** Any other refusal: nothing was stored; the framing closes the socket, the provider reconnects and resyncs. */
  refused(error: ChorusError): void;
  /** The user's role in the session changed (it applies to the next update). */
  roleChanged?(role: Role): void;
  /** The user was removed from the session (or it was deleted): the framing ends the document for good. */
  removed(reason: 'removed' | 'session_deleted'): void;
}

/**
 * The server side shared by the Yjs provider paths (docs/yjs.md): `/yjs/` (stock y-websocket) and `/hocuspocus`
 * (the Hocuspocus provider). The framings differ; everything else is here, once: the cap slots (leases renewed
 * while a socket is open, released at close), join-token checks, and each (socket, document) channel's handling —
 * rate limit, ordering until subscribed, the same YjsDocs (durable before ack and push, roles, limits, audit,
 * awareness as presence).
 */
export class YjsSockets {
  /** The open sockets and the cap slot each holds. */
  private readonly open = new Map<WebSocket, { userId: string; connectionId: string }>();
  private readonly leaseTimer: ReturnType<typeof setInterval>;

  constructor(
    readonly deps: YjsSocketDeps,
    private readonly label: string,
  ) {
    // The slots are leases (a dead gateway's expire): renewed for every open socket, as the Edge does for its own.
    this.leaseTimer = setInterval(() => {
      if (this.open.size === 0) return;
      this.deps.connections.refresh([...this.open.values()]).catch((err: unknown) => {
        this.deps.metrics.pathRefused.inc({ reason: 'lease_refresh_failed' });
        this.deps.logger.warn(`${this.label} connection leases not renewed: ${(err as Error).message}`, 'YjsSockets');
      });
    }, CONNECTION_LEASE_MS / 3);
    this.leaseTimer.unref();
  }

  /** A join token for `sessionId` (POST /sessions/:id/join), or a typed refusal. */
  verifyJoin(token: string, sessionId: string): JoinGrant {
    let grant: JoinGrant;
    try {
      grant = this.deps.tokens.verifyJoin(token);
    } catch (err) {
      const reason = err instanceof TokenError ? err.reason.replace('_', ' ') : 'invalid';
      throw new ChorusError('UNAUTHENTICATED', `The join token was refused (${reason}); get a new one from POST /api/v1/collaboration/sessions/:id/join.`);
    }
    if (grant.session_id !== sessionId) throw new ChorusError('PERMISSION_DENIED', 'This join token is for another session.');
    return grant;
  }

  /** The user's role in the session now (the session service's rows): PERMISSION_DENIED when not a participant. */
  async roleNow(identity: Identity, sessionId: string): Promise<Role> {
    const participants = await this.deps.sessions.call('participant.list', { actor: identity, session_id: sessionId });
    const me = participants.find((p) => p.user_id === identity.user_id);
    if (!me) throw new ChorusError('PERMISSION_DENIED', 'You are not a participant of this session: join it first.');
    return me.role;
  }

  /** The socket holds a cap slot (taken with `deps.admit`) until `closed`. */
  opened(ws: WebSocket, userId: string, connectionId: string): void {
    this.open.set(ws, { userId, connectionId });
    this.deps.metrics.pathConnections.inc();
  }

  closed(ws: WebSocket): void {
    const slot = this.open.get(ws);
    if (!slot) return;
    this.open.delete(ws);
    this.deps.metrics.pathConnections.dec();
    this.release(slot.userId, slot.connectionId);
  }

  release(userId: string, connectionId: string): void {
    this.deps.connections.unregister(userId, connectionId).catch((err: unknown) => {
      this.deps.metrics.pathRefused.inc({ reason: 'release_failed' });
      this.deps.logger.warn(`${this.label} ${connectionId}: connection slot not released (expires with its lease): ${(err as Error).message}`, 'YjsSockets');
    });
  }

  /** Closes every socket holding a slot (the gateway drains): providers reconnect to another replica and resync. */
  closeAll(): void {
    clearInterval(this.leaseTimer);
    for (const ws of this.open.keys()) ws.close(YJS_CLOSE.draining, 'draining');
  }

  channel(of: YjsChannelOf, framing: YjsFraming): YjsChannel {
    return new YjsChannel(this, of, framing);
  }
}

/**
 * One document on one provider socket: a YjsDocs subscriber whose pushes go to the framing, and a member of the
 * session stream, so the role is live (docs/yjs.md "Roles"): a role change applies to the next update, a removal
 * (or the session's deletion) ends it. Until it is subscribed (its first sync step 1 answered), messages wait in
 * order — an update before it would be refused. After it, updates commute (a CRDT) and each is handled at once, so
 * one slow append does not hold up the ones behind it (pipelining; each is still acknowledged only once durable).
 */
export class YjsChannel {
  private readonly subscriber: YjsSubscriber;
  /** 'attached': a member of the session stream (detach at close); 'opened': only the hold (release at close). */
  private readonly streamOpened: Promise<'attached' | 'opened' | false>;
  private chain: Promise<void>;
  private pipelined = false;
  private closed = false;
  private current: Role;

  constructor(
    private readonly core: YjsSockets,
    readonly of: YjsChannelOf,
    private readonly framing: YjsFraming,
  ) {
    const { deps } = core;
    this.current = of.role;
    this.subscriber = {
      id: of.subscriberId,
      userId: of.identity.user_id,
      clientId: `yjs:${of.subscriberId.slice(4, 40)}`,
      role: () => this.current,
      subscribe: async () => undefined,
      sink: (frame) => {
        if (!this.closed) framing.send(frame);
      },
    };
    const member: StreamMember = { id: of.subscriberId, userId: of.identity.user_id, peerId: this.subscriber.clientId, onEffect: (effect) => this.onEffect(effect) };
    this.streamOpened = deps.streams.open(of.sessionId).then(
      () =>
        this.follow(member).then(
          () => 'attached' as const,
          (err: unknown) => {
            deps.logger.warn(`yjs ${of.subscriberId}: not following the session stream: ${(err as Error).message}`, 'YjsChannel');
            framing.refused(new ChorusError('UNAVAILABLE', 'The session stream could not be followed; reconnect.'));
            // attach consumes the hold: if it never ran (the head read failed), the hold is released at close.
            return 'opened' as const;
          },
        ),
      (err: unknown) => {
        deps.logger.warn(`yjs ${of.subscriberId}: session stream not opened: ${(err as Error).message}`, 'YjsChannel');
        framing.refused(new ChorusError('UNAVAILABLE', 'The session stream could not be opened; reconnect.'));
        return false as const;
      },
    );
    this.chain = this.streamOpened.then(() => undefined);
  }

  /** One y-protocols message for this document (the framing's prefix already taken off). */
  receive(bytes: Uint8Array): void {
    if (this.pipelined) return void this.handle(bytes);
    this.chain = this.chain.then(async () => {
      if (this.pipelined) return this.handle(bytes);
      await this.handle(bytes);
      this.pipelined = this.core.deps.docs.isSubscribed(this.subscriber, this.of.sessionId, this.of.docId);
    });
  }

  /** The socket closed (or the provider detached the document): unsubscribed, awareness removed, stream left. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const { deps } = this.core;
    const { sessionId, subscriberId } = this.of;
    deps.docs.unsubscribe(this.subscriber, sessionId, this.of.docId);
    void this.streamOpened
      .then((opened) => (opened === 'attached' ? deps.streams.detach(sessionId, subscriberId) : opened === 'opened' ? deps.streams.release(sessionId) : undefined))
      .catch((err: unknown) => deps.logger.warn(`yjs ${subscriberId}: release failed: ${(err as Error).message}`, 'YjsChannel'));
  }

  /**
   * Attached at the stream's head, then the role is read again: a change before the attach is in that read, one
   * after it arrives as an effect.
   */
  private async follow(member: StreamMember): Promise<void> {
    const { deps } = this.core;
    const { sessionId, identity } = this.of;
    const { head } = await deps.sessions.call('session.events', { session_id: sessionId, user_id: identity.user_id, after_seq: 0, limit: 1 });
    // No replay (a last_seq past any head): the channel takes no session events, only their effects from here on.
    await deps.streams.attach(sessionId, member, head, Number.MAX_SAFE_INTEGER);
    try {
      this.setRole(await this.core.roleNow(identity, sessionId));
    } catch (err) {
      // Attached either way (the close detaches): removed meanwhile, or the role unknown — ended, to resync.
      const code = ChorusError.from(err).code;
      if (code === 'PERMISSION_DENIED' || code === 'NOT_FOUND') return this.framing.removed('removed');
      deps.logger.warn(`yjs ${this.of.subscriberId}: role not read again: ${(err as Error).message}`, 'YjsChannel');
      this.framing.refused(new ChorusError('UNAVAILABLE', 'The role could not be read; reconnect.'));
    }
  }

  /** The user's role in the session now (live). */
  get role(): Role {
    return this.current;
  }

  private setRole(role: Role): void {
    if (role === this.current) return;
    const before = this.current;
    this.current = role;
    this.framing.roleChanged?.(role);
    // May edit again: ask for what the provider typed meanwhile (refused then; later updates depend on it).
    const { deps } = this.core;
    if (!can(before, 'document.edit') && can(role, 'document.edit') && deps.docs.isSubscribed(this.subscriber, this.of.sessionId, this.of.docId)) {
      deps.docs.serverStep1({ user_id: this.of.identity.user_id, client_id: this.subscriber.clientId, role }, this.of.sessionId, this.of.docId).then(
        (frame) => this.subscriber.sink?.(frame),
        (err: unknown) => {
          // Not fatal: the provider's next reconnect resyncs the same way.
          deps.logger.warn(`yjs ${this.of.subscriberId}: no resync after the promotion: ${(err as Error).message}`, 'YjsChannel');
          deps.metrics.pathRefused.inc({ reason: 'resync_failed' });
        },
      );
    }
  }

  private onEffect(effect: Parameters<StreamMember['onEffect']>[0]): void {
    if (this.closed) return;
    if (effect.kind === 'role') return this.setRole(effect.role);
    const reason = effect.kind === 'session_deleted' ? 'session_deleted' : 'removed';
    this.core.deps.metrics.pathRefused.inc({ reason });
    this.framing.removed(reason);
  }

  private async handle(bytes: Uint8Array): Promise<void> {
    if (this.closed) return;
    const { deps } = this.core;
    try {
      await deps.limiter.check('yjs', this.of.connectionId, this.of.identity.user_id);
    } catch {
      deps.metrics.refused.inc({ reason: 'rate_limited' });
      return this.framing.refused(new ChorusError('RATE_LIMITED', 'rate limited: reconnect later'));
    }
    try {
      const outcome = await deps.docs.handle(this.subscriber, this.of.sessionId, this.of.docId, bytes);
      if (this.closed) return;
      for (const reply of outcome.replies) this.framing.send(reply);
      this.framing.handled?.(outcome);
    } catch (err) {
      if (this.closed) return;
      const error = ChorusError.from(err);
      // Read-only sync: the update is dropped, the socket stays (the viewer still receives updates).
      if (error.code === 'PERMISSION_DENIED') return this.framing.readOnly();
      if (error.code === 'SERVER_ERROR') deps.logger.error(`yjs ${this.of.subscriberId}: ${(err as Error)?.stack ?? String(err)}`, undefined, 'YjsChannel');
      else deps.logger.warn(`yjs ${this.of.subscriberId}: message refused (${error.code}): ${error.message}`, 'YjsChannel');
      deps.metrics.refused.inc({ reason: error.code === 'UNAVAILABLE' || error.code === 'SERVER_ERROR' ? 'failed' : 'refused' });
      // Not stored: the framing closes the socket, and the provider resends it with its resync.
      this.framing.refused(error);
    }
  }
}
