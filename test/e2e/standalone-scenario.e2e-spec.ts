import { rm } from 'node:fs/promises';
import WebSocket from 'ws';
import { ChorusClient, type ChannelEvent, type ChatMessage, type ChorusTransport, type DurableEvent } from '@chorus/client';
import { standaloneDataDir, startTsProcess, waitFor, type RunningProcess } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';

// `npm start` as a newcomer runs it — one process, embedded Postgres, no Redis — driven the way a newcomer's
// code would drive it: through the client SDK (@chorus/client), two clients on real sockets — Alice over
// Socket.IO, Bob over the plain WebSocket endpoint /ws — and a channel between them.

let proc: RunningProcess;
let url: string;
let dataDir: string;
let people: People;
const clients: ChorusClient[] = [];
const overWs: ChorusTransport = { kind: 'websocket', WebSocket };
const client = (token: string, peerId: string, transport: ChorusTransport = 'socket.io') => {
  const c = new ChorusClient({ url, token, peerId, transport, onWarning: () => undefined });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  dataDir = await standaloneDataDir('standalone-e2e');
  proc = startTsProcess('standalone/main.ts', { PORT: '0', HOST: '127.0.0.1', CHORUS_DATA_DIR: dataDir });
  const m = await proc.waitForLine(/Chorus is up .* http:\/\/\S+:(\d+)/, 90_000);
  url = `http://127.0.0.1:${m[1]}`;
  people = await setUpSession(url, 'standalone');
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  // SIGTERM: a clean stop takes its embedded Postgres down too (SIGKILL left that child running, holding the dir).
  await proc?.stop('SIGTERM');
  await rm(dataDir, { recursive: true, force: true });
});

it('two clients join, chat, edit one document, see presence, and recover after a reconnect', async () => {
  const sid = people.sessionId;
  const alice = client(people.alice.token, 'alice-1').session(sid);
  const bobClient = client(people.bob.token, 'bob-1', overWs);
  const bob = bobClient.session(sid);
  const aliceEvents: DurableEvent[] = [];
  alice.on('event', (e) => aliceEvents.push(e));
  const bobChats: ChatMessage[] = [];
  bob.on('chat', (m) => bobChats.push(m));
  await alice.join();
  await bob.join();
  await waitFor('alice sees bob join', () => aliceEvents.find((e) => e.kind === 'peer_joined' && e.message.peer_id === 'bob-1'));

  await alice.sendChat('hi bob');
  await waitFor('bob gets the chat', () => bobChats.find((m) => m.message === 'hi bob'));

  // A channel: Bob (over /ws) publishes a file watcher's event, Alice (Socket.IO) subscribed to it receives it.
  const watched: Array<ChannelEvent<'files'>> = [];
  await alice.channels.subscribe('files', { onEvent: (e) => watched.push(e) });
  const published = await bob.channels.publish('files', { file: 'README.md', event: 'change', timestamp: 1_795_312_800_000 });
  await waitFor('alice gets the files event', () => watched.length === 1);
  expect(watched[0]).toMatchObject({ seq: published.seq, data: { file: 'README.md', event: 'change' }, publisher: { peer_id: 'bob-1' } });

  // Both type into one file at once; each keystroke goes through the OT client (one op in flight).
  const [aDoc, bDoc] = await Promise.all([alice.document('README.md'), bob.document('README.md')]);
  for (let i = 0; i < 15; i++) {
    aDoc.edit([...aDoc.text].length > 0 ? [i % ([...aDoc.text].length + 1) || [...aDoc.text].length, `a${i}`] : [`a${i}`]);
    bDoc.edit([`b${i}`]);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await waitFor('converged', () => !aDoc.pending && !bDoc.pending && aDoc.version === bDoc.version && aDoc.text === bDoc.text);
  const server = await bobClient.request('open_document', { session_id: sid, doc_id: 'README.md' });
  expect({ text: aDoc.text, version: aDoc.version }).toEqual({ text: server.content, version: server.version });
  // Insert-only typing: nothing lost or doubled means exactly the characters typed.
  const typed = Array.from({ length: 15 }, (_, i) => `a${i}b${i}`).join('');
  expect([...server.content].sort().join('')).toBe([...typed].sort().join(''));

  await bob.setPresence({ doc_id: 'README.md', selection: { anchor: 0, head: 1 } });
  await waitFor("bob's selection reaches alice", () => aDoc.cursors().some((c) => c.peerId === 'bob-1' && c.selection.head === 1));

  // Bob goes away; alice chats; bob comes back (a new client resuming from his stored last_seq): the missed
  // events are replayed once, in order, and nothing before them again.
  const lastSeq = bob.lastSeq;
  bobClient.close();
  await waitFor('alice sees bob leave', () => aliceEvents.find((e) => e.kind === 'peer_left' && e.message.peer_id === 'bob-1'));
  await alice.sendChat('you missed this');
  const back = client(people.bob.token, 'bob-2', overWs).session(sid, { lastSeq });
  const replayed: DurableEvent[] = [];
  back.on('event', (e) => replayed.push(e));
  const joins: boolean[] = [];
  back.on('joined', (j) => joins.push(j.recovered));
  await back.join();
  expect(joins).toEqual([true]);
  expect(replayed.map((e) => e.seq)).toEqual(Array.from({ length: back.lastSeq - lastSeq - 1 }, (_, i) => lastSeq + i + 1));
  expect(replayed.flatMap((e) => (e.kind === 'chat' ? [e.chat.message] : []))).toEqual(['you missed this']);
  await waitFor('bob-2 is in presence', async () => (await alice.refreshPresence()).some((p) => p.peer_id === 'bob-2'));
}, 90_000);
