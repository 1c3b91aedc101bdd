import type { LoggerService } from '@nestjs/common';
import { authorize, channelPublishAction } from '@chorus/auth';
import { ChorusError, type ClientMessageOf, type ClientMessageType, type ReplyOf } from '@chorus/protocol';
import { channelEvent, type ChannelSubscriber } from '../channels/channel-streams';
import type { Connection, GatewayDeps, Membership } from './connection';
import { membershipOf } from './membership';

type Reply<T extends ClientMessageType> = Promise<Omit<ReplyOf<T>, 'id'>>;

/**
 * The session a channel message is about: named, or — the Cluso client sends `{"type": "subscribe", "channel":
 * "files"}` — the connection's only session.
 */
function sessionOf(socket: Connection, sessionId: string | undefined): Membership {
  if (sessionId !== undefined) return membershipOf(socket, sessionId);
  const memberships = [...socket.data.memberships.values()];
  if (memberships.length === 1) return memberships[0];
  throw ChorusError.validation(
    'session_id',
    memberships.length === 0 ? 'Join a session first (send "join"), then subscribe to its channels.' : `This connection is in ${memberships.length} sessions: name one in session_id.`,
  );
}

/** A connection of either transport subscribes the same way: the hub writes to it by id and by room. */
function subscriberOf(connection: Connection): ChannelSubscriber {
  return { id: connection.id, join: (room) => connection.join(room), leave: (room) => connection.leave(room) };
}

/** subscribe, unsubscribe, publish: session channels (docs/protocol.md, Channels). */
export class ChannelMessageHandlers {
  constructor(private readonly logger: LoggerService) {}

  async subscribe(socket: Connection, m: ClientMessageOf<'subscribe'>, deps: GatewayDeps): Reply<'subscribe'> {
    const membership = sessionOf(socket, m.session_id);
    authorize(membership.role, 'channel.subscribe');
    const session_id = membership.session_id;
    try {
      const result = await deps.channels.subscribe(session_id, m.channel, subscriberOf(socket), m.since);
      return { type: 'subscribed', session_id, channel: m.channel, ...result };
    } catch (err) {
      throw this.unavailable(deps, `subscribe to ${m.channel} of ${session_id}`, err, 'The channel history could not be read; subscribe again.');
    }
  }

  async unsubscribe(socket: Connection, m: ClientMessageOf<'unsubscribe'>, deps: GatewayDeps): Reply<'unsubscribe'> {
    const membership = sessionOf(socket, m.session_id);
    await deps.channels.unsubscribe(membership.session_id, m.channel, socket.id);
    return { type: 'unsubscribed', session_id: membership.session_id, channel: m.channel };
  }

  /**
   * Appends to the channel's history (the record a resubscribe reads), then pushes on the session's one road to
   * the channel's subscribers on every gateway. A resend (same client_msg_id) re-pushes the original event:
   * harmless (every gateway drops seqs it has delivered) and it repairs a push lost with a dying gateway.
   */
  async publish(socket: Connection, m: ClientMessageOf<'publish'>, deps: GatewayDeps): Reply<'publish'> {
    const membership = sessionOf(socket, m.session_id);
    authorize(membership.role, channelPublishAction(m.channel));
    const session_id = membership.session_id;
    const publisher = { user_id: socket.data.identity.user_id, peer_id: membership.peer_id };
    let appended;
    try {
      appended = await deps.channelHistory.append(session_id, m.channel, { publisher, data: m.data, ...(m.client_msg_id !== undefined ? { clientMsgId: m.client_msg_id } : {}) });
    } catch (err) {
      throw this.unavailable(deps, `publish to ${m.channel} of ${session_id}`, err, 'The event could not be stored; resend it (with a client_msg_id, a resend is never stored twice).');
    }
    if (appended.entry) deps.push(session_id, { to: 'channel', channel: m.channel }, channelEvent(session_id, m.channel, appended.entry));
    return { type: 'published', session_id, channel: m.channel, seq: appended.seq, timestamp: appended.timestamp };
  }

  private unavailable(deps: GatewayDeps, what: string, err: unknown, message: string): ChorusError {
    if (err instanceof ChorusError) return err;
    deps.metrics.channelFailures.inc();
    this.logger.warn(`${what} failed: ${(err as Error).message}`, 'ChannelHandlers');
    return new ChorusError('UNAVAILABLE', message);
  }
}
