import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { waitFor } from '@chorus/testing';
import { setUpSession, type People } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';
import { WsClient } from './support/ws-client';

// Yjs documents in the one-process product (`npm start`: in-process transport and fan-out, real Postgres here):
// docs/yjs.md's /ws frames sent verbatim, a stock provider on /yjs/ beside a /ws client, awareness relayed and
// removed when its connection closes, malformed updates refused without touching the stored document, and the
// single-use ticket on /yjs/.

const DOC_SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const guide = readFileSync(join(__dirname, '..', '..', 'docs', 'yjs.md'), 'utf8');
/** The ```json blocks of docs/yjs.md, parsed. */
const frames = [...guide.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]) as Record<string, unknown>);

let stack: TestStack;
let people: People;
const closers: Array<() => void> = [];

beforeAll(async () => {
  stack = await startTestStack('yjs_standalone');
  people = await setUpSession(stack.url, 'yjs-sa');
}, 60_000);
afterAll(async () => {
  for (const c of closers) c();
  await stack?.stop();
});

async function member(token: string, joinToken: string, peer: string): Promise<WsClient> {
  const ws = await WsClient.connect(stack.url, token);
  closers.push(() => ws.close());
  const joined = await ws.request({ type: 'join', session_id: people.sessionId, peer_id: peer, join_token: joinToken });
  expect(joined.type).toBe('joined');
  return ws;
}

