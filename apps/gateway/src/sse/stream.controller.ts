import { randomUUID } from 'node:crypto';
import { Controller, Get, Inject, Param, Req, Res, type BeforeApplicationShutdown, type LoggerService } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { TokenError, type AccessTokenVerifier, type Identity } from '@chorus/auth';
import { ChorusError, sessionIdParamSchema, type ServerMessage } from '@chorus/protocol';
import type { Counter } from 'prom-client';
import type { PartialOutputStore } from '../agents/partial-output';
import { CONNECTION_LEASE_MS, type ConnectionRegistry } from '../limits/connection-registry';
import type { SessionStreams } from '../fanout/session-streams';
import type { WsRooms, RoomMember } from '../fanout/ws-rooms';
import { Documented } from '../http/openapi';
import { parseInput } from '../http/validation';
import type { SessionRouter } from '../routing/session.router';
import { rooms } from '../socket/connection';
import type { WsTickets } from '../ws/ws-tickets';
import { parseLastEventId, sseFrame } from './sse-events';

export const STREAM_DEPS = Symbol('STREAM_DEPS');

export interface StreamDeps {
  readonly sessions: SessionRouter;
  readonly streams: SessionStreams;
  readonly rooms: WsRooms;
  readonly tickets: WsTickets;
  readonly access: AccessTokenVerifier;
  readonly logger: LoggerService;
  /** Heartbeat comment interval (15 s; tests shorten it). */
  readonly heartbeatMs: number;
  /** Agents' text so far, for a stream opened mid-response (docs/agents.md). */
  readonly partials: PartialOutputStore;
  /**
   * The per-user stream cap (SSE_STREAMS_PER_USER) across all gateways: leases in Redis (memory standalone),
   * the same registry as the socket cap's under its own key, renewed by this gateway; a dead gateway's expire.
   */
  readonly streamLeases: ConnectionRegistry;
  readonly maxStreamsPerUser: number;
  /** Streams refused at the cap (chorus_sse_streams_refused_total). */
  readonly refused: Counter;
}

/** A refused stream's advice: about when a stream that closed has let its lease go (or a dead gateway's lapsed). */
const CAP_RETRY_MS = 5_000;

/** The reconnect delay advised to EventSource clients (`retry:`). */
const RETRY_MS = 2_000;

/**
 * `GET /api/v1/collaboration/sessions/:id/stream`: the session as Server-Sent Events for clients that only
 * read. The stream is a member of the session like a socket (a peer `sse-…`: `peer_joined` on open,
 * `peer_left` on close) on the one outbound road: the hub writes to it through the same rooms as /ws
 * connections, and durable events reach it exactly once in seq order from the gateway's session stream —
 * replayed from `Last-Event-ID` first, so a stream resumed on any gateway has no gap and no duplicate.
 */
@ApiTags('stream')
@Controller('api/v1/collaboration/sessions')
export class StreamController implements BeforeApplicationShutdown {
  /** Open streams' close functions: a shutdown ends them (an open response would hold the HTTP server's close). */
  private readonly open = new Set<() => Promise<void>>();
  /** This gateway's stream leases (member id → user id), renewed every third of a lease. */
  private readonly leases = new Map<string, string>();
  private readonly renewal: NodeJS.Timeout;

