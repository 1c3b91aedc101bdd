import { ChorusClient, type VoicePush } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { SDK_TRANSPORTS } from './support/sdk-transports';
import { startTestStack, type TestStack } from './support/stack';

// The SDK surface of issue 16 against a whole stack (real Postgres and Redis): editChat/deleteChat resolve with
// the stored events and every client sees chat_edited/chat_deleted once; joinVoice gives the members and ICE
// servers; signal() reaches exactly the one peer as a `voice` event with the sender stamped; leaving is heard.
// Alice is on /ws, Bob on Socket.IO: the same API on both transports.

let stack: TestStack;
let people: People;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  stack = await startTestStack('sdk_chat_voice', { redis: true, env: { VOICE_STUN_URLS: 'stun:stun.example.com:3478' } });
  people = await setUpSession(stack.url, 'sdk_cv');
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

function client(token: string, peerId: string, transport = SDK_TRANSPORTS[0][1]): ChorusClient {
  const c = new ChorusClient({ url: stack.url, token, peerId, transport });
  clients.push(c);
  return c;
}

it('edits and deletes chat, and signals a voice peer, through the SDK', async () => {
  const alice = client(people.alice.token, 'alice-sdk', SDK_TRANSPORTS[1][1]);
  const bob = client(people.bob.token, 'bob-sdk');
  const a = alice.session(people.sessionId);
  const b = bob.session(people.sessionId);
  const edited: Array<{ seq: number; message: string }> = [];
  const deleted: Array<{ seq: number; deletedBy: string }> = [];
  b.on('chat_edited', (e) => edited.push(e));
  b.on('chat_deleted', (e) => deleted.push(e));
  const bobVoice: VoicePush[] = [];
  b.on('voice', (m) => bobVoice.push(m));
  await a.join();
  await b.join();

  const sent = await a.sendChat('draft');
  const edit = await a.editChat(sent.seq, 'final');
  expect(edit).toMatchObject({ type: 'message_update', message_seq: sent.seq, message: 'final' });
  expect(a.lastSeq).toBe(edit.seq);
  await waitFor('bob to see the edit', () => edited.length === 1);
  expect(edited).toEqual([expect.objectContaining({ seq: sent.seq, message: 'final', userId: 'alice-sdk_cv' })]);
  // Bob may not edit or delete Alice's message (an editor); Alice, the owner, deletes it — twice is once.
  await expect(b.editChat(sent.seq, 'bob was here')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  await expect(b.deleteChat(sent.seq)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  const deletion = await a.deleteChat(sent.seq);
  expect(await a.deleteChat(sent.seq)).toMatchObject({ seq: deletion.seq });
  await waitFor('bob to see the deletion', () => deleted.length === 1);
  expect(deleted).toEqual([expect.objectContaining({ seq: sent.seq, deletedBy: 'alice-sdk_cv' })]);

  const joined = await a.joinVoice();
  expect(joined.ice_servers).toEqual([{ urls: ['stun:stun.example.com:3478'] }]);
  expect((await b.joinVoice({ muted: true })).members.map((m) => m.peer_id)).toEqual(['alice-sdk', 'bob-sdk']);
  await a.signal('bob-sdk', { kind: 'offer', sdp: 'v=0\r\n' });
  await a.signal('bob-sdk', { kind: 'ice', candidate: { candidate: '', sdp_mid: '0', sdp_mline_index: 0 } });
  await waitFor('bob to get the offer and the candidate', () => bobVoice.some((m) => m.type === 'voice_ice'));
  expect(bobVoice.filter((m) => m.type === 'voice_offer')).toEqual([expect.objectContaining({ from_peer_id: 'alice-sdk', sdp: 'v=0\r\n' })]);
  await expect(a.signal('nobody', { kind: 'answer', sdp: 'v=0\r\n' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  expect(await b.setMuted(false)).toMatchObject({ muted: false });
  await a.setSpeaking(true);
  await waitFor('bob to see alice speaking', () => bobVoice.some((m) => m.type === 'voice_speaking' && m.speaking));
  await a.leaveVoice();
  await waitFor('bob to hear alice leave', () => bobVoice.some((m) => m.type === 'voice_user_left' && m.peer_id === 'alice-sdk'));
  expect(edited).toHaveLength(1);
  expect(deleted).toHaveLength(1);
});
