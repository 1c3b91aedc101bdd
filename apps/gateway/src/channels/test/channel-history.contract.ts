import { ManualClock } from '@chorus/testing';
import type { ChannelHistory, ChannelHistoryLimits } from '../channel-history';

export interface HistoryEnv {
  /** A store as one gateway sees it. */
  readonly store: ChannelHistory;
  /** Another gateway's store over the same backend (its own connection). */
  another(): Promise<ChannelHistory>;
  close(): Promise<void>;
}

const S1 = '11111111-1111-4111-8111-111111111111';
const S2 = '22222222-2222-4222-8222-222222222222';
const alice = { user_id: 'alice', peer_id: 'alice-tab' };
const bob = { user_id: 'bob', peer_id: 'bob-cli' };

/** The behaviour both implementations promise (see the ChannelHistory contract). */
export function channelHistoryContract(name: string, make: (limits: ChannelHistoryLimits, clock: ManualClock) => Promise<HistoryEnv>): void {
  describe(`ChannelHistory contract: ${name}`, () => {
    let env: HistoryEnv;
    let clock: ManualClock;
    const open = async (limits: ChannelHistoryLimits = { size: 100, ttlMs: 600_000 }) => {
      clock = new ManualClock();
      env = await make(limits, clock);
      return env.store;
    };
    afterEach(async () => {
      await env?.close();
    });

    it('numbers events 1, 2, ... and reads back exactly those after `since`, in order, with their data', async () => {
      const store = await open();
      const data = (i: number) => ({ file: `src/f${i}.ts`, nested: { list: [i, 'ü🎉', null, true] } });
      for (let i = 1; i <= 10; i++) {
        clock.advance(3);
        const appended = await store.append(S1, 'files', { publisher: i % 2 ? alice : bob, data: data(i) });
        expect(appended).toMatchObject({ seq: i, duplicate: false, timestamp: clock.now() });
        expect(appended.entry).toEqual({ seq: i, timestamp: clock.now(), publisher: i % 2 ? alice : bob, data: data(i) });
      }
      const read = await store.read(S1, 'files', 6);
      expect(read).toMatchObject({ head: 10, recovered: true });
      expect(read.events.map((e) => e.seq)).toEqual([7, 8, 9, 10]);
      expect(read.events[0]).toEqual({ seq: 7, timestamp: expect.any(Number), publisher: alice, data: data(7) });
      expect((await store.read(S1, 'files', 0)).events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await store.read(S1, 'files', 10)).toEqual({ head: 10, events: [], recovered: true });
    });

    it('answers the head without replaying when no `since` is given, and 0 for a channel never published to', async () => {
      const store = await open();
      await store.append(S1, 'git', { publisher: alice, data: { type: 'commit', message: 'a' } });
      expect(await store.read(S1, 'git', undefined)).toEqual({ head: 1, events: [], recovered: true });
      expect(await store.read(S1, 'search', undefined)).toEqual({ head: 0, events: [], recovered: true });
      expect(await store.read(S1, 'search', 0)).toEqual({ head: 0, events: [], recovered: true });
    });

    it('keeps sessions and channels apart, each with its own seq', async () => {
      const store = await open();
      await store.append(S1, 'files', { publisher: alice, data: 1 });
      await store.append(S1, 'files', { publisher: alice, data: 2 });
      expect((await store.append(S1, 'x-build', { publisher: alice, data: 'x' })).seq).toBe(1);
      expect((await store.append(S2, 'files', { publisher: bob, data: 'y' })).seq).toBe(1);
      expect((await store.read(S1, 'files', 0)).events.map((e) => e.data)).toEqual([1, 2]);
      expect((await store.read(S2, 'files', 0)).events.map((e) => e.data)).toEqual(['y']);
    });

    it('gives concurrent appends from two gateways distinct, gap-free seqs', async () => {
      const store = await open();
      const other = await env.another();
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? store : other).append(S1, 'x-load', { publisher: alice, data: i })));
      expect(results.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      const read = await other.read(S1, 'x-load', 0);
      expect(read.events.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      // Each seq carries the data its append was answered with.
      for (const r of results) expect(read.events[r.seq - 1].data).toEqual(r.entry?.data);
    });

    it('keeps the last `size` events: `since` before them is not recovered, never a silent gap', async () => {
      const store = await open({ size: 5, ttlMs: 600_000 });
      for (let i = 1; i <= 8; i++) await store.append(S1, 'files', { publisher: alice, data: i });
      expect((await store.read(S1, 'files', 3)).events.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(await store.read(S1, 'files', 2)).toEqual({ head: 8, events: [], recovered: false });
      expect(await store.read(S1, 'files', 0)).toEqual({ head: 8, events: [], recovered: false });
    });

    it('keeps events younger than `ttlMs` only, appended to or not', async () => {
      const store = await open({ size: 100, ttlMs: 1_000 });
      for (let i = 1; i <= 3; i++) await store.append(S1, 'files', { publisher: alice, data: i });
      clock.advance(600);
      for (let i = 4; i <= 5; i++) await store.append(S1, 'files', { publisher: alice, data: i });
      clock.advance(500);
      expect(await store.read(S1, 'files', 2)).toEqual({ head: 5, events: [], recovered: false });
      expect((await store.read(S1, 'files', 3)).events.map((e) => e.seq)).toEqual([4, 5]);
      clock.advance(600);
      expect(await store.read(S1, 'files', 3)).toEqual({ head: 5, events: [], recovered: false });
      expect(await store.read(S1, 'files', 5)).toEqual({ head: 5, events: [], recovered: true });
    });

    it('refuses to recover a `since` ahead of the channel', async () => {
      const store = await open();
      await store.append(S1, 'files', { publisher: alice, data: 1 });
      expect(await store.read(S1, 'files', 2)).toEqual({ head: 1, events: [], recovered: false });
      expect(await store.read(S2, 'files', 7)).toEqual({ head: 0, events: [], recovered: false });
    });

    it('answers a resend (same user and client_msg_id) with the original event and stores nothing', async () => {
      const store = await open();
      const first = await store.append(S1, 'x-chat', { publisher: alice, data: 'one', clientMsgId: 'm-1' });
      clock.advance(5);
      const again = await store.append(S1, 'x-chat', { publisher: { ...alice, peer_id: 'alice-laptop' }, data: 'one', clientMsgId: 'm-1' });
      expect(again).toEqual({ ...first, duplicate: true });
      // Another user's key is its own.
      expect((await store.append(S1, 'x-chat', { publisher: bob, data: 'two', clientMsgId: 'm-1' })).seq).toBe(2);
      expect((await store.read(S1, 'x-chat', 0)).events.map((e) => e.data)).toEqual(['one', 'two']);
    });
  });
}
