import type { PresenceEvent } from '@chorus/contracts';
import { ChorusError, type VoiceMember } from '@chorus/protocol';
import type { PresenceStore } from '../presence';
import type { VoiceRoomStore } from './voice-room.store';

type VoiceLeft = Extract<PresenceEvent, { type: 'voice_user_left' }>;

/**
 * Voice rooms: membership (who, which room, muted) and the checks of the signaling relay. Stateless over the
 * stores, like PresenceService; it broadcasts nothing, every method returns the events to broadcast. A peer
 * must be present in the session (a live presence entry of its own user) to join a room, and its membership
 * ends with its presence (see VoiceRoomStore).
 */
export class VoiceService {
  constructor(
    private readonly rooms: VoiceRoomStore,
    private readonly presence: PresenceStore,
  ) {}

  /**
   * Puts the peer in `room`. Idempotent: joining the room it is in changes nothing and tells nobody (a `muted`
   * given is applied). Moving from another room is a leave of that one, then a join. Returns the room's members,
   * the joiner included.
   */
  async join(input: { session_id: string; peer_id: string; user_id: string; display_name: string; room: string; muted?: boolean }): Promise<{ members: VoiceMember[]; events: PresenceEvent[] }> {
    const { session_id, peer_id, room } = input;
    await this.mustBePresent(session_id, peer_id, input.user_id);
    const [before] = await this.rooms.get(session_id, [peer_id]);
    const muted = input.muted ?? (before?.room === room ? before.muted : false);
    const member: VoiceMember = { peer_id, user_id: input.user_id, display_name: input.display_name, room, muted };
    const previous = await this.rooms.join(session_id, member);
    // The peer may have left the session meanwhile (its presence.leave already ran our leave): undo, so no
    // membership outlives its presence.
    if ((await this.presence.get(session_id, peer_id)) === null) {
      await this.rooms.leave(session_id, peer_id, input.user_id);
      throw new ChorusError('PERMISSION_DENIED', `Join session ${session_id} first (send "join").`);
    }
    const events: PresenceEvent[] = [];
    if (previous !== null && previous.room !== room) events.push(left(session_id, previous, 'left'));
    if (previous === null || previous.room !== room) events.push({ type: 'voice_user_joined', session_id, ...member });
    else if (previous.muted !== muted) events.push({ type: 'voice_member_updated', session_id, ...member });
    const members = (await this.rooms.list(session_id)).filter((m) => m.room === room);
    return { members, events };
  }

  /** The peer leaves its room (if in one): `voice_user_left` once, whichever caller removes it. */
  async leave(sessionId: string, peerId: string, reason: VoiceLeft['reason'], userId?: string): Promise<{ room: string | null; events: VoiceLeft[] }> {
    const removed = await this.rooms.leave(sessionId, peerId, userId);
    return removed === null ? { room: null, events: [] } : { room: removed.room, events: [left(sessionId, removed, reason)] };
  }

  async setMuted(sessionId: string, peerId: string, muted: boolean): Promise<{ member: VoiceMember; events: PresenceEvent[] }> {
    const [before] = await this.rooms.get(sessionId, [peerId]);
    const member = await this.rooms.setMuted(sessionId, peerId, muted);
    if (member === null) throw notInRoom();
    return { member, events: before?.muted === muted ? [] : [{ type: 'voice_member_updated', session_id: sessionId, ...member }] };
  }

  /**
   * May `from` signal `to`? Only when both are members of the same room of this session: the sender's member
   * (for `from_user_id` and `room`), or PERMISSION_DENIED. One read, so a relayed signal costs one round trip.
   */
  async relay(sessionId: string, fromPeerId: string, toPeerId: string): Promise<VoiceMember> {
    const [from, to] = await this.rooms.get(sessionId, [fromPeerId, toPeerId]);
    if (from === null) throw notInRoom();
    if (to === null || to.room !== from.room) {
      throw new ChorusError('PERMISSION_DENIED', `Peer "${toPeerId}" is not in your voice room "${from.room}"; signal only members of your room.`, { field: 'to_peer_id' });
    }
    return from;
  }

  /** The peer's membership and the peer ids of its room (for pushes to the room: speaking). */
  async roomOf(sessionId: string, peerId: string): Promise<{ member: VoiceMember; peer_ids: string[] }> {
    const members = await this.rooms.list(sessionId);
    const member = members.find((m) => m.peer_id === peerId);
    if (member === undefined) throw notInRoom();
    return { member, peer_ids: members.filter((m) => m.room === member.room).map((m) => m.peer_id) };
  }

  list(sessionId: string): Promise<VoiceMember[]> {
    return this.rooms.list(sessionId);
  }

  private async mustBePresent(sessionId: string, peerId: string, userId: string): Promise<void> {
    const state = await this.presence.get(sessionId, peerId);
    if (state === null || state.user_id !== userId) throw new ChorusError('PERMISSION_DENIED', `Join session ${sessionId} first (send "join").`);
  }
}

function left(sessionId: string, m: VoiceMember, reason: VoiceLeft['reason']): VoiceLeft {
  return { type: 'voice_user_left', session_id: sessionId, room: m.room, peer_id: m.peer_id, user_id: m.user_id, reason };
}

function notInRoom(): ChorusError {
  return new ChorusError('PERMISSION_DENIED', 'You are not in a voice room of this session; send "voice_join" first.');
}
