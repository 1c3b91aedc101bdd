import { ChorusClient, ChorusError, type ChorusDocument } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { SDK_TRANSPORTS } from './support/sdk-transports';
import { startTestStack, type TestStack } from './support/stack';

// The SDK's document surface against the whole product in one process (real Postgres): locks as the holder and
// as the other peer (a refused op reloads and hands back the discarded edit), history and past versions,
// typing and remote cursors moved by the tie rule. Over both transports (Socket.IO and /ws), one document each.

let stack: TestStack;
let people: People;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  stack = await startTestStack('sdk_documents');
  people = await setUpSession(stack.url, 'sdkdoc');
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

describe.each(SDK_TRANSPORTS)('over %s', (name, transport) => {
  const DOC = `README-${name}.md`;

  async function open(token: string, peerId: string): Promise<{ client: ChorusClient; doc: ChorusDocument }> {
    const client = new ChorusClient({ url: stack.url, token, peerId, transport, onWarning: () => undefined });
    clients.push(client);
    expect(client.transport).toBe(name === 'ws' ? 'websocket' : 'socket.io');
    const session = client.session(people.sessionId);
    await session.join();
    return { client, doc: await session.document(DOC) };
  }

  it('locks, a refused edit reloads with the discarded op, history and past versions, cursors and typing', async () => {
    const alice = await open(people.alice.token, `alice-doc-${name}`);
    const bob = await open(people.bob.token, `bob-doc-${name}`);

    alice.doc.editUtf16({ from: 0, to: 0, insert: 'hello 😀 world' });
    await waitFor('bob has the text', () => bob.doc.text === 'hello 😀 world' && !alice.doc.pending);
    const v1 = alice.doc.version;

    // Remote cursor: bob's caret after "hello " (code point 6); alice inserts at 0, then at bob's caret.
    const bobSession = bob.client.session(people.sessionId);
    await bobSession.setPresence({ doc_id: DOC, selection: { anchor: 6, head: 6 } });
    await waitFor("alice sees bob's cursor", () => alice.doc.cursors().find((c) => c.peerId === `bob-doc-${name}`));
    alice.doc.edit(['>']); // before the cursor: it moves right
    alice.doc.edit([7, '+']); // exactly at the cursor, by someone else: the cursor stays before it (tie rule)
    expect(alice.doc.cursors().find((c) => c.peerId === `bob-doc-${name}`)?.selection).toEqual({ anchor: 7, head: 7 });
    await waitFor('settled', () => !alice.doc.pending && bob.doc.version === alice.doc.version);

    // A cursor moved on every keystroke: 100 updates at once would be far over the presence limit (30/s) one by
    // one; coalesced, every call resolves and the last position wins.
    await Promise.all(Array.from({ length: 100 }, (_, i) => bobSession.setPresence({ doc_id: DOC, selection: { anchor: i % 10, head: i % 10 } })));
    await bobSession.setPresence({ selection: { anchor: 3, head: 4 } });
    await waitFor("alice sees bob's last selection", () => alice.doc.cursors().find((c) => c.peerId === `bob-doc-${name}` && c.selection.head === 4 && c.selection.anchor === 3));

    // Typing reaches the other side (a burst of typing() calls sends one).
    const typing: boolean[] = [];
    alice.client.session(people.sessionId).on('typing', (t) => t.peerId === `bob-doc-${name}` && typing.push(t.typing));
    await Promise.all(Array.from({ length: 50 }, () => bobSession.typing(DOC)));
    await bobSession.stopTyping();
    await waitFor('typing start and stop', () => typing.length >= 2);
    expect(typing.slice(0, 2)).toEqual([true, false]);

    // Alice locks; bob learns it by push; bob's edit is refused and reloaded, the edit handed back.
    const lock = await alice.doc.lockFile(60_000);
    expect(lock.holderId).toBe('alice-sdkdoc');
    await waitFor('bob sees the lock', () => bob.doc.lock?.holderId === 'alice-sdkdoc');
    expect(bobSession.locks().get(DOC)?.holderId).toBe('alice-sdkdoc');
    // A client joining now never saw file_locked: joined.locks tells it, before it opens anything.
    const late = new ChorusClient({ url: stack.url, token: people.bob.token, peerId: `bob-late-${name}`, transport, onWarning: () => undefined });
    clients.push(late);
    const lateSession = late.session(people.sessionId);
    await lateSession.join();
    expect(lateSession.locks().get(DOC)).toMatchObject({ holderId: 'alice-sdkdoc', peerId: `alice-doc-${name}` });
    const before = bob.doc.text;
    const reloaded = new Promise<{ discarded: unknown; text: string }>((resolve) => bob.doc.once('reload', resolve));
    bob.doc.edit(['X']);
    const reload = await reloaded;
    expect(reload.discarded).toEqual(['X']);
    expect(reload.text).toBe(before);
    expect(bob.doc.text).toBe(before);
    await alice.doc.unlockFile();
    await waitFor('bob sees the unlock', () => bob.doc.lock === null);
    await waitFor('the late client sees the unlock too', () => !lateSession.locks().has(DOC));
    expect(bobSession.locks().size).toBe(0);

    // History and past versions.
    const history = await bob.doc.history();
    expect(history.entries.map((e) => e.version)).toEqual(Array.from({ length: history.head }, (_, i) => i + 1));
    expect(await bob.doc.at(v1)).toEqual({ version: v1, text: 'hello 😀 world' });
    await expect(bob.doc.at(history.head + 5)).rejects.toMatchObject({ code: 'RELOAD_REQUIRED' });
    await expect(bob.doc.at(history.head + 5)).rejects.toBeInstanceOf(ChorusError);
  }, 60_000);
});
