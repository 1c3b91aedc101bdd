import { rm } from 'node:fs/promises';
import { standaloneDataDir, startTsProcess, waitFor, type RunningProcess } from '@chorus/testing';
import { ChorusClient } from './support/chorus-client';
import { editConcurrently, setUpSession, type People } from './support/scenario';

// `npm start` as a newcomer runs it — one process, embedded Postgres, no Redis — driven through the same
// scenario as the distributed cluster, with two real socket.io clients.

let proc: RunningProcess;
let url: string;
let dataDir: string;
let people: People;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  dataDir = await standaloneDataDir('standalone-e2e');
  proc = startTsProcess('standalone/main.ts', { PORT: '0', HOST: '127.0.0.1', CHORUS_DATA_DIR: dataDir });
  const m = await proc.waitForLine(/Chorus is up .* http:\/\/\S+:(\d+)/, 90_000);
  url = `http://127.0.0.1:${m[1]}`;
  people = await setUpSession(url, 'standalone');
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await proc?.stop('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

it('two clients join, chat, edit one document, see presence, and recover after a reconnect', async () => {
  const sid = people.sessionId;
  const alice = await ChorusClient.connect(url, people.alice.token);
  const bob = await ChorusClient.connect(url, people.bob.token);
  clients.push(alice, bob);
  await alice.ok('join', { session_id: sid, peer_id: 'alice-1', join_token: await people.alice.joinToken() });
  const joinedB = await bob.ok('join', { session_id: sid, peer_id: 'bob-1', join_token: await people.bob.joinToken() });
  expect((await alice.waitForPush('peer_joined', (m) => m.peer_id === 'bob-1')).seq).toBe(joinedB.seq);

  await alice.ok('chat_message', { session_id: sid, message: 'hi bob' });
  expect((await bob.waitForPush('chat_message')).message).toBe('hi bob');

  const { states, submitted } = await editConcurrently([{ client: alice, peerId: 'alice-1' }, { client: bob, peerId: 'bob-1' }], sid, 'README.md', 15);
  const server = await bob.ok('open_document', { session_id: sid, doc_id: 'README.md' });
  expect(server.version).toBe(submitted);
  for (const s of states) expect(s.text).toBe(server.content);

  await bob.ok('presence_update', { session_id: sid, doc_id: 'README.md', selection: { anchor: 0, head: 1 } });
  await alice.waitForPush('presence_batch', (m) => m.peers.some((p) => p.peer_id === 'bob-1' && p.selection?.head === 1));

  const lastSeq = bob.lastSeq(sid);
  bob.close();
  await alice.waitForPush('peer_left', (m) => m.peer_id === 'bob-1');
  await alice.ok('chat_message', { session_id: sid, message: 'you missed this' });
  const back = await ChorusClient.connect(url, people.bob.token);
  clients.push(back);
  const rejoined = await back.ok('join', { session_id: sid, peer_id: 'bob-2', join_token: await people.bob.joinToken(), last_seq: lastSeq });
  expect(rejoined.recovered).toBe(true);
  expect(back.durableSeqs(sid)).toEqual(Array.from({ length: rejoined.seq - lastSeq - 1 }, (_, i) => lastSeq + i + 1));
  expect(back.of('chat_message').map((m) => m.message)).toEqual(['you missed this']);
  await waitFor('bob-2 is in presence', async () => (await alice.ok('who', { session_id: sid })).peers.some((p) => p.peer_id === 'bob-2'));
}, 90_000);
