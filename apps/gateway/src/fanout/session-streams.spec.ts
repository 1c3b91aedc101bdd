import { Logger } from '@nestjs/common';
import { outboundCodec, type OutboundMessage, type OutboundPush, type SessionStreamEvent } from '@chorus/contracts';
import { MemoryFanout } from '@chorus/fanout';
import type { ServerMessage } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import type { LocalHub } from './local-hub';
import { SessionStreams, type StreamMember } from './session-streams';

const S = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';

/** The hub as the relay uses it: records the seqs each socket was written, each write, and the pushes. */
class RecordingHub implements LocalHub {
  private readonly got = new Map<string, number[]>();
  readonly writes: Array<{ ids: string[]; seq: number }> = [];
  readonly pushes: OutboundPush[] = [];

  toSockets(ids: readonly string[], message: ServerMessage): void {
    const seq = (message as { seq: number }).seq;
    this.writes.push({ ids: [...ids], seq });
    for (const id of ids) this.seqs(id).push(seq);
  }

  push(_sessionId: string, push: OutboundPush): void {
    this.pushes.push(push);
  }

  seqs(id: string): number[] {
    const list = this.got.get(id) ?? [];
    this.got.set(id, list);
    return list;
  }
}

const drops: string[] = [];
const newFanout = () => new MemoryFanout<OutboundMessage>(outboundCodec, (reason) => void drops.push(reason));
afterEach(() => expect(drops.splice(0)).toEqual([]));

/** The session stream as the session service holds it; `publish` fans an event out (or, with lose, not). */
function world() {
  const log: SessionStreamEvent[] = [];
  const fanout = newFanout();
  const hub = new RecordingHub();
  const append = async (type: 'peer_joined' | 'chat_message', options: { lose?: boolean; sender?: string } = {}) => {
    const peer = options.sender ? `peer-${options.sender}` : 'p';
    const at = { session_id: S, seq: log.length + 1, actor: 'u', created_at: new Date().toISOString() };
    const e: SessionStreamEvent =
      type === 'peer_joined'
        ? { ...at, type, payload: { peer_id: peer, user_id: 'u', display_name: 'U', kind: 'human', role: 'editor' } }
        : { ...at, type, payload: { message: type, peer_id: peer, user_id: 'u', display_name: 'U' } };
    log.push(e);
    if (!options.lose) await fanout.publish(S, { kind: 'event', event: e, origin_node: 'session-1' });
    return e;
  };
  const reads: number[] = [];
  const source = async (_s: string, _u: string, after: number, limit: number) => {
    reads.push(after);
    return { events: log.filter((e) => e.seq > after).slice(0, limit), head: log.length };
  };
  const streams = new SessionStreams(fanout, source, hub, new Logger('test'));
  return { log, append, streams, fanout, reads, hub };
}

/** A sender and another member, both joined (live) after the sender's join event. */
async function twoMembers(w: ReturnType<typeof world>) {
  await w.streams.open(S);
  const join = await w.append('peer_joined');
  const sender = member(w.hub, 'sender');
  const other = member(w.hub, 'other');
  await w.streams.attach(S, sender, join.seq, undefined);
  await w.streams.open(S);
  await w.streams.attach(S, other, join.seq, undefined);
  return { sender, other };
}

function member(hub: RecordingHub, id: string): StreamMember & { seqs: number[] } {
  return { id, userId: 'u', peerId: `peer-${id}`, seqs: hub.seqs(id), onEffect: () => undefined };
}

it('replays what a joiner missed, then live events, each seq exactly once and in order — gaps filled from the stream', async () => {
  const w = world();
  for (let i = 0; i < 5; i++) await w.append('chat_message');
  await w.streams.open(S);
  const join = await w.append('peer_joined');
  const a = member(w.hub, 'a');
  expect(await w.streams.attach(S, a, join.seq, 2)).toEqual({ seq: 6, recovered: true });
  expect(a.seqs).toEqual([3, 4, 5]);
  await w.append('chat_message', { lose: true }); // 7: lost by the fan-out
  await w.append('chat_message'); // 8 arrives first: the gap is read back
  await w.append('chat_message'); // 9
  await waitFor('7..9', () => a.seqs.length === 6);
  expect(a.seqs).toEqual([3, 4, 5, 7, 8, 9]);
});