function provider(query: string, docId: string, doc = new Y.Doc()): WebsocketProvider {
  const p = new WebsocketProvider(stack.url.replace('http', 'ws') + '/yjs', people.sessionId + '/' + encodeURIComponent(docId), doc, {
    params: Object.fromEntries(new URLSearchParams(query)),
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  // The provider leaves its awareness (and its timer) to the doc: destroying the doc stops both.
  closers.push(() => (p.destroy(), doc.destroy()));
  return p;
}

describe('Yjs documents standalone', () => {
  it("docs/yjs.md's /ws frames: step 1 creates and syncs, the update is acked with its seq and pushed to every subscriber", async () => {
    expect(frames.length).toBeGreaterThanOrEqual(3);
    const [step1, reply1, update] = frames.map((f) => JSON.parse(JSON.stringify(f).replaceAll(DOC_SESSION, people.sessionId)) as Record<string, unknown>);
    const alice = await member(people.alice.token, await people.alice.joinToken(), 'alice-ws');
    const bob = await member(people.bob.token, await people.bob.joinToken(), 'bob-ws');
    expect(await alice.request(step1)).toEqual(reply1);
    await bob.request({ ...step1, id: 'b1' });
    const acked = await alice.request(update);
    expect(acked).toMatchObject({ type: 'yjs_sync_reply', id: 'y2', messages: [], seq: 1 });
    const pushed = await bob.next((f) => f.type === 'yjs_message');
    expect(pushed).toMatchObject({ type: 'yjs_message', session_id: people.sessionId, doc_id: 'notes/design.md', message: update.message, seq: 1 });
    // The sender gets its own update back too (a stock provider's only sign that it is stored).
    await alice.next((f) => f.type === 'yjs_message' && f.seq === 1);
    // A resend of the same bytes: the same seq, nothing new pushed or stored.
    expect(await alice.request({ ...update, id: 'y3' })).toMatchObject({ seq: 1 });

    // A stock provider on /yjs/ sees the same document.
    const p = provider(`join_token=${await people.bob.joinToken()}`, 'notes/design.md');
    await waitFor('provider synced', () => p.synced);
    expect(p.doc.getText('codemirror').toString()).toBe('hi');

    // Listed and readable over REST (participants only).
    const auth = { headers: { authorization: `Bearer ${people.bob.token}` } };
    const listed = (await (await fetch(`${stack.url}/api/v1/collaboration/sessions/${people.sessionId}/yjs-documents`, auth)).json()) as { doc_ids: string[] };
    expect(listed.doc_ids).toContain('notes/design.md');
    const state = (await (await fetch(`${stack.url}/api/v1/collaboration/sessions/${people.sessionId}/yjs-documents/${encodeURIComponent('notes/design.md')}`, auth)).json()) as { update: string; seq: number };
    expect(state.seq).toBe(1);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Buffer.from(state.update, 'base64'));
    expect(copy.getText('codemirror').toString()).toBe('hi');
  });

  it('refuses malformed messages and updates without touching the stored document', async () => {
    const alice = await member(people.alice.token, await people.alice.joinToken(), 'alice-ws-2');
    const base = { type: 'yjs_sync', session_id: people.sessionId, doc_id: 'notes/guard.md' };
    // Before sync step 1, an update is refused: it subscribes (and creates) nothing.
    expect(await alice.request({ ...base, message: 'AAIWAQHSCQAEAQpjb2RlbWlycm9yAmhpAA==' })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR' });
    expect(await alice.request({ ...base, message: 'AAABAA==' })).toMatchObject({ type: 'yjs_sync_reply' });
    // Not a y-protocols message; a sync update whose bytes are no Yjs update; a bad base64.
    expect(await alice.request({ ...base, message: Buffer.from([9, 9, 9]).toString('base64') })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR' });
    expect(await alice.request({ ...base, message: Buffer.from([0, 2, 5, 1, 2, 3, 250, 251]).toString('base64') })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR' });
    expect(await alice.request({ ...base, message: '%%%%' })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR', field: 'message' });
    const again = await alice.request({ ...base, message: 'AAABAA==' });
    // Still empty: step 2 of nothing.
    expect(again).toMatchObject({ messages: ['AAECAAA=', 'AAABAA=='] });
    // A text (OT) document is not a Yjs one.
    await alice.request({ type: 'open_document', session_id: people.sessionId, doc_id: 'src/main.ts' });
    await alice.request({ type: 'submit_op', session_id: people.sessionId, doc_id: 'src/main.ts', version: 0, op: ['x'], seq: 1 });
    expect(await alice.request({ ...base, doc_id: 'src/main.ts', message: 'AAABAA==' })).toMatchObject({ type: 'error', code: 'CONFLICT' });
    // And a Yjs document is not opened as text.
    expect(await alice.request({ type: 'open_document', session_id: people.sessionId, doc_id: 'notes/guard.md' })).toMatchObject({ type: 'error', code: 'CONFLICT' });
  });

  it('relays awareness between a stock provider and a /ws client, and removes it when the provider closes', async () => {
    const ws = await member(people.alice.token, await people.alice.joinToken(), 'alice-ws-3');
    expect(await ws.request({ type: 'yjs_sync', session_id: people.sessionId, doc_id: 'notes/aware.md', message: 'AAABAA==' })).toMatchObject({ type: 'yjs_sync_reply' });
    // A single-use ticket works on /yjs/ too (the role is read from the session).
    const res = await fetch(`${stack.url}/api/v1/auth/ws-ticket`, { method: 'POST', headers: { authorization: `Bearer ${people.bob.token}` } });
    const { ticket } = (await res.json()) as { ticket: string };
    const p = provider(`ticket=${ticket}`, 'notes/aware.md');
    await waitFor('provider synced', () => p.synced);
    p.awareness.setLocalStateField('user', { name: 'Bob' });
    const clientId = p.doc.clientID;
    const { applyAwarenessUpdate, Awareness } = await import('y-protocols/awareness');
    const decoding = await import('lib0/decoding');
    const seen = new Awareness(new Y.Doc());
    closers.push(() => seen.destroy());
    const absorb = () => {
      for (const f of ws.of('yjs_message')) {
        if (f.seq !== null) continue;
        const d = decoding.createDecoder(Buffer.from(f.message, 'base64'));
        decoding.readVarUint(d);
        applyAwarenessUpdate(seen, decoding.readVarUint8Array(d), 'test');
      }
      ws.frames.splice(0, ws.frames.length);
    };
    await waitFor('the /ws client sees Bob', () => (absorb(), (seen.getStates().get(clientId) as { user?: { name: string } } | undefined)?.user?.name === 'Bob'));
    p.destroy();
    await waitFor("Bob's awareness is removed when his provider closes", () => (absorb(), !seen.getStates().has(clientId)));
    // The ticket was single-use.
    const status = await new Promise<number>((resolve) => {
      const again = new WebSocket(`${stack.url.replace('http', 'ws')}/yjs/${people.sessionId}/notes%2Faware.md?ticket=${ticket}`);
      again.on('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0));
      again.on('error', () => undefined);
    });
    expect(status).toBe(401);
  });
});
