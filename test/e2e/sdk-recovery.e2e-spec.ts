import { DataSource } from 'typeorm';
import { ChorusClient, type DurableEvent } from '@chorus/client';
import { dataSourceOptions } from '@chorus/database';
import { waitFor } from '@chorus/testing';
import { SessionEventLog } from '../../apps/session/src/events/event-log';
import { SESSION_DATA_SOURCE } from '../../apps/session/src/persistence/session.data-source';
import { setUpSession, type People } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';

// Recovery when a client is too far behind: the server answers `joined.recovered: false` (more than 1,000
// events missed) and replays nothing; the SDK pages the gap over REST history and delivers it — then the live
// events — once each, in seq order. The events are appended by the session service's own event log, straight
// into the stack's database: no rate limit stands between the test and the 1,000+ events it needs.

let stack: TestStack;
let people: People;
let db: DataSource;
const clients: ChorusClient[] = [];
const track = (c: ChorusClient) => (clients.push(c), c);

beforeAll(async () => {
  stack = await startTestStack('sdk_recovery');
  people = await setUpSession(stack.url, 'sdkrec');
  db = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, stack.db.url, 2));
  await db.initialize();
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await db?.destroy();
  await stack?.stop();
});

it('a rejoin more than 1,000 events behind pages the history over REST: no gap, no duplicate, in order', async () => {
  const first = track(new ChorusClient({ url: stack.url, token: people.bob.token, peerId: 'bob-rec', onWarning: () => undefined }));
  const session = first.session(people.sessionId);
  await session.join();
  const resumeFrom = session.lastSeq;
  first.close();

  const log = new SessionEventLog(db);
  const missed = 1_150;
  await Promise.all(
    Array.from({ length: missed }, (_, i) => log.append(people.sessionId, { type: 'chat_message', actor: 'alice-sdkrec', payload: { peer_id: 'alice-x', user_id: 'alice-sdkrec', display_name: 'Alice', message: `m${i}` } })),
  );

  // A new client resuming from the stored position (a page reload with last_seq kept in storage).
  const second = track(new ChorusClient({ url: stack.url, token: people.bob.token, peerId: 'bob-rec', onWarning: () => undefined }));
  const resumed = second.session(people.sessionId, { lastSeq: resumeFrom });
  const events: DurableEvent[] = [];
  const joins: Array<{ recovered: boolean; seq: number }> = [];
  resumed.on('event', (e) => events.push(e));
  resumed.on('joined', (j) => joins.push(j));
  await resumed.join();
  expect(joins).toEqual([expect.objectContaining({ recovered: false })]);

  // Then a live message from someone else: after the history, never before it.
  const alice = track(new ChorusClient({ url: stack.url, token: people.alice.token, peerId: 'alice-rec', onWarning: () => undefined }));
  const aliceSession = alice.session(people.sessionId);
  await aliceSession.join();
  const live = await aliceSession.sendChat('live after the gap');
  await waitFor('the live chat', () => events.some((e) => e.kind === 'chat' && e.chat.message === 'live after the gap'));

  const seqs = events.map((e) => e.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
  // Everything after the resume point up to the live chat, except bob's own rejoin (its `joined` is his).
  const expected = Array.from({ length: live.seq - resumeFrom }, (_, i) => resumeFrom + 1 + i).filter((s) => s !== joins[0].seq);
  expect(seqs).toEqual(expected);
  const chats = events.flatMap((e) => (e.kind === 'chat' ? [e.chat.message] : []));
  expect(chats.slice(0, missed).sort()).toEqual(Array.from({ length: missed }, (_, i) => `m${i}`).sort());
  expect(resumed.lastSeq).toBe(live.seq);
  expect(resumed.duplicatesDropped).toBe(0);
}, 90_000);