it('does not hold live events of attached members behind a joiner\'s replay read; the joiner gets replay then live, once, in order', async () => {
  const w = world();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow = async (_s: string, _u: string, after: number, limit: number) => {
    if (after >= 1) await gate; // the joiner's replay read (after its last_seq): held until released
    return { events: w.log.filter((e) => e.seq > after).slice(0, limit), head: w.log.length };
  };
  const streams = new SessionStreams(w.fanout, slow, w.hub, new Logger('test'));
  await streams.open(S);
  const first = await w.append('peer_joined'); // 1
  const a = member(w.hub, 'a');
  await streams.attach(S, a, first.seq, undefined);
  for (let i = 0; i < 3; i++) await w.append('chat_message'); // 2..4
  await waitFor('a is live at 4', () => a.seqs.length === 3);
  await streams.open(S);
  const join = await w.append('peer_joined'); // 5: the joiner's own
  const b = member(w.hub, 'b');
  const attaching = streams.attach(S, b, join.seq, 1); // replays 2..4 (its read is slow)
  await w.append('chat_message'); // 6, live while b's replay is being read
  await waitFor('a got 6 although b is still replaying', () => a.seqs.includes(6));
  expect(b.seqs).toEqual([]);
  release();
  expect(await attaching).toEqual({ seq: 5, recovered: true });
  await w.append('chat_message'); // 7
  await waitFor('b live at 7', () => b.seqs.includes(7));
  expect(b.seqs).toEqual([2, 3, 4, 6, 7]);
  expect(a.seqs).toEqual([2, 3, 4, 5, 6, 7]);
});

it('delivers an event lost at the tail of a quiet session at the next position check', async () => {
  const w = world();
  await w.streams.open(S);
  const join = await w.append('peer_joined');
  const a = member(w.hub, 'a');
  await w.streams.attach(S, a, join.seq, undefined);
  await w.append('chat_message', { lose: true });
  await new Promise((r) => setImmediate(r));
  expect(a.seqs).toEqual([]);
  await w.streams.checkPositions();
  expect(a.seqs).toEqual([2]);
});

it('reports recovered: false when the joiner is too far behind, and skips the sender of its own event', async () => {
  const w = world();
  const streams = new SessionStreams(newFanout(), async () => ({ events: [], head: 0 }), w.hub, new Logger('test'), 10);
  for (let i = 0; i < 20; i++) await w.append('chat_message');
  await streams.open(S);
  expect(await streams.attach(S, member(w.hub, 'late'), 21, 3)).toEqual({ seq: 21, recovered: false });

  const { sender, other } = await twoMembers(w);
  await w.append('chat_message', { sender: 'sender' });
  await waitFor('delivery to the other member', () => other.seqs.length === 1);
  expect(sender.seqs).toEqual([]);
});

it("never pushes a sender's own chat message, even when it arrives through a gap read", async () => {
  const w = world();
  const { sender, other } = await twoMembers(w);
  await w.append('chat_message', { sender: 'sender', lose: true }); // 2: lost by the fan-out, read back later
  await w.append('chat_message'); // 3: from someone else, reveals the gap
  await waitFor('both delivered to the other member', () => other.seqs.length === 2);
  expect(other.seqs).toEqual([2, 3]);
  expect(sender.seqs).toEqual([3]);
});

