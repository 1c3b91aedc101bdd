import WebSocket from 'ws';
import { waitFor, withDeadline } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';
import { WsClient } from './support/ws-client';

// Two server gaps of Yjs documents, in the one-process product: creating a Yjs document is an audit event of the
// session (`yjs_document_created`, in the owner's audit export), and a /yjs/ socket takes a slot of the user's
// MAX_CONNECTIONS_PER_USER like a Socket.IO or /ws connection does (over the cap the upgrade is 429).

const CAP = 2;
let stack: TestStack;
let people: People;
const closers: Array<() => void> = [];

beforeAll(async () => {
  stack = await startTestStack('yjs_audit_cap', { env: { MAX_CONNECTIONS_PER_USER: String(CAP) } });
  people = await setUpSession(stack.url, 'yjs-ac');
}, 60_000);
afterAll(async () => {
  for (const c of closers) c();
  await stack?.stop();
});

/** sync step 1 of an empty Y.Doc (docs/yjs.md). */
const STEP1 = Buffer.from('AAABAA==', 'base64');

/** A raw /yjs/ socket: resolves with the open socket, or with the HTTP status of a refused upgrade. */
function yjsSocket(joinToken: string, docId: string): Promise<{ ws: WebSocket } | { status: number }> {
  const url = `${stack.url.replace('http', 'ws')}/yjs/${people.sessionId}/${encodeURIComponent(docId)}?join_token=${encodeURIComponent(joinToken)}`;
  const ws = new WebSocket(url);
  closers.push(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.once('error', reject);
  });
}

it('creating a Yjs document is an audit event: yjs_document_created {doc_id, user_id}, once', async () => {
  const bob = await WsClient.connect(stack.url, people.bob.token);
  closers.push(() => bob.close());
  expect(await bob.request({ type: 'join', session_id: people.sessionId, peer_id: 'bob-audit', join_token: await people.bob.joinToken() })).toMatchObject({ type: 'joined' });
  const step1 = { type: 'yjs_sync', session_id: people.sessionId, doc_id: 'audit/created.md', message: STEP1.toString('base64') };
  expect(await bob.request({ ...step1, id: 'a1' })).toMatchObject({ type: 'yjs_sync_reply', seq: null });
  // Opening it again creates nothing.
  expect(await bob.request({ ...step1, id: 'a2' })).toMatchObject({ type: 'yjs_sync_reply', seq: null });
  bob.close();

  const audit = async () => {
    const res = await fetch(`${stack.url}/api/v1/collaboration/sessions/${people.sessionId}/audit?format=json`, { headers: { authorization: `Bearer ${people.alice.token}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { events: Array<{ type: string; actor: string | null; payload: unknown }> }).events.filter((e) => e.type === 'yjs_document_created');
  };
  const created = await waitFor('the audit event', async () => ((await audit()).length > 0 ? audit() : undefined), { timeoutMs: 10_000 });
  expect(created).toHaveLength(1);
  expect(created[0]).toMatchObject({ payload: { doc_id: 'audit/created.md', user_id: expect.any(String) } });
  expect(created[0].actor).toBe((created[0].payload as { user_id: string }).user_id);
});

it('a /yjs/ socket counts against MAX_CONNECTIONS_PER_USER with /ws: over the cap 429 (and /ws refused), a slot freed by a close', async () => {
  const ws = await WsClient.connect(stack.url, people.bob.token);
  closers.push(() => ws.close());
  const first = await yjsSocket(await people.bob.joinToken(), 'cap/one.md');
  expect('ws' in first).toBe(true);
  // Two of two: another /yjs/ socket is refused before the upgrade, and so is a /ws connection.
  expect(await yjsSocket(await people.bob.joinToken(), 'cap/two.md')).toEqual({ status: 429 });
  const over = await WsClient.open(stack.url, { token: people.bob.token });
  closers.push(() => over.close());
  expect(await withDeadline('the /ws connection over the cap to close', over.closed)).toMatchObject({ code: 4502 });
  // The /yjs/ socket is a working provider connection meanwhile: its step 1 is answered.
  const open = (first as { ws: WebSocket }).ws;
  const answered = new Promise<Buffer>((resolve) => open.once('message', (data: Buffer) => resolve(data)));
  open.send(STEP1);
  expect((await withDeadline('step 2', answered))[0]).toBe(0);
  // Closing it frees its slot (released once the server handled the close: poll with a deadline).
  open.close();
  const again = await waitFor('a /yjs/ socket admitted after one closed', async () => {
    const r = await yjsSocket(await people.bob.joinToken(), 'cap/two.md');
    return 'ws' in r ? r.ws : undefined;
  }, { timeoutMs: 10_000, intervalMs: 100 });
  again.close();
});
