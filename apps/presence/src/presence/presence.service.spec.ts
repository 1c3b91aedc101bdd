import Redis from 'ioredis';
import { ChorusError } from '@chorus/protocol';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { ManualClock } from '@chorus/testing';
import { MemoryPresenceStore } from './memory-presence.store';
import { PresenceService, type JoinPresenceInput } from './presence.service';
import { RedisPresenceStore } from './redis-presence.store';

const SESSION = '11111111-1111-4111-8111-111111111111';
const OTHER_SESSION = '22222222-2222-4222-8222-222222222222';

const input = (peer_id: string, extra: Partial<JoinPresenceInput> = {}): JoinPresenceInput => ({
  session_id: SESSION,
  peer_id,
  user_id: `u-${peer_id}`,
  display_name: `Peer ${peer_id}`,
  kind: 'human',
  node_id: 'node-1',
  ...extra,
});

function setup() {
  const clock = new ManualClock();
  const service = new PresenceService(new MemoryPresenceStore({ clock }), {}, clock);
  return { clock, service };
}

async function rejection(promise: Promise<unknown>): Promise<ChorusError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChorusError);
  return err as ChorusError;
}

describe('PresenceService', () => {
  it('join broadcasts a presence_update and who lists everyone, agents marked as agents', async () => {
    const { service } = setup();
    const [event] = await service.join(input('p1', { doc_id: 'doc', selection: { anchor: 1, head: 3 }, active_file: 'src/a.ts' }));
    expect(event).toEqual({
      type: 'presence_update', session_id: SESSION, peer_id: 'p1', user_id: 'u-p1', display_name: 'Peer p1', kind: 'human',
      status: 'online', active_file: 'src/a.ts', doc_id: 'doc', selection: { anchor: 1, head: 3 }, typing: null, last_active_at: expect.any(Number),
    });
    await service.join(input('bot', { kind: 'agent', display_name: 'Claude' }));
    expect((await service.who(SESSION)).map((v) => [v.peer_id, v.kind])).toEqual([['bot', 'agent'], ['p1', 'human']]);
  });

  it('typing brings an idle peer back: its presence_update (online) comes with the typing_start', async () => {
    const { clock, service } = setup();
    await service.join(input('p1'));
    expect((await service.typing(SESSION, 'p1', 'd')).map((e) => e.type)).toEqual(['typing_start']);
    for (let t = 0; t < 61_000; t += 5_000) {
      clock.advance(5_000);
      await service.heartbeatNode('node-1');
      await service.sweep();
    }
    expect((await service.who(SESSION))[0].status).toBe('idle');
    const events = await service.typing(SESSION, 'p1', 'd');
    expect(events).toEqual([expect.objectContaining({ type: 'presence_update', peer_id: 'p1', status: 'online' }), expect.objectContaining({ type: 'typing_start' })]);
    expect((await service.typing(SESSION, 'p1', 'd')).map((e) => e.type)).toEqual([]);
  });

  it('status rule: away wins; otherwise online until idleAfterMs without activity; heartbeats are not activity', async () => {
    const { clock, service } = setup();
    await service.join(input('p1'));
    const status = async () => (await service.who(SESSION))[0].status;
    for (let t = 0; t < 59_000; t += 5_000) {
      clock.advance(Math.min(5_000, 59_000 - t));
      await service.heartbeatNode('node-1');
    }
    expect(await status()).toBe('online');
    clock.advance(1_000);
    await service.heartbeatNode('node-1');
    expect(await status()).toBe('idle');
    const [moved] = await service.update(SESSION, 'p1', { selection: null, doc_id: 'd' });
    expect(moved).toMatchObject({ status: 'online' });
    await service.update(SESSION, 'p1', { status: 'away' });
    expect(await status()).toBe('away');
    clock.advance(5_000);
    await service.update(SESSION, 'p1', { selection: { anchor: 0, head: 0 } });
    expect(await status()).toBe('away');
    clock.advance(15_000);
    expect(await service.who(SESSION)).toEqual([]); // no heartbeat for a whole lease: gone
  });

  it('validates input and names the field', async () => {
    const { service } = setup();
    await service.join(input('p1'));
    const cases: [object, string][] = [
      [{ selection: { anchor: -1, head: 0 } }, 'selection.anchor'],
      [{ selection: { anchor: 0, head: 1.5 } }, 'selection.head'],
      [{ doc_id: 'x'.repeat(257) }, 'doc_id'],
      [{ doc_id: '' }, 'doc_id'],
      [{ active_file: 'x'.repeat(1_025) }, 'active_file'],
      [{ status: 'idle' }, 'status'],
      [{ status: 'busy' }, 'status'],
      [{ doc_id: null, selection: { anchor: 0, head: 0 } }, 'selection'],
    ];
    for (const [patch, field] of cases) {
      const err = await rejection(service.update(SESSION, 'p1', patch));
      expect([err.code, err.details.field]).toEqual(['VALIDATION_ERROR', field]);
    }
    expect((await rejection(service.join(input('bad id!')))).details.field).toBe('peer_id');
    expect((await rejection(service.join(input('p2', { selection: { anchor: 0, head: 0 } })))).details.field).toBe('selection');
  });

  it("refuses a join over another user's live peer with PERMISSION_DENIED; the holder stays, and another user's leave removes nothing", async () => {
    const { service } = setup();
    await service.join(input('alice-tab-1', { user_id: 'alice', display_name: 'Alice' }));
    const err = await rejection(service.join(input('alice-tab-1', { user_id: 'bob', display_name: 'Bob', node_id: 'node-2' })));
    expect([err.code, err.details.field]).toEqual(['PERMISSION_DENIED', 'peer_id']);
    expect(await service.leave(SESSION, 'alice-tab-1', 'bob')).toEqual([]);
    expect((await service.who(SESSION)).map((v) => [v.peer_id, v.user_id, v.display_name])).toEqual([['alice-tab-1', 'alice', 'Alice']]);
  });

  it('updates of a peer whose presence is gone fail with NOT_FOUND (the gateway re-joins)', async () => {
    const { service } = setup();
    expect((await rejection(service.update(SESSION, 'ghost', { status: 'away' }))).code).toBe('NOT_FOUND');
    expect((await rejection(service.typing(SESSION, 'ghost', null))).code).toBe('NOT_FOUND');
  });

  it('typing starts once, refreshes silently, stops by itself exactly once, or on stop_typing', async () => {
    const { clock, service } = setup();
    await service.join(input('p1'));
    expect(await service.typing(SESSION, 'p1', 'doc')).toEqual([{ type: 'typing_start', session_id: SESSION, peer_id: 'p1', user_id: 'u-p1', doc_id: 'doc' }]);
    clock.advance(4_000);
    expect(await service.typing(SESSION, 'p1', 'doc')).toEqual([]);
    clock.advance(4_000); // 8 s after the first typing, 4 s after the refresh: still typing
    expect(await service.sweep()).toEqual([]);
    expect((await service.who(SESSION))[0].typing).toEqual({ doc_id: 'doc' });
    clock.advance(1_000);
    expect(await service.sweep()).toEqual([{ type: 'typing_stop', session_id: SESSION, peer_id: 'p1', user_id: 'u-p1', doc_id: 'doc' }]);
    expect(await service.sweep()).toEqual([]);
    await service.typing(SESSION, 'p1', 'doc');
    expect((await service.typing(SESSION, 'p1', 'other')).map((e) => [e.type, 'doc_id' in e && e.doc_id])).toEqual([['typing_stop', 'doc'], ['typing_start', 'other']]);
    expect((await service.stopTyping(SESSION, 'p1')).map((e) => e.type)).toEqual(['typing_stop']);
    expect(await service.stopTyping(SESSION, 'p1')).toEqual([]);
    clock.advance(10_000);
    expect(await service.sweep()).toEqual([]);
  });

  it('leave emits presence_left once (with typing_stop if typing)', async () => {
    const { service } = setup();
    await service.join(input('p1'));
    await service.typing(SESSION, 'p1', null);
    expect((await service.leave(SESSION, 'p1')).map((e) => e.type)).toEqual(['typing_stop', 'presence_left']);
    expect(await service.leave(SESSION, 'p1')).toEqual([]);
  });

  it('a dead gateway’s peers expire within the lease; a live gateway’s peers stay', async () => {
    const { clock, service } = setup();
    await service.join(input('alive', { node_id: 'gw-1' }));
    await service.join(input('ghost', { node_id: 'gw-2' }));
    await service.join(input('ghost', { node_id: 'gw-2', session_id: OTHER_SESSION }));
    for (let t = 0; t < 15_000; t += 5_000) {
      clock.advance(5_000);
      await service.heartbeatNode('gw-1');
    }
    const events = await service.sweep();
    expect(events.map((e) => [e.type, e.session_id, e.peer_id]).sort()).toEqual([
      ['peer_expired', SESSION, 'ghost'],
      ['peer_expired', OTHER_SESSION, 'ghost'],
    ]);
    expect(events[0]).toMatchObject({ user_id: 'u-ghost', node_id: 'gw-2' });
    expect((await service.who(SESSION)).map((v) => v.peer_id)).toEqual(['alive']);
    expect(await service.who(OTHER_SESSION)).toEqual([]);
  });

  it('transforms selections through a committed op with the OT tie rule (author after, peers before)', async () => {
    const { service } = setup();
    await service.join(input('author', { doc_id: 'doc', selection: { anchor: 5, head: 5 } }));
    await service.join(input('peer', { doc_id: 'doc', selection: { anchor: 5, head: 7 } }));
    await service.join(input('before', { doc_id: 'doc', selection: { anchor: 2, head: 2 } }));
    const { events, skipped } = await service.transformSelections(SESSION, 'doc', [5, 'abc'], 'author');
    expect(skipped).toEqual([]);
    expect(events.map((e) => e.type === 'presence_update' && [e.peer_id, e.selection])).toEqual([
      ['author', { anchor: 8, head: 8 }],
      ['peer', { anchor: 5, head: 10 }],
    ]);
  });

  it('rejects options where one late heartbeat would expire a live peer', () => {
    const store = new MemoryPresenceStore();
    expect(() => new PresenceService(store, { leaseMs: 6_000, heartbeatIntervalMs: 5_000 })).toThrow(RangeError);
    expect(() => new PresenceService(store, { typingTtlMs: 0 })).toThrow(RangeError);
  });

  describe('several replicas on one Redis', () => {
    let connections: Redis[];
    beforeEach(() => {
      connections = [];
    });
    afterEach(async () => {
      await Promise.all(connections.map((c) => c.quit()));
    });

    it('sweeping concurrently, they broadcast each expiry exactly once', async () => {
      const clock = new ManualClock();
      const prefix = uniqueRedisPrefix('presence-service');
      const replicas = [0, 1, 2].map(() => {
        const redis = new Redis(testRedisUrl());
        connections.push(redis);
        return new PresenceService(new RedisPresenceStore(redis, { prefix, clock, retentionMs: 60_000 }), { sweepBatchSize: 2 }, clock);
      });
      for (let i = 0; i < 12; i++) await replicas[i % 3].join(input(`p${i}`, { node_id: 'gw-dead' }));
      for (let i = 0; i < 4; i++) await replicas[0].typing(SESSION, `p${i}`, 'doc');
      clock.advance(5_000); // typing expired, leases still live
      const typingStops = (await Promise.all(replicas.map((r) => r.sweep()))).flat();
      expect(typingStops.map((e) => `${e.type}:${e.peer_id}`).sort()).toEqual(['p0', 'p1', 'p2', 'p3'].map((p) => `typing_stop:${p}`));
      clock.advance(10_000);
      const expired = (await Promise.all(replicas.map((r) => r.sweep()))).flat();
      expect(expired.every((e) => e.type === 'peer_expired')).toBe(true);
      expect(new Set(expired.map((e) => e.peer_id)).size).toBe(12);
      expect(expired).toHaveLength(12);
      expect(await replicas[1].who(SESSION)).toEqual([]);
    });
  });
});