describe('catchUp (a last_seq the client may trust)', () => {
  it('reads an event the fan-out lost before it resolves, and still never pushes the sender its own chat', async () => {
    const w = world();
    const { sender, other } = await twoMembers(w);
    await w.append('chat_message', { lose: true }); // 2: someone else's, lost on the way to this node
    const own = await w.append('chat_message', { sender: 'sender', lose: true }); // 3: the chat being acked
    await w.streams.catchUp(S, sender.id, own.seq - 1);
    expect(sender.seqs).toEqual([2]);
    expect(other.seqs).toEqual([2]);
    // The fan-out catches up later: nothing twice, the own message still not pushed to its sender.
    await w.fanout.publish(S, { kind: 'event', event: w.log[1], origin_node: 'session-1' });
    await w.fanout.publish(S, { kind: 'event', event: own, origin_node: 'session-1' });
    await waitFor('3 reaches the other member', () => other.seqs.length === 2);
    expect(sender.seqs).toEqual([2]);
    expect(other.seqs).toEqual([2, 3]);
  });

  it('waits for a lagging fan-out rather than reading, when it arrives within the bound', async () => {
    const w = world();
    const { sender } = await twoMembers(w);
    const lagging = await w.append('chat_message', { lose: true });
    const readsBefore = w.reads.length;
    const caughtUp = w.streams.catchUp(S, sender.id, lagging.seq);
    await new Promise((r) => setImmediate(r));
    expect(sender.seqs).toEqual([]);
    await w.fanout.publish(S, { kind: 'event', event: lagging, origin_node: 'session-1' });
    await caughtUp;
    expect(sender.seqs).toEqual([lagging.seq]);
    expect(w.reads.length).toBe(readsBefore);
  });

  it('resolves at once for a member that is already there or gone', async () => {
    const w = world();
    const { sender } = await twoMembers(w);
    await w.streams.catchUp(S, sender.id, 1);
    await w.streams.detach(S, sender.id);
    await w.append('chat_message', { lose: true });
    await w.streams.catchUp(S, sender.id, 2);
    expect(sender.seqs).toEqual([]);
  });

  it('rejects when the gap cannot be read, so the caller does not ack with a seq the socket is not at', async () => {
    const w = world();
    let down = false;
    const streams = new SessionStreams(w.fanout, async (_s, _u, after, limit) => {
      if (down) throw new Error('session service unavailable');
      return { events: w.log.filter((e) => e.seq > after).slice(0, limit), head: w.log.length };
    }, w.hub, new Logger('test'), 1_000, 10);
    await streams.open(S);
    const join = await w.append('peer_joined');
    const a = member(w.hub, 'a');
    await streams.attach(S, a, join.seq, undefined);
    const lost = await w.append('chat_message', { lose: true });
    down = true;
    await expect(streams.catchUp(S, a.id, lost.seq)).rejects.toThrow('unavailable');
    down = false;
    await streams.catchUp(S, a.id, lost.seq);
    expect(a.seqs).toEqual([lost.seq]);
  });
});

describe('the receiving end of the outbound road', () => {
  it('writes a durable event once for every member at that seq, and hands pushes to the hub as they came', async () => {
    const w = world();
    const { sender, other } = await twoMembers(w);
    await w.append('chat_message');
    await waitFor('delivery', () => other.seqs.length === 1);
    expect(w.hub.writes.filter((x) => x.seq === 2)).toEqual([{ ids: [sender.id, other.id], seq: 2 }]);
    const push: OutboundPush = { kind: 'push', message: { type: 'typing_stop', session_id: S, peer_id: 'p', user_id: 'u', doc_id: null }, audience: { to: 'session' }, except_peer: 'p', origin_node: 'gw-2' };
    await w.fanout.publish(S, push);
    await waitFor('the push', () => w.hub.pushes.length === 1);
    expect(w.hub.pushes).toEqual([push]);
  });

  it('drops a durable event whose payload drifted from its type, and delivers the stored one from the stream instead', async () => {
    const w = world();
    const { other } = await twoMembers(w);
    const chat = await w.append('chat_message', { lose: true }); // 2: stored, its fan-out copy replaced below
    const drifted = { kind: 'event', event: { ...chat, payload: { ...chat.payload, display_name: undefined, name: 'U' } }, origin_node: 'session-1' } as unknown as OutboundMessage;
    await w.fanout.publish(S, drifted);
    await waitFor('the drop', () => w.fanout.dropped === 1);
    expect(drops.splice(0)).toEqual([expect.stringMatching(/event .*#2: bad chat_message payload/) as string]);
    expect(other.seqs).toEqual([]);
    await w.append('chat_message'); // 3 reveals the gap: 2 is read back as stored
    await waitFor('2 and 3', () => other.seqs.length === 2);
    expect(other.seqs).toEqual([2, 3]);
  });

  it('drops a push whose message drifted from the protocol (counted and reported), never reaching the hub', async () => {
    const w = world();
    await twoMembers(w);
    const drifted = { kind: 'push', message: { type: 'typing_stop', session_id: S, peer: 'p' }, audience: { to: 'session' }, origin_node: 'gw-2' } as unknown as OutboundPush;
    await w.fanout.publish(S, drifted);
    await waitFor('the drop', () => w.fanout.dropped === 1);
    expect(w.hub.pushes).toEqual([]);
    expect(drops.splice(0)).toEqual([expect.stringContaining('push "typing_stop"') as string]);
  });
});
