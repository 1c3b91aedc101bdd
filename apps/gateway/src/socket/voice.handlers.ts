import { authorize, iceServersFor } from '@chorus/auth';
import { DEFAULT_VOICE_ROOM, type ClientMessageOf, type ClientMessageType, type ReplyOf, type ServerMessage } from '@chorus/protocol';
import type { Connection, GatewayDeps } from './connection';
import { broadcastPresence, membershipOf } from './membership';

type Reply<T extends ClientMessageType> = Promise<Omit<ReplyOf<T>, 'id'>>;

/**
 * Voice rooms and the WebRTC signaling relay. Membership lives in the presence service (with the peer's
 * presence, so it ends with it: leave, disconnect, a dead gateway's expiry). A relayed signal goes to exactly
 * one peer, on whichever gateway holds it, through the one outbound road (`peers` audience), stamped with the
 * sender's peer id — never one the client claims.
 */
export class VoiceMessageHandlers {
  async join(socket: Connection, m: ClientMessageOf<'voice_join'>, deps: GatewayDeps): Reply<'voice_join'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'voice.join');
    const identity = socket.data.identity;
    const room = m.room ?? DEFAULT_VOICE_ROOM;
    const joined = await deps.presence.call('voice.join', {
      session_id: m.session_id,
      peer_id: membership.peer_id,
      user_id: identity.user_id,
      display_name: identity.display_name,
      room,
      ...(m.muted !== undefined ? { muted: m.muted } : {}),
    });
    broadcastPresence(deps, joined.events);
    const ice = iceServersFor(deps.ice, identity.user_id, Date.now());
    return {
      type: 'voice_joined',
      session_id: m.session_id,
      room,
      peer_id: membership.peer_id,
      members: joined.members,
      ice_servers: ice.ice_servers.map((s) => ({ ...s, urls: [...s.urls] })),
      ice_expires_at: ice.expires_at,
    };
  }

  async leave(socket: Connection, m: ClientMessageOf<'voice_leave'>, deps: GatewayDeps): Reply<'voice_leave'> {
    const membership = membershipOf(socket, m.session_id);
    const left = await deps.presence.call('voice.leave', { session_id: m.session_id, peer_id: membership.peer_id, user_id: socket.data.identity.user_id });
    broadcastPresence(deps, left.events);
    return { type: 'voice_left', session_id: m.session_id, room: left.room, peer_id: membership.peer_id };
  }

  /** voice_offer, voice_answer, voice_ice: checked (both in one room), then pushed to that one peer. */
  async relay(socket: Connection, m: ClientMessageOf<'voice_offer' | 'voice_answer' | 'voice_ice'>, deps: GatewayDeps): Reply<'voice_offer'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'voice.join');
    const from = await deps.presence.call('voice.relay', { session_id: m.session_id, from_peer_id: membership.peer_id, to_peer_id: m.to_peer_id });
    const stamp = { session_id: m.session_id, room: from.room, from_peer_id: membership.peer_id, from_user_id: from.user_id };
    let signal: ServerMessage;
    if (m.type === 'voice_ice') signal = { type: 'voice_ice', ...stamp, candidate: m.candidate };
    else if (m.type === 'voice_offer') signal = { type: 'voice_offer', ...stamp, sdp: m.sdp };
    else signal = { type: 'voice_answer', ...stamp, sdp: m.sdp };
    deps.push(m.session_id, { to: 'peers', peer_ids: [m.to_peer_id] }, signal);
    return { type: 'voice_relayed', session_id: m.session_id, to_peer_id: m.to_peer_id };
  }

  async setMuted(socket: Connection, m: ClientMessageOf<'voice_mute' | 'voice_unmute'>, deps: GatewayDeps): Reply<'voice_mute'> {
    const membership = membershipOf(socket, m.session_id);
    const updated = await deps.presence.call('voice.set_muted', { session_id: m.session_id, peer_id: membership.peer_id, muted: m.type === 'voice_mute' });
    broadcastPresence(deps, updated.events);
    return { type: 'voice_member_updated', session_id: m.session_id, ...updated.member };
  }

  /** Speaking indicators go to the room's other members only (they are frequent and mean nothing elsewhere). */
  async speaking(socket: Connection, m: ClientMessageOf<'voice_speaking'>, deps: GatewayDeps): Reply<'voice_speaking'> {
    const membership = membershipOf(socket, m.session_id);
    const { member, peer_ids } = await deps.presence.call('voice.room_of', { session_id: m.session_id, peer_id: membership.peer_id });
    const event = { type: 'voice_speaking' as const, session_id: m.session_id, room: member.room, peer_id: member.peer_id, user_id: member.user_id, speaking: m.speaking };
    const others = peer_ids.filter((p) => p !== member.peer_id);
    if (others.length > 0) deps.push(m.session_id, { to: 'peers', peer_ids: others }, event);
    return event;
  }
}
