import { ManualClock } from '@chorus/testing';
import type { ExpiryOutbox } from '../expiry-outbox';
import type { PresenceStore } from '../presence.store';
import type { PeerRef, PresenceJoin, PresenceState } from '../presence.types';

/** What a contract run needs from an implementation. */
export interface PresenceStoreFixture {
  store: PresenceStore;
  /** The expiry outbox `store` (and every `another()`) enqueues claimed expiries into, as a replica sees it. */
  outbox: ExpiryOutbox;
  /** Another handle on the same shared state (Redis: its own connection), like another presence replica. */
  another(): Promise<PresenceStore>;
  close(): Promise<void>;
}

const LEASE = 1_000;
const SESSION_A = '00000000-0000-4000-8000-00000000000a';
const SESSION_B = '00000000-0000-4000-8000-00000000000b';

export function peer(overrides: Partial<PresenceJoin> & { peer_id: string }, now = 0): PresenceJoin {
  return {
    session_id: SESSION_A,
    user_id: `user-${overrides.peer_id}`,
    display_name: `Peer ${overrides.peer_id}`,
    kind: 'human',
    node_id: 'node-1',
    status: 'online',
    active_file: null,
    doc_id: null,
    selection: null,
    typing: null,
    last_active_at: now,
    ...overrides,
  };
}

const ids = (states: readonly PeerRef[]): string[] => states.map((s) => `${s.session_id}/${s.peer_id}`).sort();

/**
 * The one behavioural suite every PresenceStore implementation must pass (memory and Redis). `open` builds a
 * fresh, isolated store whose "now" is the given manual clock.
 */
