import type { LoggerService } from '@nestjs/common';
import type { PresenceEvent } from '@chorus/contracts';
import { ChorusError, disconnectNotice } from '@chorus/protocol';
import type { MembershipEffect } from '../fanout/wire-events';
import { rooms, type Connection, type GatewayDeps, type Membership } from './connection';
import { fileHostLeft } from './file-sync.handlers';

export function membershipOf(socket: Connection, sessionId: string): Membership {
  const m = socket.data.memberships.get(sessionId);
  if (!m) throw new ChorusError('PERMISSION_DENIED', `Join session ${sessionId} first (send "join").`);
  return m;
}

/** Delivers what the presence service said happened to the session's other members. */
export function broadcastPresence(deps: GatewayDeps, events: readonly PresenceEvent[]): void {
  for (const e of events) {
    switch (e.type) {
      case 'presence_update': {
        const { type: _type, ...view } = e;
        deps.presenceOut.offer(view);
        break;
      }
      case 'peer_expired':
        // Not an answer to a gateway's request (only the sweep finds expiries), but should one come: the wire
        // message of an expiry, the user unknown if its state was lost.
        deps.push(e.session_id, { to: 'session' }, { type: 'presence_left', session_id: e.session_id, peer_id: e.peer_id, user_id: e.user_id, reason: 'expired' }, e.peer_id);
        break;
      // The peer an event is about is the requesting socket's: it does not need to hear about itself.
      case 'presence_left':
      case 'typing_start':
      case 'typing_stop':
      case 'voice_user_joined':
      case 'voice_user_left':
      case 'voice_member_updated':
        deps.push(e.session_id, { to: 'session' }, e, e.peer_id);
        break;
      default:
        ignoreNewer(e);
    }
  }
}

/**
 * Only compiles where every declared presence event was handled. At run time: an event of a newer presence
 * service (a rolling deploy), whose audience this gateway cannot know — not delivered, and no request fails.
 */
function ignoreNewer(_e: never): void {}

/**
 * Ends a socket's membership of one session: ends its channel subscriptions, stops its stream delivery, leaves the rooms, removes its
 * presence (telling the others), and records `peer_left`. Best effort after the first step: a service that is
 * down must not keep a closing socket half-joined (presence then expires by its lease).
 */
export async function endMembership(
  socket: Connection,
  membership: Membership,
  reason: 'left' | 'disconnected',
  deps: GatewayDeps,
  logger: LoggerService,
): Promise<void> {
  const { session_id, peer_id } = membership;
  socket.data.memberships.delete(session_id);
  deps.presenceOut.drop(session_id, peer_id);
  deps.yjs?.unsubscribeSession(socket.id, session_id);
  await deps.channels.leaveSession(session_id, socket.id);
  await deps.streams.detach(session_id, socket.id);
  for (const room of [...socket.rooms]) if (room.startsWith(`d:${session_id}:`)) void socket.leave(room);
  void socket.leave(rooms.session(session_id));
  void socket.leave(rooms.peer(session_id, peer_id));
  const [presence, session] = await Promise.allSettled([
    deps.presence.call('presence.leave', { session_id, peer_id, user_id: socket.data.identity.user_id }),
    deps.sessions.call('session.disconnect', { session_id, user_id: socket.data.identity.user_id, peer_id, reason }),
  ]);
  if (membership.role === 'agent') {
    // An agent that goes gives its prompts back at once (not at the lease's end); if this call is lost, the
    // lease lapses and the session service's sweep gives them back.
    await deps.sessions.call('prompt.release', { session_id, agent_id: socket.data.identity.user_id }).catch((err: unknown) => {
      deps.metrics.agentReleaseFailures.inc();
      logger.warn(`prompt.release failed for ${socket.data.identity.user_id}: ${(err as Error).message}`, 'Membership');
    });
  }
  await fileHostLeft(deps, session_id, peer_id).catch((err: unknown) => logger.warn(`File host of ${session_id} not cleared for ${peer_id}: ${(err as Error).message}`, 'Membership'));
  if (presence.status === 'fulfilled') broadcastPresence(deps, presence.value);
  else logger.warn(`presence.leave failed for ${peer_id}: ${(presence.reason as Error).message}`, 'Membership');
  if (session.status === 'rejected') logger.warn(`session.disconnect failed for ${peer_id}: ${(session.reason as Error).message}`, 'Membership');
}

/** Applies a durable membership change (role change, removal, session deletion) to a live socket. */
export function applyEffect(socket: Connection, sessionId: string, effect: Exclude<MembershipEffect, null>, deps: GatewayDeps, logger: LoggerService): void {
  const membership = socket.data.memberships.get(sessionId);
  if (!membership) return;
  if (effect.kind === 'role') {
    membership.role = effect.role;
    return;
  }
  const message = effect.kind === 'session_deleted' ? 'The session was deleted.' : effect.reason;
  deps.send(socket, new ChorusError('PERMISSION_DENIED', `${message} You are no longer connected to session ${sessionId}.`).toWire());
  // Decided now, not when the (slow) clean-up below ends: of two memberships ended one after the other, only the
  // one that takes the last closes the socket, with its own reason (a removal from the first session finishing
  // after the second session's deletion must not close it as `removed`).
  const wasLast = socket.data.memberships.size <= 1;
  void endMembership(socket, membership, 'disconnected', deps, logger).then(() => {
    // A removed participant is disconnected, told why first (both transports write in order); a socket still
    // in other sessions (or that joined another meanwhile) keeps those and has only the error push above.
    if (wasLast && socket.data.memberships.size === 0) {
      const notice = disconnectNotice(effect.kind === 'session_deleted' ? 'session_deleted' : 'removed', `${message} You are no longer connected to session ${sessionId}.`, { session_id: sessionId });
      deps.metrics.messagesOut.inc({ type: notice.type });
      socket.close(notice);
    }
  });
}
