import type { VoiceMember, VoiceRoomStore } from '../voice-room.store';

export interface VoiceRoomFixture {
  readonly store: VoiceRoomStore;
  /** Another "replica" on the same shared state (Redis: its own connection). */
  another(): Promise<VoiceRoomStore>;
  close(): Promise<void>;
}

const S = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const OTHER = '0b6e2c1e-5d7a-4f1b-9c3e-2a8d4f6b1c90';
export const member = (peer: string, room = 'default', muted = false, user = `user-${peer}`): VoiceMember => ({ peer_id: peer, user_id: user, display_name: `Name ${peer}`, room, muted });

/** The VoiceRoomStore contract (voice-room.store.ts), run against every implementation. */
export function voiceRoomStoreContract(make: () => Promise<VoiceRoomFixture>): void {
  let fx: VoiceRoomFixture;
  beforeEach(async () => {
    fx = await make();
  });
  afterEach(async () => fx.close());

  it('joins, lists by peer_id per session, and answers the previous membership of a rejoin or a move', async () => {
    expect(await fx.store.join(S, member('b'))).toBeNull();
    expect(await fx.store.join(S, member('a', 'standup'))).toBeNull();
    expect(await fx.store.join(OTHER, member('c'))).toBeNull();
    expect(await fx.store.list(S)).toEqual([member('a', 'standup'), member('b')]);
    expect(await fx.store.join(S, member('a', 'default', true))).toEqual(member('a', 'standup'));
    expect(await fx.store.get(S, ['a', 'zz', 'b'])).toEqual([member('a', 'default', true), null, member('b')]);
    expect(await fx.store.list(OTHER)).toEqual([member('c')]);
  });

  it('removes a member exactly once, whichever of many concurrent callers on any replica gets there first', async () => {
    await fx.store.join(S, member('a'));
    const stores = [fx.store, await fx.another(), await fx.another()];
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % stores.length].leave(S, 'a')));
    expect(results.filter((r) => r !== null)).toEqual([member('a')]);
    expect(await fx.store.list(S)).toEqual([]);
  });

  it("never removes another user's membership when asked with a user", async () => {
    await fx.store.join(S, member('a', 'default', false, 'alice'));
    expect(await fx.store.leave(S, 'a', 'mallory')).toBeNull();
    expect(await fx.store.get(S, ['a'])).toEqual([member('a', 'default', false, 'alice')]);
    expect(await fx.store.leave(S, 'a', 'alice')).toEqual(member('a', 'default', false, 'alice'));
  });

  it('sets muted on a member only, and keeps the rest of it', async () => {
    await fx.store.join(S, member('a', 'standup'));
    expect(await fx.store.setMuted(S, 'a', true)).toEqual(member('a', 'standup', true));
    expect(await fx.store.setMuted(S, 'nobody', true)).toBeNull();
    expect(await fx.store.list(S)).toEqual([member('a', 'standup', true)]);
    expect(await fx.store.setMuted(S, 'a', false)).toEqual(member('a', 'standup', false));
  });

  it('keeps display names with any characters intact', async () => {
    const odd = { ...member('a'), display_name: 'Zoë / "quotes" \\ 🎙️' };
    await fx.store.join(S, odd);
    expect(await fx.store.setMuted(S, 'a', true)).toEqual({ ...odd, muted: true });
    expect(await fx.store.list(S)).toEqual([{ ...odd, muted: true }]);
  });
}
