import { Client } from 'pg';
import { ChorusClient } from './support/chorus-client';
import { setUpSession, type People } from './support/scenario';
import { Api, startTestStack, type TestStack } from './support/stack';

// Version history through the whole standalone stack: the socket's `document_history` / `document_at`, their
// REST equivalents (a doc id with '/' percent-encoded as one path segment), role checks, and the purge of a
// deleted session's documents.

const S = '/api/v1/collaboration/sessions';
const DOC = 'src/main.rs';
let stack: TestStack;
let api: Api;
let people: People;
let viewerToken: string;
let strangerToken: string;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  stack = await startTestStack('doc_history');
  api = new Api(stack.url);
  people = await setUpSession(stack.url, 'dochistory');
  viewerToken = await api.devToken('carol-dochistory', 'Carol');
  strangerToken = await api.devToken('dave-dochistory', 'Dave');
  const invite = await api.request<{ code: string }>('POST', `${S}/${people.sessionId}/invite`, { token: people.alice.token, body: { role: 'viewer' } });
  expect((await api.request('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: viewerToken, body: {} })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

async function joined(token: string, peerId: string, joinToken: string): Promise<ChorusClient> {
  const client = await ChorusClient.connect(stack.url, token);
  clients.push(client);
  await client.ok('join', { session_id: people.sessionId, peer_id: peerId, join_token: joinToken });
  return client;
}

it('serves who-changed-what and past text over the socket and REST, to a viewer but not a stranger', async () => {
  const sid = people.sessionId;
  const alice = await joined(people.alice.token, 'alice-1', await people.alice.joinToken());
  await alice.ok('submit_op', { session_id: sid, doc_id: DOC, version: 0, op: ['fn main() {}'], seq: 1 });
  await alice.ok('submit_op', { session_id: sid, doc_id: DOC, version: 1, op: [3, { d: 4 }, 'start'], seq: 2 });

  const joinAsViewer = (await api.request<{ join_token: string }>('POST', `${S}/${sid}/join`, { token: viewerToken, body: {} })).body.join_token;
  const carol = await joined(viewerToken, 'carol-1', joinAsViewer);
  const history = await carol.ok('document_history', { session_id: sid, doc_id: DOC });
  expect(history).toMatchObject({ type: 'history', session_id: sid, doc_id: DOC, min_version: 0, head: 2 });
  expect(history.entries.map(({ version, base_version, peer_id, user_id, inserted, deleted }) => ({ version, base_version, peer_id, user_id, inserted, deleted }))).toEqual([
    { version: 1, base_version: 0, peer_id: 'alice-1', user_id: 'alice-dochistory', inserted: 12, deleted: 0 },
    { version: 2, base_version: 1, peer_id: 'alice-1', user_id: 'alice-dochistory', inserted: 5, deleted: 4 },
  ]);
  expect(typeof history.entries[0].created_at).toBe('number');
  expect((await carol.ok('document_history', { session_id: sid, doc_id: DOC, from_version: 1, limit: 5 })).entries.map((e) => e.version)).toEqual([2]);
  expect(await carol.ok('document_at', { session_id: sid, doc_id: DOC, version: 1 })).toMatchObject({ type: 'document', doc_id: DOC, version: 1, content: 'fn main() {}' });
  expect(await carol.request('document_at', { session_id: sid, doc_id: DOC, version: 9 })).toMatchObject({ type: 'error', code: 'RELOAD_REQUIRED' });
  expect(await carol.request('document_history', { session_id: sid, doc_id: '../etc/passwd' })).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR' });

  const enc = encodeURIComponent(DOC);
  const rest = await api.request<{ entries: Array<{ version: number }>; head: number }>('GET', `${S}/${sid}/documents/${enc}/history?from_version=0&limit=1`, { token: viewerToken });
  expect(rest).toMatchObject({ status: 200, body: { doc_id: DOC, head: 2, min_version: 0 } });
  expect(rest.body.entries.map((e) => e.version)).toEqual([1]);
  expect(await api.request('GET', `${S}/${sid}/documents/${enc}/versions/2`, { token: viewerToken })).toMatchObject({ status: 200, body: { doc_id: DOC, version: 2, content: 'fn start() {}' } });

  // A stranger learns nothing, not even that the session exists; over the socket they cannot join.
  expect(await api.request('GET', `${S}/${sid}/documents/${enc}/history`, { token: strangerToken })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  expect(await api.request('GET', `${S}/${sid}/documents/${enc}/versions/1`, { token: strangerToken })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  // ...even when the rest of the request is malformed: membership is checked before anything else.
  expect(await api.request('GET', `${S}/${sid}/documents/${enc}/versions/-1`, { token: strangerToken })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  // Bad input is named, never a server error.
  expect(await api.request('GET', `${S}/${sid}/documents/${encodeURIComponent('a//b')}/history`, { token: viewerToken })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'docId' } });
  expect(await api.request('GET', `${S}/${sid}/documents/${enc}/versions/-1`, { token: viewerToken })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'version' } });
  expect(await api.request('GET', `${S}/${sid}/documents/${enc}/history?limit=0`, { token: viewerToken })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'limit' } });
}, 60_000);

it("purges a deleted session's documents, ops, snapshots and locks", async () => {
  const api2 = new Api(stack.url);
  const sid = (await api2.request<{ session_id: string }>('POST', S, { token: people.alice.token, body: { name: 'to delete' } })).body.session_id;
  const joinToken = (await api2.request<{ join_token: string }>('POST', `${S}/${sid}/join`, { token: people.alice.token, body: {} })).body.join_token;
  const alice = await ChorusClient.connect(stack.url, people.alice.token);
  clients.push(alice);
  await alice.ok('join', { session_id: sid, peer_id: 'alice-del', join_token: joinToken });
  await alice.ok('submit_op', { session_id: sid, doc_id: 'a.txt', version: 0, op: ['x'], seq: 1 });
  await alice.ok('lock_file', { session_id: sid, doc_id: 'a.txt' });
  const pg = new Client({ connectionString: stack.db.url });
  await pg.connect();
  try {
    const count = async (): Promise<number[]> => {
      const counts: number[] = [];
      for (const t of ['documents', 'doc_ops', 'doc_snapshots', 'doc_locks']) counts.push(Number((await pg.query(`SELECT count(*) AS n FROM ${t} WHERE session_id = $1`, [sid])).rows[0].n));
      return counts;
    };
    expect(await count()).toEqual([1, 1, 1, 1]);
    expect(await api2.request('DELETE', `${S}/${sid}`, { token: people.alice.token })).toMatchObject({ status: 200 });
    expect(await count()).toEqual([0, 0, 0, 0]);
    // The other session's document is untouched.
    expect(Number((await pg.query(`SELECT count(*) AS n FROM documents WHERE session_id = $1`, [people.sessionId])).rows[0].n)).toBe(1);
  } finally {
    await pg.end();
  }
}, 60_000);

it('documents both REST routes in OpenAPI with their errors', async () => {
  const doc = (await api.request<{ paths: Record<string, Record<string, { parameters?: Array<{ name: string }>; responses: Record<string, unknown> }>> }>('GET', '/api/docs-json')).body;
  const history = doc.paths['/api/v1/collaboration/sessions/{id}/documents/{docId}/history']?.get;
  const at = doc.paths['/api/v1/collaboration/sessions/{id}/documents/{docId}/versions/{version}']?.get;
  expect(Object.keys(history?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '429']));
  expect((history?.parameters ?? []).map((p) => p.name)).toEqual(expect.arrayContaining(['id', 'docId', 'from_version', 'limit']));
  expect(Object.keys(at?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '404', '409']));
});
