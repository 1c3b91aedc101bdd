import { Logger } from '@nestjs/common';
import type { SessionStreamEvent } from '@chorus/contracts';
import { MemoryFanout } from '@chorus/fanout';
import { waitFor } from '@chorus/testing';
import { SessionStreams, type StreamMember } from './session-streams';

const S = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';

/** The session stream as the session service holds it; `publish` fans an event out (or, with lose, not). */
function world() {
  const log: SessionStreamEvent[] = [];
  const fanout = new MemoryFanout();
  const append = async (type: 'peer_joined' | 'chat_message', options: { lose?: boolean; sender?: string } = {}) => {
    const peer = options.sender ? `peer-${options.sender}` : 'p';
    const at = { session_id: S, seq: log.length + 1, actor: 'u', created_at: new Date().toISOString() };
    const e: SessionStreamEvent =
      type === 'peer_joined'
        ? { ...at, type, payload: { peer_id: peer, user_id: 'u', display_name: 'U', kind: 'human', role: 'editor' } }
        : { ...at, type, payload: { message: type, peer_id: peer, user_id: 'u', display_name: 'U' } };
    log.push(e);
    if (!options.lose) await fanout.publish(S, { kind: 'event', body: { ...e }, origin_node: 'session-1' });
    return e;
  };
  const reads: number[] = [];
  const source = async (_s: string, _u: string, after: number, limit: number) => {
    reads.push(after);
    return { events: log.filter((e) => e.seq > after).slice(0, limit), head: log.length };
  };
  const streams = new SessionStreams(fanout, source, new Logger('test'));
  return { log, append, streams, fanout, reads };
}

/** A sender and another member, both joined (live) after the sender's join event. */
async function twoMembers(w: ReturnType<typeof world>) {
  await w.streams.open(S);
  const join = await w.append('peer_joined');
  const sender = member('sender');
  const other = member('other');
  await w.streams.attach(S, sender, join.seq, undefined);
  await w.streams.open(S);
  await w.streams.attach(S, other, join.seq, undefined);
  return { sender, other };
}

function member(id: string): StreamMember & { seqs: number[] } {
  const seqs: number[] = [];
  return { id, userId: 'u', peerId: `peer-${id}`, seqs, send: (m) => seqs.push((m as { seq: number }).seq), onEffect: () => undefined };
}

it('replays what a joiner missed, then live events, each seq exactly once and in order — gaps filled from the stream', async () => {
  const w = world();
  for (let i = 0; i < 5; i++) await w.append('chat_message');
  await w.streams.open(S);
  const join = await w.append('peer_joined');
  const a = member('a');
  expect(await w.streams.attach(S, a, join.seq, 2)).toEqual({ seq: 6, recovered: true });
  expect(a.seqs).toEqual([3, 4, 5]);
  await w.append('chat_message', { lose: true }); // 7: lost by the fan-out
  await w.append('chat_message'); // 8 arrives first: the gap is read back
  await w.append('chat_message'); // 9
  await waitFor('7..9', () => a.seqs.length === 6);
  expect(a.seqs).toEqual([3, 4, 5, 7, 8, 9]);
});

it('delivers an event lost at the tail of a quiet session at the next position check', async () => {
  const w = world();
  await w.streams.open(S);
  const join = await w.append('peer_joined');
  const a = member('a');
  await w.streams.attach(S, a, join.seq, undefined);
  await w.append('chat_message', { lose: true });
  await new Promise((r) => setImmediate(r));
  expect(a.seqs).toEqual([]);
  await w.streams.checkPositions();
  expect(a.seqs).toEqual([2]);
});

it('reports recovered: false when the joiner is too far behind, and skips the sender of its own event', async () => {
  const w = world();
  const streams = new SessionStreams(new MemoryFanout(), async () => ({ events: [], head: 0 }), new Logger('test'), 10);
  for (let i = 0; i < 20; i++) await w.append('chat_message');
  await streams.open(S);
  expect(await streams.attach(S, member('late'), 21, 3)).toEqual({ seq: 21, recovered: false });

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
    await w.fanout.publish(S, { kind: 'event', body: { ...w.log[1] }, origin_node: 'session-1' });
    await w.fanout.publish(S, { kind: 'event', body: { ...own }, origin_node: 'session-1' });
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
    await w.fanout.publish(S, { kind: 'event', body: { ...lagging }, origin_node: 'session-1' });
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
    }, new Logger('test'), 1_000, 10);
    await streams.open(S);
    const join = await w.append('peer_joined');
    const a = member('a');
    await streams.attach(S, a, join.seq, undefined);
    const lost = await w.append('chat_message', { lose: true });
    down = true;
    await expect(streams.catchUp(S, a.id, lost.seq)).rejects.toThrow('unavailable');
    down = false;
    await streams.catchUp(S, a.id, lost.seq);
    expect(a.seqs).toEqual([lost.seq]);
  });
});
