import type { ServerMessage } from '@chorus/protocol';
import { rooms } from '../socket/connection';
import { SocketIoHub } from './local-hub';
import { WsRooms, type RoomMember } from './ws-rooms';

const S = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';

/** A /ws connection as the hub sees it: what it was written, and which buffers. */
class Member implements RoomMember {
  readonly frames: Buffer[] = [];
  constructor(readonly id: string) {}
  sendEncoded(frame: Buffer): void {
    this.frames.push(frame);
  }
  get messages(): unknown[] {
    return this.frames.map((f) => JSON.parse(f.toString()) as unknown);
  }
}

// The /ws side of the hub (the Socket.IO side is covered end to end: bench:gateway, the e2e specs). A push reaches
// exactly its audience among /ws connections, encoded once for all of them.
describe('SocketIoHub → /ws connections', () => {
  const typing: ServerMessage = { type: 'typing_start', session_id: S, peer_id: 'a', user_id: 'alice', doc_id: null };

  function setUp() {
    const index = new WsRooms();
    const counted: Array<[string, number]> = [];
    const hub = new SocketIoHub((type, frames) => void counted.push([type, frames]), index);
    const [a, b, c, outsider] = ['ws-a', 'ws-b', 'ws-c', 'ws-x'].map((id) => new Member(id));
    for (const [m, peer] of [[a, 'a'], [b, 'b'], [c, 'c']] as const) {
      index.register(m);
      index.add(rooms.session(S), m);
      index.add(rooms.peer(S, peer), m);
    }
    index.register(outsider);
    index.add(rooms.document(S, 'doc.md'), c);
    return { index, hub, counted, a, b, c, outsider };
  }

  it('writes a session push to every member but the excepted peer, one buffer for all', () => {
    const { hub, counted, a, b, c, outsider } = setUp();
    hub.push(S, { kind: 'push', message: typing, audience: { to: 'session' }, except_peer: 'a', origin_node: 'n' });
    expect([a, b, c, outsider].map((m) => m.frames.length)).toEqual([0, 1, 1, 0]);
    expect(b.frames[0]).toBe(c.frames[0]);
    expect(b.messages).toEqual([typing]);
    expect(counted).toEqual([['typing_start', 2]]);
  });

  it('writes a document push to those with the document open, and a peers push to the named peers once', () => {
    const { hub, a, b, c } = setUp();
    hub.push(S, { kind: 'push', message: typing, audience: { to: 'document', doc_id: 'doc.md' }, origin_node: 'n' });
    expect([a, b, c].map((m) => m.frames.length)).toEqual([0, 0, 1]);
    hub.push(S, { kind: 'push', message: typing, audience: { to: 'peers', peer_ids: ['a', 'b', 'a'] }, origin_node: 'n' });
    expect([a, b, c].map((m) => m.frames.length)).toEqual([1, 1, 1]);
  });

  it('writes durable events to member ids, skipping ids that are gone', () => {
    const { index, hub, counted, a, b } = setUp();
    index.unregister(b, [rooms.session(S), rooms.peer(S, 'b')]);
    hub.toSockets(['ws-a', 'ws-b'], typing);
    expect([a.frames.length, b.frames.length]).toEqual([1, 0]);
    expect(counted).toEqual([['typing_start', 2]]);
  });

  it('forgets a connection that left its rooms', () => {
    const { index, hub, a, b } = setUp();
    index.remove(rooms.session(S), a);
    hub.push(S, { kind: 'push', message: typing, audience: { to: 'session' }, origin_node: 'n' });
    expect([a.frames.length, b.frames.length]).toEqual([0, 1]);
    expect(index.members(rooms.document(S, 'nobody.md'))).toBeUndefined();
  });
});
