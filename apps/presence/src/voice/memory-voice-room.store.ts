import { byPeerId, type VoiceMember, type VoiceRoomStore } from './voice-room.store';

/** The voice rooms of one process (standalone, tests). Every call completes synchronously: atomic by construction. */
export class MemoryVoiceRoomStore implements VoiceRoomStore {
  private readonly sessions = new Map<string, Map<string, VoiceMember>>();

  async join(sessionId: string, member: VoiceMember): Promise<VoiceMember | null> {
    const members = this.sessions.get(sessionId) ?? new Map<string, VoiceMember>();
    this.sessions.set(sessionId, members);
    const previous = members.get(member.peer_id) ?? null;
    members.set(member.peer_id, { ...member });
    return previous;
  }

  async leave(sessionId: string, peerId: string, userId?: string): Promise<VoiceMember | null> {
    const members = this.sessions.get(sessionId);
    const member = members?.get(peerId);
    if (!members || !member || (userId !== undefined && member.user_id !== userId)) return null;
    members.delete(peerId);
    if (members.size === 0) this.sessions.delete(sessionId);
    return member;
  }

  async setMuted(sessionId: string, peerId: string, muted: boolean): Promise<VoiceMember | null> {
    const member = this.sessions.get(sessionId)?.get(peerId);
    if (!member) return null;
    const updated = { ...member, muted };
    this.sessions.get(sessionId)?.set(peerId, updated);
    return { ...updated };
  }

  async get(sessionId: string, peerIds: readonly string[]): Promise<Array<VoiceMember | null>> {
    const members = this.sessions.get(sessionId);
    return peerIds.map((p) => {
      const m = members?.get(p);
      return m ? { ...m } : null;
    });
  }

  async list(sessionId: string): Promise<VoiceMember[]> {
    return [...(this.sessions.get(sessionId)?.values() ?? [])].map((m) => ({ ...m })).sort(byPeerId);
  }
}
