import type { Server } from 'socket.io';
import type { OutboundPush } from '@chorus/contracts';
import { encodeBinaryFrame, type ServerMessage, type ServerMessageOf } from '@chorus/protocol';
import { rooms } from '../socket/connection';
import type { RoomMember, WsRooms } from './ws-rooms';

/**
 * The only writer of pushes to sockets (centrifuge's hub): what the fan-out brought to this node goes to this
 * node's connections of both transports, and nowhere else — Socket.IO sockets through `io.local`, so nothing is
 * published again through the Socket.IO Redis adapter; /ws connections through their rooms (ws-rooms.ts). A
 * message for many connections is encoded once per transport (Socket.IO's broadcast path; one JSON buffer for
 * every /ws connection it reaches), not once per connection.
 */
export interface LocalHub {
  /** Writes `message` to these sockets of this node (ids of sockets gone meanwhile are skipped). */
  toSockets(socketIds: readonly string[], message: ServerMessage): void;
  /** Writes a push to its audience among this node's sockets of the session. */
  push(sessionId: string, push: OutboundPush): void;
}

/** Counts what the hub writes: one frame per socket. */
export type FrameCounter = (type: ServerMessage['type'], frames: number) => void;

export class SocketIoHub implements LocalHub {
  private io: Server | undefined;
  /** Where `yjs_message` pushes also go: the binary sockets of the /yjs/ path (yjs/yjs-docs.ts). */
  private yjs: ((message: ServerMessageOf<'yjs_message'>) => void) | undefined;

  constructor(
    private readonly count: FrameCounter,
    private readonly ws: WsRooms,
  ) {}

  /** The server is created when the HTTP server is attached, after the hub. */
  bind(io: Server): void {
    this.io = io;
  }

  bindYjs(deliver: (message: ServerMessageOf<'yjs_message'>) => void): void {
    this.yjs = deliver;
  }

  toSockets(socketIds: readonly string[], message: ServerMessage): void {
    if (socketIds.length === 0) return;
    if (this.ws.empty) {
      this.io?.local.to(socketIds as string[]).emit(message.type, message);
      this.count(message.type, socketIds.length);
      return;
    }
    const ioIds: string[] = [];
    const wsMembers: RoomMember[] = [];
    for (const id of socketIds) {
      const member = this.ws.get(id);
      if (member) wsMembers.push(member);
      else ioIds.push(id);
    }
    if (this.io && ioIds.length > 0) this.io.local.to(ioIds).emit(message.type, message);
    writeEncoded(wsMembers, message);
    this.count(message.type, socketIds.length);
  }

  private pushBinary(sessionId: string, push: OutboundPush, message: Extract<ServerMessage, { type: 'file_data' }>): void {
    const targets = audienceRooms(sessionId, push);
    // Every node of the session gets the chunk; only the guest's has its socket: the others stop here.
    const frames = this.io ? countFrames(this.io, targets, undefined) : 0;
    const wsMembers = this.ws.empty ? [] : wsAudience(this.ws, targets, undefined);
    if (frames === 0 && wsMembers.length === 0) return;
    const { header, data } = binaryOf(message);
    if (this.io && frames > 0) this.io.local.to(targets).emit('file_data', { ...header, data } as unknown as ServerMessage);
    if (wsMembers.length > 0) {
      const frame = encodeBinaryFrame(header, data);
      for (const m of wsMembers) m.sendBinary?.(frame);
    }
    this.count('file_data', frames + wsMembers.length);
  }

  push(sessionId: string, push: OutboundPush): void {
    if (push.message.type === 'file_data') return this.pushBinary(sessionId, push, push.message);
    const io = this.io;
    const targets = audienceRooms(sessionId, push);
    const except = push.except_peer === undefined ? undefined : rooms.peer(sessionId, push.except_peer);
    let frames = 0;
    if (io) {
      const operator = except === undefined ? io.local.to(targets) : io.local.to(targets).except(except);
      operator.emit(push.message.type, push.message);
      frames += countFrames(io, targets, except);
    }
    const wsMembers = this.ws.empty ? [] : wsAudience(this.ws, targets, except);
    writeEncoded(wsMembers, push.message);
    if (push.message.type === 'yjs_message') this.yjs?.(push.message);
    this.count(push.message.type, frames + wsMembers.length);
  }
}

/**
 * A compact file chunk crossed the road as bytes beside its JSON (`data`), or, from a gateway of an older release
 * during a rolling deploy, as base64 (`data_b64`, decoded here): written binary — a Socket.IO attachment in
 * `data`, or the /ws binary frame [u32 header length][header JSON][data].
 */
function binaryOf(message: Extract<ServerMessage, { type: 'file_data' }>): { header: Record<string, unknown>; data: Uint8Array } {
  const { data_b64, data, ...header } = message;
  return { header, data: data ?? Buffer.from(data_b64 ?? '', 'base64') };
}

/** The /ws connections in any target room, less those in the excepted one. */
function wsAudience(ws: WsRooms, targets: readonly string[], except: string | undefined): RoomMember[] {
  const excluded = except === undefined ? undefined : ws.members(except);
  const reached = new Set<RoomMember>();
  for (const room of targets) for (const m of ws.members(room) ?? []) if (!excluded?.has(m)) reached.add(m);
  return [...reached];
}

/** One JSON encoding for every /ws connection a message reaches (a Buffer: ws writes it without re-encoding). */
function writeEncoded(members: readonly RoomMember[], message: ServerMessage): void {
  if (members.length === 0) return;
  const frame = Buffer.from(JSON.stringify(message));
  for (const m of members) m.sendEncoded(frame);
}

function audienceRooms(sessionId: string, push: OutboundPush): string[] {
  const audience = push.audience;
  switch (audience.to) {
    case 'session':
      return [rooms.session(sessionId)];
    case 'document':
      return [rooms.document(sessionId, audience.doc_id)];
    case 'peers':
      return audience.peer_ids.map((peer) => rooms.peer(sessionId, peer));
    case 'channel':
      return [rooms.channel(sessionId, audience.channel)];
    default: {
      const unknown: never = audience;
      throw new Error(`unknown audience ${JSON.stringify(unknown)}`);
    }
  }
}

/** How many local sockets a push reached: those in any target room, less those in the excepted one. */
function countFrames(io: Server, targets: readonly string[], except: string | undefined): number {
  const local = io.of('/').adapter.rooms;
  if (targets.length === 1 && except === undefined) return local.get(targets[0])?.size ?? 0;
  const reached = new Set<string>();
  for (const room of targets) for (const id of local.get(room) ?? []) reached.add(id);
  if (except !== undefined) for (const id of local.get(except) ?? []) reached.delete(id);
  return reached.size;
}
