import type { OutboundPush } from '@chorus/contracts';
import type { ServerMessage } from '@chorus/protocol';
import { waitFor } from '@chorus/testing';
import type { LocalHub } from '../fanout/local-hub';
import type { ChannelEntry, ChannelHistory, HistoryRead } from './channel-history';
import { ChannelStreams, channelEvent, routeChannelPushes, type ChannelSubscriber } from './channel-streams';
import { MemoryChannelHistory } from './memory-channel-history';

const S = '44444444-4444-4444-8444-444444444444';
const publisher = { user_id: 'alice', peer_id: 'alice-tab' };
const silent = { log: () => undefined, error: () => undefined, warn: () => undefined };

/** A hub over fake sockets: rooms are sets of ids; what each socket received is recorded in order. */
class FakeHub implements LocalHub {
  readonly rooms = new Map<string, Set<string>>();
  readonly received = new Map<string, ServerMessage[]>();
  readonly other: OutboundPush[] = [];

  subscriber(id: string): ChannelSubscriber {
    return {
      id,
      join: (room) => void (this.rooms.get(room) ?? this.rooms.set(room, new Set()).get(room))?.add(id),
      leave: (room) => void this.rooms.get(room)?.delete(id),
    };
  }

  toSockets(ids: readonly string[], message: ServerMessage): void {
    for (const id of ids) (this.received.get(id) ?? this.received.set(id, []).get(id))?.push(message);
  }

  push(sessionId: string, push: OutboundPush): void {
    if (push.audience.to !== 'channel') {
      this.other.push(push);
      return;
    }
    this.toSockets([...(this.rooms.get(`c:${sessionId}:${push.audience.channel}`) ?? [])], push.message);
  }

  seqs(id: string): number[] {
    return (this.received.get(id) ?? []).map((m) => (m as { seq: number }).seq);
  }
}

/** The memory history with reads that wait for the test to let them go (to race live events against a replay). */
class GatedHistory implements ChannelHistory {
  gate: Promise<void> | undefined;
  reads = 0;
  constructor(readonly inner: MemoryChannelHistory) {}
  append: ChannelHistory['append'] = (...args) => this.inner.append(...args);
  async read(sessionId: string, channel: string, since: number | undefined): Promise<HistoryRead> {
    this.reads++;
    const result = await this.inner.read(sessionId, channel, since);
    await this.gate;
    return result;
  }
}

function setup() {
  const history = new GatedHistory(new MemoryChannelHistory({ size: 100, ttlMs: 600_000 }));
  const hub = new FakeHub();
  const counted = { gaps: 0, failures: 0 };
  const channels = new ChannelStreams(history, hub, 'gw-1', { gapRead: () => counted.gaps++, failed: () => counted.failures++ }, silent);
  const road = routeChannelPushes(hub, channels);
  /** Appends like a publisher on any gateway, and returns the push the road would bring. */
  const publish = async (channel = 'files', data: unknown = 'x'): Promise<OutboundPush> => {
    const appended = await history.append(S, channel, { publisher, data });
    return { kind: 'push', message: channelEvent(S, channel, appended.entry as ChannelEntry), audience: { to: 'channel', channel }, origin_node: 'gw-2' };
  };
  return { history, hub, channels, road, publish, counted };
}