export function presenceStoreContract(open: (clock: ManualClock) => Promise<PresenceStoreFixture>): void {
  let clock: ManualClock;
  let fx: PresenceStoreFixture;
  let store: PresenceStore;

  beforeEach(async () => {
    clock = new ManualClock();
    fx = await open(clock);
    store = fx.store;
  });
  afterEach(async () => {
    await fx.close();
  });

  const join = async (overrides: Partial<PresenceJoin> & { peer_id: string }): Promise<PresenceState> => {
    const stored = await store.join(peer(overrides, clock.now()), LEASE);
    if (!stored) throw new Error(`join of ${overrides.peer_id} was refused`);
    return stored;
  };

  describe('join, get, list, update, leave', () => {
    it('stores a peer with a lease and lists live peers of a session ordered by peer_id', async () => {
      const now = clock.now();
      const b = await join({ peer_id: 'b', doc_id: 'doc-1', selection: { anchor: 1, head: 4 } });
      await join({ peer_id: 'a' });
      await join({ peer_id: 'c', session_id: SESSION_B });
      expect(b).toMatchObject({ peer_id: 'b', updated_at: now, lease_expires_at: now + LEASE, selection: { anchor: 1, head: 4 } });
      expect(await store.get(SESSION_A, 'b')).toEqual(b);
      expect((await store.list(SESSION_A)).map((s) => s.peer_id)).toEqual(['a', 'b']);
      expect(await store.get(SESSION_A, 'nobody')).toBeNull();
    });

    it('lists agents like people, marked as agents', async () => {
      await join({ peer_id: 'human-1' });
      await join({ peer_id: 'agent-1', kind: 'agent', display_name: 'Refactor bot' });
      const kinds = (await store.list(SESSION_A)).map((s) => [s.peer_id, s.kind]);
      expect(kinds).toEqual([['agent-1', 'agent'], ['human-1', 'human']]);
    });

    it('updates fields, clears with null, renews the lease and ignores unknown peers', async () => {
      await join({ peer_id: 'a', active_file: 'src/a.ts' });
      clock.advance(400);
      const updated = await store.update(SESSION_A, 'a', { active_file: null, doc_id: 'doc-1', selection: { anchor: 2, head: 2 }, status: 'away' }, LEASE);
      expect(updated).toMatchObject({ active_file: null, doc_id: 'doc-1', selection: { anchor: 2, head: 2 }, status: 'away' });
      expect(updated?.updated_at).toBe(clock.now());
      expect(updated?.lease_expires_at).toBe(clock.now() + LEASE);
      expect(await store.get(SESSION_A, 'a')).toEqual(updated);
      expect(await store.update(SESSION_A, 'ghost', { status: 'away' }, LEASE)).toBeNull();
    });

    it('moving to another document without a new selection clears the selection', async () => {
      await join({ peer_id: 'a', doc_id: 'doc-1', selection: { anchor: 3, head: 3 } });
      expect((await store.update(SESSION_A, 'a', { doc_id: 'doc-1' }, LEASE))?.selection).toEqual({ anchor: 3, head: 3 });
      expect((await store.update(SESSION_A, 'a', { doc_id: 'doc-2' }, LEASE))?.selection).toBeNull();
      const moved = await store.update(SESSION_A, 'a', { doc_id: 'doc-3', selection: { anchor: 1, head: 2 } }, LEASE);
      expect(moved).toMatchObject({ doc_id: 'doc-3', selection: { anchor: 1, head: 2 } });
    });

    it('renews selection_version only when the position (selection or doc) changes', async () => {
      const joined = await join({ peer_id: 'a' });
      const s1 = await store.update(SESSION_A, 'a', { status: 'away', active_file: 'x.ts' }, LEASE);
      expect(s1?.selection_version).toBe(joined.selection_version);
      const s2 = await store.update(SESSION_A, 'a', { selection: { anchor: 0, head: 1 } }, LEASE);
      expect(s2!.selection_version).toBeGreaterThan(joined.selection_version);
    });

    it('leave returns the removed state exactly once', async () => {
      await join({ peer_id: 'a' });
      const [first, second] = await Promise.all([store.leave(SESSION_A, 'a'), (await fx.another()).leave(SESSION_A, 'a')]);
      expect([first, second].filter((s) => s !== null).map((s) => s?.peer_id)).toEqual(['a']);
      expect(await store.list(SESSION_A)).toEqual([]);
      expect(await store.leave(SESSION_A, 'a')).toBeNull();
    });

    it('a re-join (reconnect through another node) replaces the entry and moves it to the new node', async () => {
      await join({ peer_id: 'a', node_id: 'node-1' });
      await join({ peer_id: 'a', node_id: 'node-2', display_name: 'Renamed' });
      expect((await store.list(SESSION_A)).map((s) => [s.node_id, s.display_name])).toEqual([['node-2', 'Renamed']]);
      expect(await store.heartbeatNode('node-1', LEASE)).toEqual({ refreshed: 0, lost: [] });
      expect(await store.heartbeatNode('node-2', LEASE)).toEqual({ refreshed: 1, lost: [] });
    });

    it('a user may be in several sessions at once', async () => {
      await join({ peer_id: 'tab-1', user_id: 'ada', session_id: SESSION_A });
      await join({ peer_id: 'tab-2', user_id: 'ada', session_id: SESSION_B });
      await join({ peer_id: 'tab-3', user_id: 'ada', session_id: SESSION_B });
      expect((await store.list(SESSION_A)).map((s) => s.peer_id)).toEqual(['tab-1']);
      await store.leave(SESSION_A, 'tab-1');
      expect(await store.list(SESSION_A)).toEqual([]);
      expect((await store.list(SESSION_B)).map((s) => s.peer_id)).toEqual(['tab-2', 'tab-3']);
    });
  });

  describe('peer ownership', () => {
    it("refuses a join over another user's live entry: nothing written, the holder's entry and indexes unchanged", async () => {
      const alice = await join({ peer_id: 'tab-1', user_id: 'alice', node_id: 'node-a', doc_id: 'doc-1', selection: { anchor: 1, head: 2 } });
      clock.advance(100);
      expect(await store.join(peer({ peer_id: 'tab-1', user_id: 'bob', node_id: 'node-b', display_name: 'Bob' }, clock.now()), LEASE)).toBeNull();
      expect(await store.get(SESSION_A, 'tab-1')).toEqual(alice);
      expect(await store.list(SESSION_A)).toEqual([alice]);
      expect(await store.heartbeatNode('node-b', LEASE)).toEqual({ refreshed: 0, lost: [] });
      expect(await store.heartbeatNode('node-a', LEASE)).toEqual({ refreshed: 1, lost: [] });
    });

    it("the same user's re-join replaces its entry; another user may take the peer id once the lease ran out", async () => {
      await join({ peer_id: 'tab-1', user_id: 'alice', node_id: 'node-1' });
      await expect(join({ peer_id: 'tab-1', user_id: 'alice', node_id: 'node-2' })).resolves.toMatchObject({ user_id: 'alice', node_id: 'node-2' });
      clock.advance(LEASE);
      await expect(join({ peer_id: 'tab-1', user_id: 'bob' })).resolves.toMatchObject({ user_id: 'bob' });
      expect((await store.list(SESSION_A)).map((s) => s.user_id)).toEqual(['bob']);
    });

    it('two users racing to join one peer id on two replicas: exactly one entry, of the one join that succeeded', async () => {
      const other = await fx.another();
      for (let round = 0; round < 10; round++) {
        const peerId = `contested-${round}`;
        const results = await Promise.all([
          store.join(peer({ peer_id: peerId, user_id: 'alice' }, clock.now()), LEASE),
          other.join(peer({ peer_id: peerId, user_id: 'bob' }, clock.now()), LEASE),
        ]);
        const stored = results.filter((r) => r !== null);
        expect(stored).toHaveLength(1);
        expect((await store.get(SESSION_A, peerId))?.user_id).toBe(stored[0]?.user_id);
      }
    });

    it("leave with a user id never removes another user's entry", async () => {
      const alice = await join({ peer_id: 'tab-1', user_id: 'alice' });
      expect(await store.leave(SESSION_A, 'tab-1', 'bob')).toBeNull();
      expect(await store.get(SESSION_A, 'tab-1')).toEqual(alice);
      expect(await store.leave(SESSION_A, 'tab-1', 'alice')).toEqual(alice);
      expect(await store.get(SESSION_A, 'tab-1')).toBeNull();
    });
  });

  describe('leases', () => {
    it('an expired peer disappears at once and claimExpired returns it exactly once', async () => {
      await join({ peer_id: 'a' });
      clock.advance(LEASE);
      expect(await store.list(SESSION_A)).toEqual([]);
      expect(await store.get(SESSION_A, 'a')).toBeNull();
      expect(await store.update(SESSION_A, 'a', { status: 'away' }, LEASE)).toBeNull();
      const claimed = await store.claimExpired(clock.now(), 10);
      expect(claimed).toEqual([{ session_id: SESSION_A, peer_id: 'a', state: expect.objectContaining({ user_id: 'user-a', node_id: 'node-1' }) }]);
      expect(await store.claimExpired(clock.now(), 10)).toEqual([]);
      expect(await store.leave(SESSION_A, 'a')).toBeNull();
    });

    it('claims oldest first, at most `limit`, and nothing that is still live', async () => {
      await join({ peer_id: 'old' });
      clock.advance(100);
      await join({ peer_id: 'young' });
      clock.advance(100);
      await join({ peer_id: 'live' });
      clock.advance(LEASE - 50);
      expect((await store.claimExpired(clock.now(), 1)).map((e) => e.peer_id)).toEqual(['old']);
      expect((await store.claimExpired(clock.now(), 10)).map((e) => e.peer_id)).toEqual(['young']);
      expect((await store.list(SESSION_A)).map((s) => s.peer_id)).toEqual(['live']);
    });

    it('three replicas claiming concurrently get each expired peer exactly once in total', async () => {
      const total = 40;
      for (let i = 0; i < total; i++) await join({ peer_id: `p${i}`, session_id: i % 2 ? SESSION_A : SESSION_B });
      clock.advance(LEASE + 1);
      const replicas = [store, await fx.another(), await fx.another()];
      const claimedBy = await Promise.all(
        replicas.map(async (replica) => {
          const mine: string[] = [];
          for (;;) {
            const batch = await replica.claimExpired(clock.now(), 3);
            if (batch.length === 0) return mine;
            mine.push(...batch.map((e) => `${e.session_id}/${e.peer_id}`));
          }
        }),
      );
      const all = claimedBy.flat();
      expect(all).toHaveLength(total);
      expect(new Set(all).size).toBe(total);
    });

    it('leave and claimExpired racing for one expired peer: exactly one of them gets it', async () => {
      await join({ peer_id: 'a' });
      clock.advance(LEASE);
      const other = await fx.another();
      const [left, claimed] = await Promise.all([store.leave(SESSION_A, 'a'), other.claimExpired(clock.now(), 10)]);
      expect((left ? 1 : 0) + claimed.length).toBe(1);
    });

    it('the claim itself puts the expiry into the outbox: a claimer that dies right after loses nothing', async () => {
      // An id with every character class the outbox member must spell exactly as JSON.stringify does.
      const odd = 'u"\\/\n\t\u0001é😀';
      const joined = await join({ peer_id: 'a', user_id: odd });
      clock.advance(LEASE / 2);
      await join({ peer_id: 'live' });
      clock.advance(LEASE / 2);
      // This replica claims, then "dies": nothing after the claim (broadcast, outbox.add) ever runs.
      expect(ids(await store.claimExpired(clock.now(), 10))).toEqual([`${SESSION_A}/a`]);
      const expiry = { session_id: SESSION_A, peer_id: 'a', user_id: odd, expiry_key: `${SESSION_A}/a/${joined.lease_expires_at}` };
      // Another replica's drain finds it, due at once.
      const other = await fx.another();
      expect(await other.claimExpired(clock.now(), 10)).toEqual([]);
      expect(await fx.outbox.claimDue(10)).toEqual([expiry]);
      // done() with the entry as TypeScript spells it removes the one the claim added (same member).
      await fx.outbox.done(expiry);
      clock.advance(60_000);
      expect(await fx.outbox.claimDue(10)).toEqual([]);
    });

    it('concurrent claimers enqueue each expiry exactly once', async () => {
      for (let i = 0; i < 12; i++) await join({ peer_id: `p${i}` });
      clock.advance(LEASE);
      const replicas = [store, await fx.another(), await fx.another()];
      await Promise.all(replicas.map(async (r) => { while ((await r.claimExpired(clock.now(), 2)).length > 0); }));
      const due = await fx.outbox.claimDue(100);
      expect(due.map((e) => e.peer_id).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `p${i}`).sort());
    });

    it('heartbeats keep a node’s peers alive; a dead node’s peers vanish within one lease', async () => {
      await join({ peer_id: 'a', node_id: 'alive' });
      await join({ peer_id: 'b', node_id: 'alive', session_id: SESSION_B });
      await join({ peer_id: 'c', node_id: 'dead' });
      for (let beat = 0; beat < 3; beat++) {
        clock.advance(LEASE / 2);
        expect(await store.heartbeatNode('alive', LEASE)).toEqual({ refreshed: 2, lost: [] });
      }
      expect((await store.list(SESSION_A)).map((s) => s.peer_id)).toEqual(['a']);
      expect((await store.list(SESSION_B)).map((s) => s.peer_id)).toEqual(['b']);
      expect(ids(await store.claimExpired(clock.now(), 10))).toEqual([`${SESSION_A}/c`]);
    });

    it('a heartbeat never resurrects an expired peer: it reports it lost so the gateway can re-join', async () => {
      await join({ peer_id: 'a', node_id: 'n' });
      await join({ peer_id: 'b', node_id: 'n' });
      clock.advance(LEASE + 1);
      const beat = await store.heartbeatNode('n', LEASE);
      expect(beat.refreshed).toBe(0);
      expect(ids(beat.lost)).toEqual([`${SESSION_A}/a`, `${SESSION_A}/b`]);
      expect(await store.list(SESSION_A)).toEqual([]);
      expect(await store.heartbeatNode('n', LEASE)).toEqual({ refreshed: 0, lost: [] });
      expect(await store.claimExpired(clock.now(), 10)).toHaveLength(2);
    });

    it('a heartbeat is not a content write: updated_at and selection_version stay', async () => {
      const joined = await join({ peer_id: 'a', node_id: 'n' });
      clock.advance(200);
      await store.heartbeatNode('n', LEASE);
      expect(await store.get(SESSION_A, 'a')).toEqual({ ...joined, lease_expires_at: clock.now() + LEASE });
    });
  });

  describe('typing', () => {
    it('an expired typing indicator is claimed exactly once across concurrent claimers', async () => {
      for (const id of ['a', 'b', 'c']) await join({ peer_id: id, typing: { doc_id: 'doc-1', until: clock.now() + 300 } });
      await store.update(SESSION_A, 'c', { typing: { doc_id: 'doc-1', until: clock.now() + 900 } }, LEASE);
      clock.advance(300);
      const replicas = [store, await fx.another(), await fx.another()];
      const claims = await Promise.all(replicas.map((r) => r.claimExpiredTyping(clock.now(), 10)));
      const claimed = claims.flat();
      expect(claimed.map((s) => s.peer_id).sort()).toEqual(['a', 'b']);
      expect(claimed[0].typing).toEqual({ doc_id: 'doc-1', until: clock.now() });
      expect((await store.get(SESSION_A, 'a'))?.typing).toBeNull();
      expect((await store.get(SESSION_A, 'c'))?.typing).not.toBeNull();
      expect(await store.claimExpiredTyping(clock.now(), 10)).toEqual([]);
    });

    it('an explicit stop is never claimed later; a refresh postpones the claim', async () => {
      await join({ peer_id: 'a', typing: { doc_id: null, until: clock.now() + 100 } });
      await join({ peer_id: 'b', typing: { doc_id: 'd', until: clock.now() + 100 } });
      await store.update(SESSION_A, 'a', { typing: null }, LEASE);
      clock.advance(50);
      await store.update(SESSION_A, 'b', { typing: { doc_id: 'd', until: clock.now() + 100 } }, LEASE);
      clock.advance(60);
      expect(await store.claimExpiredTyping(clock.now(), 10)).toEqual([]);
      clock.advance(40);
      expect((await store.claimExpiredTyping(clock.now(), 10)).map((s) => s.peer_id)).toEqual(['b']);
    });

    it('typing of a peer whose lease ran out is left to claimExpired', async () => {
      await join({ peer_id: 'a', typing: { doc_id: 'd', until: clock.now() + 100 } });
      clock.advance(LEASE);
      expect(await store.claimExpiredTyping(clock.now(), 10)).toEqual([]);
      expect((await store.claimExpired(clock.now(), 10))[0].state?.typing).toEqual({ doc_id: 'd', until: clock.now() - LEASE + 100 });
    });
  });

  describe('transformSelections', () => {
    const shift = (by: number, from: number) => (sel: { anchor: number; head: number }) => ({
      anchor: sel.anchor >= from ? sel.anchor + by : sel.anchor,
      head: sel.head >= from ? sel.head + by : sel.head,
    });

    it('transforms every live selection on the document and nothing else', async () => {
      await join({ peer_id: 'a', doc_id: 'doc-1', selection: { anchor: 2, head: 8 } });
      await join({ peer_id: 'b', doc_id: 'doc-1', selection: { anchor: 10, head: 10 } });
      await join({ peer_id: 'before', doc_id: 'doc-1', selection: { anchor: 1, head: 1 } });
      await join({ peer_id: 'no-sel', doc_id: 'doc-1' });
      await join({ peer_id: 'other-doc', doc_id: 'doc-2', selection: { anchor: 10, head: 10 } });
      await join({ peer_id: 'other-session', session_id: SESSION_B, doc_id: 'doc-1', selection: { anchor: 10, head: 10 } });
      const seen: string[] = [];
      const result = await store.transformSelections(SESSION_A, 'doc-1', (sel, state) => {
        seen.push(state.peer_id);
        return shift(3, 5)(sel);
      });
      expect(seen.sort()).toEqual(['a', 'b', 'before']);
      expect(result.skipped).toEqual([]);
      expect(result.updated.map((s) => [s.peer_id, s.selection])).toEqual([
        ['a', { anchor: 2, head: 11 }],
        ['b', { anchor: 13, head: 13 }],
      ]);
      const stored = Object.fromEntries((await store.list(SESSION_A)).map((s) => [s.peer_id, s.selection]));
      expect(stored).toMatchObject({ a: { anchor: 2, head: 11 }, b: { anchor: 13, head: 13 }, before: { anchor: 1, head: 1 }, 'other-doc': { anchor: 10, head: 10 } });
      expect((await store.get(SESSION_B, 'other-session'))?.selection).toEqual({ anchor: 10, head: 10 });
    });

    it('an owner’s selection write racing the transform wins and is reported as skipped', async () => {
      await join({ peer_id: 'a', doc_id: 'doc-1', selection: { anchor: 5, head: 5 } });
      await join({ peer_id: 'b', doc_id: 'doc-1', selection: { anchor: 6, head: 6 } });
      let racing: Promise<unknown> = Promise.resolve();
      const result = await store.transformSelections(SESSION_A, 'doc-1', (sel, state) => {
        // Between the transform's read and its conditional write, peer a's owner moves its caret. The write
        // is issued first (same connection, so it reaches Redis before the conditional write).
        if (state.peer_id === 'a') racing = store.update(SESSION_A, 'a', { selection: { anchor: 42, head: 42 } }, LEASE);
        return shift(1, 0)(sel);
      });
      await racing;
      expect(result.skipped).toEqual([{ session_id: SESSION_A, peer_id: 'a' }]);
      expect(result.updated.map((s) => s.peer_id)).toEqual(['b']);
      expect((await store.get(SESSION_A, 'a'))?.selection).toEqual({ anchor: 42, head: 42 });
      expect((await store.get(SESSION_A, 'b'))?.selection).toEqual({ anchor: 7, head: 7 });
    });

    it('moves the applied version with the selections, only from the version it was read at', async () => {
      await join({ peer_id: 'a', doc_id: 'doc-1', selection: { anchor: 5, head: 5 } });
      expect(await store.appliedVersion(SESSION_A, 'doc-1')).toBeNull();
      expect((await store.transformSelections(SESSION_A, 'doc-1', shift(1, 0), { from: null, to: 3 })).updated).toHaveLength(1);
      expect(await store.appliedVersion(SESSION_A, 'doc-1')).toBe(3);
      // A second applier that read the same starting point (a redelivery on another replica): refused whole.
      const other = await fx.another();
      expect(await other.transformSelections(SESSION_A, 'doc-1', shift(1, 0), { from: null, to: 3 })).toEqual({ updated: [], skipped: [], outOfStep: true });
      expect(await other.transformSelections(SESSION_A, 'doc-1', shift(1, 0), { from: 2, to: 3 })).toMatchObject({ outOfStep: true });
      expect((await store.get(SESSION_A, 'a'))?.selection).toEqual({ anchor: 6, head: 6 });
      // A step that moves no selection (an op far away) still records the version.
      expect(await other.transformSelections(SESSION_A, 'doc-1', (sel) => sel, { from: 3, to: 4 })).toEqual({ updated: [], skipped: [] });
      expect(await store.appliedVersion(SESSION_A, 'doc-1')).toBe(4);
      // Per document and per session.
      expect(await store.appliedVersion(SESSION_A, 'doc-2')).toBeNull();
      expect(await store.appliedVersion(SESSION_B, 'doc-1')).toBeNull();
    });

    it('skips expired peers', async () => {
      await join({ peer_id: 'a', doc_id: 'doc-1', selection: { anchor: 5, head: 5 } });
      clock.advance(LEASE);
      expect(await store.transformSelections(SESSION_A, 'doc-1', shift(1, 0))).toEqual({ updated: [], skipped: [] });
    });
  });
}