  constructor(@Inject(STREAM_DEPS) private readonly deps: StreamDeps) {
    this.renewal = setInterval(() => void this.renewLeases(), Math.floor(CONNECTION_LEASE_MS / 3));
    this.renewal.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.renewal);
    // EventSource clients reconnect (to another gateway) with Last-Event-ID: nothing is lost.
    await Promise.all([...this.open].map((close) => close()));
  }

  @Get(':id/stream')
  @Documented({ summary: 'The session as text/event-stream (Authorization header, or ?ticket= from POST /api/v1/auth/ws-ticket); Last-Event-ID resumes; 429 RATE_LIMITED over SSE_STREAMS_PER_USER open streams of the user', errors: [400, 401, 403, 404, 429] })
  async stream(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { sessions, streams, logger } = this.deps;
    const sessionId = parseInput(sessionIdParamSchema, id, 'id');
    const identity = await this.identify(req);
    const lastSeq = parseLastEventId(req.headers['last-event-id']);
    const peerId = `sse-${randomUUID()}`;
    const memberId = `sse:${peerId}`;

    // The cap first: over it, 429 before anything is opened or joined.
    await this.admit(identity, memberId);
    let joinSeq: number;
    try {
      await streams.open(sessionId);
      try {
        // The role in the grant is not trusted: the session service answers the participant's role from its rows.
        const connected = await sessions.call('session.connect', { grant: { ...identity, session_id: sessionId, role: 'viewer' }, peer_id: peerId });
        joinSeq = connected.event.seq;
      } catch (err) {
        await streams.release(sessionId);
        throw err;
      }
    } catch (err) {
      await this.letGo(identity.user_id, memberId);
      throw err;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: ${RETRY_MS}\n\n`);
    let closed = false as boolean; // set by close(), which runs from events: not narrowed to false
    const member = new SseMember(memberId, res);
    const memberRooms = [rooms.session(sessionId), rooms.peer(sessionId, peerId)];
    this.deps.rooms.register(member);
    for (const room of memberRooms) this.deps.rooms.add(room, member);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), this.deps.heartbeatMs);
    heartbeat.unref();

    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      this.open.delete(close);
      clearInterval(heartbeat);
      this.deps.rooms.unregister(member, memberRooms);
      if (!res.writableEnded) res.end();
      await this.letGo(identity.user_id, memberId);
      await streams.detach(sessionId, memberId);
      await sessions.call('session.disconnect', { session_id: sessionId, user_id: identity.user_id, peer_id: peerId, reason: 'disconnected' }).catch((err: unknown) => {
        logger.warn(`session.disconnect failed for stream ${peerId}: ${(err as Error).message}`, 'StreamController');
      });
    };
    this.open.add(close);
    // The response's close: the client went away (or we ended it). Not the request's, which ends with its body.
    res.on('close', () => void close());

    try {
      const attached = await streams.attach(
        sessionId,
        {
          id: memberId,
          userId: identity.user_id,
          peerId,
          onEffect: (effect) => {
            if (effect.kind === 'role') return;
            member.write(`event: error\ndata: ${JSON.stringify({ source_user_id: null, data: { code: 'PERMISSION_DENIED', message: 'You are no longer a participant of this session.' } })}\n\n`);
            void close();
          },
        },
        joinSeq,
        lastSeq,
      );
      // The client may have gone while the replay ran: its close detached nothing yet, so detach now.
      if (closed) {
        await streams.detach(sessionId, memberId);
        return;
      }
      // Responses under way: their text so far, once, after the replay (live chunks above its index follow).
      for (const t of await this.deps.partials.read(sessionId).catch((err: unknown) => {
        logger.warn(`Stream ${peerId}: no text so far (${(err as Error).message}); live chunks still come`, 'StreamController');
        return [];
      })) {
        const text = sseFrame({ type: 'agent_output_so_far', session_id: sessionId, message_id: t.message_id, agent_id: t.agent_id, through_index: t.through_index, text: t.text });
        if (text !== null) member.write(text);
      }
      if (!attached.recovered) {
        // Too far behind (or from the future) to replay: say so, then go on live from here.
        member.write(`event: error\ndata: ${JSON.stringify({ source_user_id: null, data: { code: 'RELOAD_REQUIRED', message: 'Last-Event-ID is too far behind to replay; reload the history (GET …/history), then follow.' } })}\n\n`);
      }
    } catch (err) {
      logger.warn(`Stream ${peerId} of ${sessionId} could not attach: ${(err as Error).message}`, 'StreamController');
      await close();
    }
  }

  /** Takes a slot of the user's stream cap, or refuses the stream: RATE_LIMITED (HTTP 429) with retry advice. */
  private async admit(identity: Identity, memberId: string): Promise<void> {
    const max = this.deps.maxStreamsPerUser;
    if (!(await this.deps.streamLeases.register(identity.user_id, memberId, max))) {
      this.deps.refused.inc();
      throw new ChorusError('RATE_LIMITED', `You already have ${max} open streams (SSE_STREAMS_PER_USER); close one, then retry.`, { retry_after_ms: CAP_RETRY_MS });
    }
    this.leases.set(memberId, identity.user_id);
  }

  /** Gives the stream's slot back (a failure is logged: the lease lapses by itself within CONNECTION_LEASE_MS). */
  private async letGo(userId: string, memberId: string): Promise<void> {
    this.leases.delete(memberId);
    await this.deps.streamLeases.unregister(userId, memberId).catch((err: unknown) => {
      this.deps.logger.warn(`Stream lease ${memberId} of ${userId} not released (it lapses): ${(err as Error).message}`, 'StreamController');
    });
  }

  private async renewLeases(): Promise<void> {
    if (this.leases.size === 0) return;
    await this.deps.streamLeases.refresh([...this.leases].map(([connectionId, userId]) => ({ userId, connectionId }))).catch((err: unknown) => {
      this.deps.logger.warn(`Stream leases not renewed (renewed at the next tick): ${(err as Error).message}`, 'StreamController');
    });
  }

  /** The access token (Authorization header), else a single-use ticket (`?ticket=`); never a token in the URL. */
  private async identify(req: Request): Promise<Identity> {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (match) {
      try {
        return (await this.deps.access.verify(match[1])).identity;
      } catch (err) {
        // The identity provider's keys unreachable (UNAVAILABLE) is ours, not the token's.
        if (!(err instanceof TokenError)) throw err;
        throw new ChorusError('UNAUTHENTICATED', `The access token was refused (${err.reason.replace('_', ' ')}); obtain a new one.`);
      }
    }
    const ticket = req.query.ticket;
    if (typeof ticket === 'string' && ticket.length > 0 && ticket.length <= 256) {
      const taken = await this.deps.tickets.take(ticket);
      if (taken && taken.expires_at_ms > Date.now()) return taken.identity;
      throw new ChorusError('UNAUTHENTICATED', 'The stream ticket is unknown, used or expired; mint a new one (POST /api/v1/auth/ws-ticket).');
    }
    throw new ChorusError('UNAUTHENTICATED', 'Send "Authorization: Bearer <token>", or ?ticket= from POST /api/v1/auth/ws-ticket.');
  }
}

/**
 * The hub's view of one stream: a frame encoded once per message for every /ws connection and stream it
 * reaches, turned into SSE text here. The last conversion is kept: the same frame goes to every stream of the
 * node, so a thousand streams convert it once.
 */
class SseMember implements RoomMember {
  private static lastFrame: Buffer | undefined;
  private static lastText: string | null = null;

  constructor(
    readonly id: string,
    private readonly res: Response,
  ) {}

  sendEncoded(frame: Buffer): void {
    if (frame !== SseMember.lastFrame) {
      SseMember.lastFrame = frame;
      SseMember.lastText = sseFrame(JSON.parse(frame.toString('utf8')) as ServerMessage);
    }
    if (SseMember.lastText !== null) this.write(SseMember.lastText);
  }

  write(text: string): void {
    if (!this.res.writableEnded) this.res.write(text);
  }
}