describe('ChannelStreams', () => {
  it('replays exactly the events after `since`, then delivers live ones, when live events race the replay', async () => {
    const { history, hub, channels, road, publish } = setup();
    const early: OutboundPush[] = [];
    for (let i = 0; i < 5; i++) early.push(await publish());
    // A subscriber already here, so the relay exists and has delivered up to #5.
    await channels.subscribe(S, 'files', hub.subscriber('old'), undefined);
    for (const p of early) road.push(S, p);

    let open: () => void = () => undefined;
    history.gate = new Promise((resolve) => (open = resolve));
    const subscribed = channels.subscribe(S, 'files', hub.subscriber('new'), 2);
    // Published while the replay read is in flight: #6 is in the read's view or not; #7 arrives before it ends.
    const sixth = await publish();
    road.push(S, sixth);
    const seventh = await publish();
    road.push(S, seventh);
    road.push(S, sixth); // a duplicate from the fan-out
    open();
    history.gate = undefined;
    const result = await subscribed;
    road.push(S, await publish());

    await waitFor('#8 at both', () => hub.seqs('new').includes(8) && hub.seqs('old').includes(8));
    expect(result).toMatchObject({ recovered: true });
    expect(hub.seqs('new')).toEqual([3, 4, 5, 6, 7, 8]);
    expect(hub.seqs('old')).toEqual([6, 7, 8]);
    expect(hub.received.get('new')?.[0]).toMatchObject({ type: 'event', session_id: S, channel: 'files', seq: 3, publisher });
  });

  it('fills a gap the fan-out left from the history, in order, and drops duplicates', async () => {
    const { hub, channels, road, publish, counted } = setup();
    await channels.subscribe(S, 'files', hub.subscriber('a'), undefined);
    const pushes = [];
    for (let i = 0; i < 6; i++) pushes.push(await publish());
    road.push(S, pushes[0]);
    road.push(S, pushes[4]); // #2..#4 lost on the way
    road.push(S, pushes[2]);
    road.push(S, pushes[5]);
    road.push(S, pushes[0]);
    await waitFor('all six', () => hub.seqs('a').length >= 6);
    await channels.checkPositions();
    expect(hub.seqs('a')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(counted.gaps).toBe(1);
  });

  it('puts events that overtook each other (publishers on two gateways) back in order without reading the history', async () => {
    const { history, hub, channels, road, publish, counted } = setup();
    await channels.subscribe(S, 'files', hub.subscriber('a'), undefined);
    const reads = history.reads;
    const pushes = [];
    for (let i = 0; i < 4; i++) pushes.push(await publish());
    road.push(S, pushes[1]);
    road.push(S, pushes[3]);
    road.push(S, pushes[0]);
    road.push(S, pushes[2]);
    await waitFor('all four', () => hub.seqs('a').length >= 4);
    expect(hub.seqs('a')).toEqual([1, 2, 3, 4]);
    expect({ reads: history.reads - reads, gaps: counted.gaps }).toEqual({ reads: 0, gaps: 0 });
  });

  it('delivers the lost last event of a quiet channel at the next position check', async () => {
    const { hub, channels, publish } = setup();
    await channels.subscribe(S, 'git', hub.subscriber('a'), undefined);
    await publish('git'); // its push never arrives
    expect(hub.seqs('a')).toEqual([]);
    await channels.checkPositions();
    expect(hub.seqs('a')).toEqual([1]);
  });

  it('answers recovered: false beyond retention and replays nothing', async () => {
    const history = new MemoryChannelHistory({ size: 3, ttlMs: 600_000 });
    const hub = new FakeHub();
    const channels = new ChannelStreams(history, hub, 'gw-1', { gapRead: () => undefined, failed: () => undefined }, silent);
    for (let i = 0; i < 6; i++) await history.append(S, 'files', { publisher, data: i });
    expect(await channels.subscribe(S, 'files', hub.subscriber('a'), 1)).toEqual({ seq: 6, recovered: false, replayed: 0 });
    expect(await channels.subscribe(S, 'files', hub.subscriber('b'), 3)).toEqual({ seq: 6, recovered: true, replayed: 3 });
    expect(await channels.subscribe(S, 'files', hub.subscriber('c'), 9)).toEqual({ seq: 6, recovered: false, replayed: 0 });
    expect(hub.seqs('a')).toEqual([]);
    expect(hub.seqs('b')).toEqual([4, 5, 6]);
  });

  it('gives a relay that fell behind the history the retained latest events, in order, and counts the skip', async () => {
    const history = new MemoryChannelHistory({ size: 3, ttlMs: 600_000 });
    const hub = new FakeHub();
    let failures = 0;
    const channels = new ChannelStreams(history, hub, 'gw-1', { gapRead: () => undefined, failed: () => failures++ }, silent, 3);
    await channels.subscribe(S, 'files', hub.subscriber('a'), undefined);
    // Eight events whose pushes never arrived (this gateway was cut off from the fan-out).
    for (let i = 0; i < 8; i++) await history.append(S, 'files', { publisher, data: i });
    await channels.checkPositions();
    expect(hub.seqs('a')).toEqual([6, 7, 8]);
    expect(failures).toBe(1);
  });

  it('is idempotent: a second subscribe replays nothing, unsubscribing twice is harmless, and nothing arrives after', async () => {
    const { hub, channels, road, publish } = setup();
    road.push(S, await publish());
    expect(await channels.subscribe(S, 'files', hub.subscriber('a'), 0)).toEqual({ seq: 1, recovered: true, replayed: 1 });
    expect(await channels.subscribe(S, 'files', hub.subscriber('a'), 0)).toEqual({ seq: 1, recovered: true, replayed: 0 });
    road.push(S, await publish());
    await waitFor('#2', () => hub.seqs('a').includes(2));
    await channels.unsubscribe(S, 'files', 'a');
    await channels.unsubscribe(S, 'files', 'a');
    road.push(S, await publish());
    await channels.checkPositions();
    expect(hub.seqs('a')).toEqual([1, 2]);
    expect(channels.size).toBe(0);
  });

  it('ends every subscription of a subscriber in the session when it leaves, and passes other pushes to the hub', async () => {
    const { hub, channels, road } = setup();
    await channels.subscribe(S, 'files', hub.subscriber('a'), undefined);
    await channels.subscribe(S, 'x-build', hub.subscriber('a'), undefined);
    await channels.subscribe(S, 'files', hub.subscriber('b'), undefined);
    expect(channels.channelsOf(S, 'a').sort()).toEqual(['files', 'x-build']);
    await channels.leaveSession(S, 'a');
    expect(channels.channelsOf(S, 'a')).toEqual([]);
    expect(channels.channelsOf(S, 'b')).toEqual(['files']);
    const typing: OutboundPush = { kind: 'push', message: { type: 'typing_stop', session_id: S, peer_id: 'p', user_id: 'u', doc_id: null }, audience: { to: 'session' }, origin_node: 'gw-2' };
    road.push(S, typing);
    expect(hub.other).toEqual([typing]);
  });
});
