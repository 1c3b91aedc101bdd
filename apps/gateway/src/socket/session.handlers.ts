import type { LoggerService } from '@nestjs/common';
import { fileHostField } from './file-sync.handlers';
import { TokenError, authorize, type IdentityTokens, type JoinGrant } from '@chorus/auth';
import type { SessionApi } from '@chorus/contracts';
import { ChorusError, type ClientMessageOf, type ClientMessageType, type Participant, type ReplyOf } from '@chorus/protocol';
import type { StreamMember } from '../fanout/session-streams';
import { chatMessage, messageDelete, messageUpdate } from '../fanout/wire-events';
import { rooms, type Connection, type GatewayDeps, type Membership } from './connection';
import { applyEffect, broadcastPresence, endMembership, membershipOf } from './membership';

/** How long a join waits for the session's locks before answering without them. */
const JOIN_LOCKS_WAIT_MS = 1_000;

type Reply<T extends ClientMessageType> = Promise<Omit<ReplyOf<T>, 'id'>>;

/** join, leave, chat_message, chat_edit, chat_delete, ping. */
export class SessionMessageHandlers {
  constructor(
    private readonly tokens: IdentityTokens,
    private readonly logger: LoggerService,
  ) {}

  /**
   * Joins a session with a join token. The node subscribes to the session's stream first, then the join is
   * recorded (`peer_joined`), then what the client missed since `last_seq` is replayed before the ack, so the
   * client sees every durable event exactly once, in order.
   */
  async join(socket: Connection, m: ClientMessageOf<'join'>, deps: GatewayDeps): Reply<'join'> {
    const identity = socket.data.identity;
    let grant: JoinGrant;
    try {
      grant = this.tokens.verifyJoin(m.join_token);
    } catch (err) {
      const reason = err instanceof TokenError ? err.reason.replace('_', ' ') : 'invalid';
      throw new ChorusError('UNAUTHENTICATED', `The join token was refused (${reason}); get a new one from the REST API.`);
    }
    if (grant.session_id !== m.session_id) throw ChorusError.validation('join_token', 'This join token is for another session.');
    if (grant.user_id !== identity.user_id) throw new ChorusError('PERMISSION_DENIED', 'This join token belongs to another user.');
    if (socket.data.memberships.has(m.session_id)) throw new ChorusError('ALREADY_JOINED', 'This connection already joined the session; send "leave" first.');

    await deps.streams.open(m.session_id);
    let connected: SessionApi['session.connect']['res'];
    try {
      connected = await deps.sessions.call('session.connect', { grant, peer_id: m.peer_id });
    } catch (err) {
      await deps.streams.release(m.session_id);
      throw err;
    }
    const membership: Membership = { session_id: m.session_id, peer_id: m.peer_id, role: connected.role };
    socket.data.memberships.set(m.session_id, membership);
    await socket.join([rooms.session(m.session_id), rooms.peer(m.session_id, m.peer_id)]);
    const member: StreamMember = {
      id: socket.id,
      userId: identity.user_id,
      peerId: m.peer_id,
      onEffect: (effect) => applyEffect(socket, m.session_id, effect, deps, this.logger),
    };
    try {
      // The replay and the presence lease are independent: one round trip for both (the join's latency floor).
      const [attached, events] = await Promise.all([
        deps.streams.attach(m.session_id, member, connected.event.seq, m.last_seq),
        deps.presence.call('presence.join', {
          session_id: m.session_id,
          peer_id: m.peer_id,
          user_id: identity.user_id,
          display_name: identity.display_name,
          kind: identity.kind,
          node_id: deps.nodeId,
        }),
      ]);
      broadcastPresence(deps, events);
      const roles = new Map(connected.participants.map((p) => [p.user_id, p.role]));
      // The locks are read after the socket is in the session room and attached to its stream: a lock change
      // after this read reaches the socket as a push (docs/protocol.md `joined`), so none is missed.
      const [peers, locks] = await Promise.all([deps.presence.call('presence.who', { session_id: m.session_id }), this.locksOf(socket, membership, deps)]);
      const participants: Participant[] = peers.map((p) => ({ peer_id: p.peer_id, user_id: p.user_id, display_name: p.display_name, kind: p.kind, role: roles.get(p.user_id) ?? 'viewer' }));
      const host = await fileHostField(deps, m.session_id, peers, this.logger);
      // The text so far of agents' responses under way: pushed to this peer, so it comes after this answer.
      deps.agents.replayTo(m.session_id, m.peer_id, deps);
      return { type: 'joined', session_id: m.session_id, peer_id: m.peer_id, participants, seq: attached.seq, recovered: attached.recovered, ...locks, ...host };
    } catch (err) {
      await endMembership(socket, membership, 'disconnected', deps, this.logger);
      throw err;
    }
  }

