/** What the hub needs of a /ws connection: its id, and a write of a frame already encoded. */
export interface RoomMember {
  readonly id: string;
  /** Writes one text frame whose JSON was encoded once for every connection it goes to. */
  sendEncoded(frame: Buffer): void;
  /** Writes one binary frame (a compact file chunk: docs/file-sync.md); members that cannot (SSE) have none. */
  sendBinary?(frame: Uint8Array): void;
}

/**
 * The rooms of this node's /ws connections (Socket.IO keeps its own sockets' rooms in its adapter). The same room
 * names (socket/connection.ts `rooms`), so the hub reaches a session's members on both transports with one push.
 * Local only: pushes cross nodes on the fan-out, never through this.
 */
export class WsRooms {
  private readonly byRoom = new Map<string, Set<RoomMember>>();
  private readonly byId = new Map<string, RoomMember>();

  /** A connection is reachable by id (durable events are written to member ids) from its authentication on. */
  register(member: RoomMember): void {
    this.byId.set(member.id, member);
  }

  unregister(member: RoomMember, rooms: Iterable<string>): void {
    if (this.byId.get(member.id) === member) this.byId.delete(member.id);
    for (const room of rooms) this.remove(room, member);
  }

  add(room: string, member: RoomMember): void {
    let members = this.byRoom.get(room);
    if (!members) this.byRoom.set(room, (members = new Set()));
    members.add(member);
  }

  remove(room: string, member: RoomMember): void {
    const members = this.byRoom.get(room);
    if (!members) return;
    members.delete(member);
    if (members.size === 0) this.byRoom.delete(room);
  }

  get(id: string): RoomMember | undefined {
    return this.byId.get(id);
  }

  members(room: string): ReadonlySet<RoomMember> | undefined {
    return this.byRoom.get(room);
  }

  /** Whether any /ws connection is registered: lets the hub skip this side entirely when none is. */
  get empty(): boolean {
    return this.byId.size === 0;
  }
}
