import * as Y from 'yjs';
import { ChorusClient, ChorusError, type ChorusSession } from '@chorus/client';
import { YjsProvider, YjsVersions } from '@chorus/client/yjs';
import { waitFor } from '@chorus/testing';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { setUpSession, type People } from './support/scenario';
import { Api } from './support/stack';

// The SDK's YjsProvider on the real distributed topology (2 gateways, the services as separate processes, real
// Postgres and Redis): a viewer syncs a document that holds deletions (read-only sync must complete), and
// `provider.versions` (libs/client/src/yjs-versions.ts, docs/yjs.md "Versions in the SDK and the app") saves, lists,
// reads and restores versions, a second client on the other gateway seeing the restored text live; a viewer lists
// and reads them but cannot save or restore (PERMISSION_DENIED).

let cluster: ProcessCluster;
let people: People;
let viewerToken: string;
const LABEL = 'sdkyver';
const cleanups: Array<() => void | Promise<void>> = [];

beforeAll(async () => {
  cluster = await startProcessCluster('sdk_yjs_versions', { replicas: 1 });
  people = await setUpSession(cluster.gateways[0], LABEL);
  const api = new Api(cluster.gateways[1]);
  viewerToken = await api.devToken(`vic-${LABEL}`, 'Vic');
  const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${people.sessionId}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
  const redeemed = await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: viewerToken, body: {} });
  if (redeemed.status !== 200) throw new Error(`redeem failed: ${redeemed.raw}`);
}, 180_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await cluster?.stop();
});

/** A joined session of `token` on `gateway`, closed after the file. */
async function joined(gateway: string, token: string, peerId: string): Promise<ChorusSession> {
  const client = new ChorusClient({ url: gateway, token, peerId });
  cleanups.push(() => client.close());
  await client.connect();
  const session = client.session(people.sessionId);
  await session.join();
  return session;
}

/** A provider of `docId` on `session`, connected (synced) unless `connect` is false; destroyed after the file. */
async function provider(session: ChorusSession, docId: string, connect = true): Promise<YjsProvider> {
  const p = new YjsProvider(session, docId, new Y.Doc());
  cleanups.push(() => p.destroy());
  if (connect) await p.connect();
  return p;
}

const textOf = (p: YjsProvider) => p.doc.getText('codemirror').toString();

/** Resolves once every local update of `p` is acknowledged (durable). */
async function durable(p: YjsProvider, edit: () => void): Promise<void> {
  const acked = new Promise<void>((resolve) => {
    const off = p.on('acked', () => (off(), resolve()));
  });
  edit();
  await acked;
}

describe('a viewer syncs read-only', () => {
  it('reaches synced with the right text on a document that holds deletions, and its own edit is refused', async () => {
    const DOC = 'notes/with deletes.md';
    const alice = await provider(await joined(cluster.gateways[0], people.alice.token, 'alice-del'), DOC);
    const text = alice.doc.getText('codemirror');
    await durable(alice, () => text.insert(0, 'Hello, brave new world.'));
    await durable(alice, () => text.delete(5, 7)); // "Hello new world."
    await durable(alice, () => text.insert(text.length, ' Again.'));
    expect(textOf(alice)).toBe('Hello new world. Again.');

    // The viewer on the other gateway: its sync step 2 answer holds the delete set (Yjs always sends it whole).
    const vic = await provider(await joined(cluster.gateways[1], viewerToken, 'vic-del'), DOC, false);
    const errors: Error[] = [];
    vic.on('error', ({ error }) => errors.push(error));
    await vic.connect();
    expect(vic.synced).toBe(true);
    expect(textOf(vic)).toBe('Hello new world. Again.');
    expect(errors).toEqual([]);

    // Live updates keep arriving (deletions included).
    text.delete(0, 6);
    await waitFor('the viewer sees the editor delete', () => textOf(vic) === 'new world. Again.', { timeoutMs: 10_000 });

    // Its own edit is refused (PERMISSION_DENIED, reported), never stored or seen by the editor; it stays synced.
    vic.doc.getText('codemirror').insert(0, 'VIEWER ');
    await waitFor('the refusal reported', () => errors.some((e) => e instanceof ChorusError && e.code === 'PERMISSION_DENIED'), { timeoutMs: 10_000 });
    await waitFor('the viewer synced again after the refusal', () => vic.synced, { timeoutMs: 10_000 });
    text.insert(text.length, '!');
    await waitFor('the viewer still receives', () => textOf(vic).endsWith('Again.!'), { timeoutMs: 10_000 });
    expect(textOf(alice)).toBe('new world. Again.!');
  }, 60_000);
});