  /**
   * `joined.locks`. A conflict service that does not answer costs the join only this field, not the join itself
   * (chat and presence do not need it): logged, counted, and left out, which tells the client to reopen documents
   * to learn their locks.
   */
  private async locksOf(socket: Connection, membership: Membership, deps: GatewayDeps): Promise<Pick<ReplyOf<'join'>, 'locks' | 'locks_truncated'>> {
    try {
      const caller = { user_id: socket.data.identity.user_id, client_id: membership.peer_id, role: membership.role };
      const call = deps.conflict.call('locks.list', { caller, payload: { session_id: membership.session_id } });
      // A join is not held hostage by the conflict service: past the bound it answers without locks (the client
      // learns each file's lock from open_document). The late answer is dropped; its failure is still handled.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${JOIN_LOCKS_WAIT_MS} ms`)), JOIN_LOCKS_WAIT_MS);
      });
      call.catch(() => undefined);
      try {
        const listed = await Promise.race([call, bound]);
        return { locks: listed.locks, locks_truncated: listed.truncated };
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      deps.metrics.joinLocksUnavailable.inc();
      this.logger.warn(`Session ${membership.session_id}: joined without locks (locks.list failed: ${(err as Error).message})`, 'SessionHandlers');
      return {};
    }
  }

  async leave(socket: Connection, m: ClientMessageOf<'leave'>, deps: GatewayDeps): Reply<'leave'> {
    await endMembership(socket, membershipOf(socket, m.session_id), 'left', deps, this.logger);
    return { type: 'left', session_id: m.session_id };
  }

  async chat(socket: Connection, m: ClientMessageOf<'chat_message'>, deps: GatewayDeps): Reply<'chat_message'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'chat.send');
    const event = await deps.sessions.call('session.chat', {
      session_id: m.session_id,
      user: socket.data.identity,
      peer_id: membership.peer_id,
      message: m.message,
      ...(m.client_msg_id !== undefined ? { client_msg_id: m.client_msg_id } : {}),
    });
    await this.deliverBefore(socket, m.session_id, event.seq, deps, 'resend it with the same client_msg_id');
    return chatMessage(event);
  }

  /** Edits one's own chat message. The ack is the stored `message_update` (also pushed to everyone else). */
  async chatEdit(socket: Connection, m: ClientMessageOf<'chat_edit'>, deps: GatewayDeps): Reply<'chat_edit'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'chat.send');
    const event = await deps.sessions.call('session.chat_edit', { session_id: m.session_id, user: socket.data.identity, peer_id: membership.peer_id, seq: m.seq, message: m.message });
    await this.deliverBefore(socket, m.session_id, event.seq, deps, 'resend the same edit');
    return messageUpdate(event);
  }

  /** Deletes a chat message (one's own; anyone's as owner or admin). The ack is the stored `message_delete`. */
  async chatDelete(socket: Connection, m: ClientMessageOf<'chat_delete'>, deps: GatewayDeps): Reply<'chat_delete'> {
    membershipOf(socket, m.session_id);
    const event = await deps.sessions.call('session.chat_delete', { session_id: m.session_id, user: socket.data.identity, seq: m.seq });
    await this.deliverBefore(socket, m.session_id, event.seq, deps, 'resend the deletion');
    return messageDelete(event);
  }

  /**
   * The ack's seq becomes the client's last_seq: everything before it must be on this socket first (the fan-out
   * from another replica may lag the reply). A resend answered with the original seq is a no-op here.
   */
  private async deliverBefore(socket: Connection, sessionId: string, seq: number, deps: GatewayDeps, retry: string): Promise<void> {
    try {
      await deps.streams.catchUp(sessionId, socket.id, seq - 1);
    } catch (err) {
      this.logger.warn(`Session ${sessionId}: could not deliver the events before seq ${seq}: ${(err as Error).message}`, 'SessionHandlers');
      // Stored but not acked: the resend is idempotent and gets this seq again.
      throw new ChorusError('UNAVAILABLE', `The change was stored, but the events before it could not be delivered yet; ${retry}.`);
    }
  }

  async ping(): Reply<'ping'> {
    return { type: 'pong', timestamp: Date.now() };
  }
}
