import { ChorusError } from '@chorus/protocol';
import { ManualClock } from '@chorus/testing';
import { MemoryPresenceStore, PresenceService } from '../presence';
import { MemoryVoiceRoomStore } from './memory-voice-room.store';
import { VoiceService } from './voice.service';

// Voice membership over real in-memory stores: a present peer joins (idempotently), moves, mutes; the relay
// check lets only members of one room signal each other; leaving is announced once.

const S = '11111111-1111-4111-8111-111111111111';

async function setup() {
  const clock = new ManualClock();
  const store = new MemoryPresenceStore({ clock });
  const presence = new PresenceService(store, {}, clock);
  const voice = new VoiceService(new MemoryVoiceRoomStore(), store);
  for (const peer of ['a', 'b', 'c']) await presence.join({ session_id: S, peer_id: peer, user_id: `u-${peer}`, display_name: `Peer ${peer}`, kind: 'human', node_id: 'n1' });
  const join = (peer: string, room = 'default', muted?: boolean) => voice.join({ session_id: S, peer_id: peer, user_id: `u-${peer}`, display_name: `Peer ${peer}`, room, ...(muted !== undefined ? { muted } : {}) });
  return { clock, presence, voice, join };
}

async function refusal(promise: Promise<unknown>): Promise<ChorusError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChorusError);
  return err as ChorusError;
}

describe('VoiceService', () => {
  it('joins once: a repeat changes nothing and tells nobody; the joiner gets the room with itself', async () => {
    const { join } = await setup();
    const first = await join('a');
    expect(first.events).toEqual([{ type: 'voice_user_joined', session_id: S, peer_id: 'a', user_id: 'u-a', display_name: 'Peer a', room: 'default', muted: false }]);
    expect(first.members.map((m) => m.peer_id)).toEqual(['a']);
    const again = await join('a');
    expect(again.events).toEqual([]);
    expect(again.members).toEqual(first.members);
    const second = await join('b', 'default', true);
    expect(second.members.map((m) => [m.peer_id, m.muted])).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  it('keeps muted across a repeated join unless told, and moving rooms is a leave then a join', async () => {
    const { join, voice } = await setup();
    await join('a', 'default', true);
    expect((await join('a')).members[0].muted).toBe(true);
    const moved = await join('a', 'standup');
    expect(moved.events.map((e) => e.type)).toEqual(['voice_user_left', 'voice_user_joined']);
    expect(moved.events[0]).toMatchObject({ room: 'default', reason: 'left' });
    expect(moved.members).toEqual([expect.objectContaining({ peer_id: 'a', room: 'standup', muted: false })]);
    expect((await voice.list(S)).map((m) => m.room)).toEqual(['standup']);
  });

  it('refuses a peer that is not present in the session, or present as another user', async () => {
    const { voice } = await setup();
    expect((await refusal(voice.join({ session_id: S, peer_id: 'ghost', user_id: 'u-ghost', display_name: 'G', room: 'default' }))).code).toBe('PERMISSION_DENIED');
    expect((await refusal(voice.join({ session_id: S, peer_id: 'a', user_id: 'mallory', display_name: 'M', room: 'default' }))).code).toBe('PERMISSION_DENIED');
    expect(await voice.list(S)).toEqual([]);
  });

  it('lets only members of one room signal each other', async () => {
    const { join, voice } = await setup();
    await join('a');
    await join('b');
    await join('c', 'other');
    expect(await voice.relay(S, 'a', 'b')).toMatchObject({ peer_id: 'a', user_id: 'u-a', room: 'default' });
    expect(await refusal(voice.relay(S, 'a', 'c'))).toMatchObject({ code: 'PERMISSION_DENIED', details: { field: 'to_peer_id' } });
    expect(await refusal(voice.relay(S, 'a', 'nobody'))).toMatchObject({ code: 'PERMISSION_DENIED' });
    await voice.leave(S, 'b', 'left');
    expect((await refusal(voice.relay(S, 'b', 'a'))).code).toBe('PERMISSION_DENIED');
    expect(await voice.roomOf(S, 'a')).toEqual({ member: expect.objectContaining({ peer_id: 'a' }), peer_ids: ['a'] });
  });

  it('announces a mute only when it changed, and refuses it outside a room', async () => {
    const { join, voice } = await setup();
    await join('a');
    expect((await voice.setMuted(S, 'a', true)).events).toEqual([expect.objectContaining({ type: 'voice_member_updated', peer_id: 'a', muted: true })]);
    expect((await voice.setMuted(S, 'a', true)).events).toEqual([]);
    expect((await refusal(voice.setMuted(S, 'b', true))).code).toBe('PERMISSION_DENIED');
  });

  it('announces a leave once, with its reason, whoever asks how often', async () => {
    const { join, voice } = await setup();
    await join('a');
    const results = await Promise.all([voice.leave(S, 'a', 'disconnected', 'u-a'), voice.leave(S, 'a', 'expired'), voice.leave(S, 'a', 'left', 'u-a')]);
    expect(results.flatMap((r) => r.events)).toEqual([{ type: 'voice_user_left', session_id: S, room: 'default', peer_id: 'a', user_id: 'u-a', reason: 'disconnected' }]);
  });

  it('does not keep a membership whose presence ended during the join', async () => {
    const { presence, voice } = await setup();
    const joining = voice.join({ session_id: S, peer_id: 'a', user_id: 'u-a', display_name: 'Peer a', room: 'default' });
    await presence.leave(S, 'a', 'u-a');
    // The join checked presence before the leave; its second check finds it gone and undoes the membership.
    await joining.then(
      () => undefined,
      () => undefined,
    );
    expect(await voice.list(S)).toEqual([]);
  });
});