describe('provider.versions', () => {
  const DOC = 'notes/sdk versions.md';
  let alice: YjsProvider;
  let bob: YjsProvider;

  it('saves, lists (paged and all), reads a snapshot as text and as a Y.Doc, and restores it: the other gateway sees it live', async () => {
    const [gw0, gw1] = cluster.gateways;
    alice = await provider(await joined(gw0, people.alice.token, 'alice-ver'), DOC);
    bob = await provider(await joined(gw1, people.bob.token, 'bob-ver'), DOC);
    const aliceText = alice.doc.getText('codemirror');
    const bobText = bob.doc.getText('codemirror');
    // Saves are live too (`yjs_version_saved`, a durable session event): each hears the other's, and its own.
    const savesHeard = (p: YjsProvider) => {
      const heard: Array<{ version: number; label: string | null; user_id: string }> = [];
      p.versions.on('saved', (s) => heard.push({ version: s.version, label: s.label, user_id: s.user_id }));
      return heard;
    };
    const bobHeard = savesHeard(bob);
    const aliceHeard = savesHeard(alice);

    await durable(alice, () => aliceText.insert(0, 'First draft.'));
    const v1 = await alice.versions.save('first');
    expect(v1).toMatchObject({ doc_id: DOC, version: 1, reason: 'saved', label: 'first', author: `alice-${LABEL}`, created: true });
    // A retried save of the same state stores nothing.
    expect(await alice.versions.save('first')).toMatchObject({ version: 1, created: false });
    await waitFor("Bob (gateway 1) hears of Alice's save", () => bobHeard.length >= 1, { timeoutMs: 10_000 });
    expect(bobHeard[0]).toEqual({ version: 1, label: 'first', user_id: `alice-${LABEL}` });

    await waitFor('Bob has the first draft', () => textOf(bob) === 'First draft.', { timeoutMs: 10_000 });
    await durable(bob, () => bobText.insert(bobText.length, ' Bob adds more.'));
    await durable(bob, () => bobText.delete(0, 6)); // "draft. Bob adds more."
    const v2 = await bob.versions.save();
    expect(v2).toMatchObject({ version: 2, label: null, author: `bob-${LABEL}`, created: true });
    const v2Heard = { version: 2, label: null, user_id: `bob-${LABEL}` };
    await waitFor("Alice and Bob hear of Bob's save", () => aliceHeard.length >= 2 && bobHeard.length >= 2, { timeoutMs: 10_000 });
    // Once each, in order; the retried save that stored nothing was not an event (the stream is seq-ordered).
    expect(aliceHeard).toEqual([bobHeard[0], v2Heard]);
    expect(bobHeard).toEqual([bobHeard[0], v2Heard]);
    const second = textOf(bob);
    expect(second).toBe('draft. Bob adds more.');

    // Listed newest first, paged; `all` walks the pages.
    const page = await alice.versions.list({ limit: 1 });
    expect(page.versions.map((v) => v.version)).toEqual([2]);
    expect(page.next_before).toBe(2);
    expect((await alice.versions.list({ before: page.next_before ?? undefined, limit: 1 })).versions.map((v) => [v.version, v.label])).toEqual([[1, 'first']]);
    const all: number[] = [];
    for await (const v of bob.versions.all({ limit: 1 })) all.push(v.version);
    expect(all).toEqual([2, 1]);

    // A snapshot read back: its text, and its whole state as a Y.Doc of its own.
    expect(await bob.versions.get(1)).toMatchObject({ version: 1, text_name: 'codemirror', text: 'First draft.' });
    const snapshot = await bob.versions.doc(1);
    expect(snapshot.getText('codemirror').toString()).toBe('First draft.');
    snapshot.destroy();

    // Alice (gateway 0) restores version 1: Bob's document (gateway 1) shows it live, and he hears of the restore.
    const heard: Array<{ version: number; user_id: string }> = [];
    bob.versions.on('restored', (r) => heard.push({ version: r.version, user_id: r.user_id }));
    const restored = await alice.versions.restore(1);
    expect(restored).toMatchObject({ doc_id: DOC, version: 1, changed: true, skipped: [] });
    await waitFor('Bob sees version 1 live', () => textOf(bob) === 'First draft.' && textOf(alice) === 'First draft.', { timeoutMs: 10_000 });
    await waitFor('Bob hears of the restore', () => heard.length === 1, { timeoutMs: 10_000 });
    expect(heard).toEqual([{ version: 1, user_id: `alice-${LABEL}` }]);
    // Restoring what is already there appends nothing.
    expect(await bob.versions.restore(1)).toMatchObject({ changed: false, update: null });
    // And back to version 2, by Bob.
    await bob.versions.restore(2);
    await waitFor('both show version 2', () => textOf(alice) === second && textOf(bob) === second, { timeoutMs: 10_000 });
  }, 90_000);

  it('answers typed errors: NOT_FOUND for a missing version, VALIDATION_ERROR before any request, CONFLICT for a text document', async () => {
    await expect(alice.versions.get(99)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(alice.versions.restore(99)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(alice.versions.get(0)).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'version' } });
    await expect(alice.versions.list({ limit: 500 })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'limit' } });
    await expect(alice.versions.save('')).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'label' } });
    await expect(alice.versions.get(0)).rejects.toBeInstanceOf(ChorusError);

    const session = await joined(cluster.gateways[0], people.alice.token, 'alice-text');
    const plain = await session.document('plain.txt');
    const committed = new Promise<void>((resolve) => {
      const off = plain.on('ack', () => (off(), resolve()));
    });
    plain.editUtf16({ from: 0, to: 0, insert: 'text' });
    await committed;
    const text = new YjsVersions(session.client.rest, people.sessionId, 'plain.txt');
    await expect(text.list()).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(text.save()).rejects.toMatchObject({ code: 'CONFLICT' });
  }, 30_000);

  it('lets a viewer list and read versions but not save or restore them (PERMISSION_DENIED)', async () => {
    const vic = await provider(await joined(cluster.gateways[1], viewerToken, 'vic-ver'), DOC);
    expect(vic.synced).toBe(true);
    expect((await vic.versions.list()).versions.map((v) => v.version)).toEqual([2, 1]);
    expect((await vic.versions.get(1)).text).toBe('First draft.');
    expect((await vic.versions.doc(2)).getText('codemirror').toString()).toBe('draft. Bob adds more.');
    await expect(vic.versions.save('mine')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(vic.versions.restore(1)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    // Nothing changed: no third version, the text is still version 2's.
    expect((await vic.versions.list()).versions).toHaveLength(2);
    expect(textOf(vic)).toBe('draft. Bob adds more.');
  }, 30_000);
});
