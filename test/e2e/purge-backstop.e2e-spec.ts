import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { Identity } from '@chorus/auth';
import { TypedClient, type Caller, type ConflictApi, type SessionApi } from '@chorus/contracts';
import { dataSourceOptions } from '@chorus/database';
import { InProcessBroker, InProcessClient } from '@chorus/transport';
import { ConflictService } from '../../apps/conflict/src/conflict.service';
import { PurgeBackstopJob } from '../../apps/conflict/src/documents/purge-backstop.job';
import { CONFLICT_DATA_SOURCE } from '../../apps/conflict/src/persistence/conflict.data-source';
import { waitFor } from '@chorus/testing';
import { CaptureLogger } from './support/capture-logger';
import { startTestStack, type TestStack } from './support/stack';

// The backstop behind the gateway's best-effort `session.purge`: a session deleted while that purge never
// happened (here: deleted through the session service directly, so nothing calls the purge) has its documents
// removed by one pass of the conflict service's job, which asks the session service over the transport which
// sessions are gone. A live session's documents stay; two replicas running a pass at once purge each session once.

const LOCK_KEY = 0xc0_9a6e;
const alice: Identity = { user_id: 'alice-backstop', display_name: 'Alice', kind: 'human' };
const editor: Caller = { user_id: alice.user_id, client_id: 'alice-1', role: 'editor' };

let stack: TestStack;
let sessions: TypedClient<SessionApi>;
let conflict: TypedClient<ConflictApi>;
const replicas: Array<{ ds: DataSource; job: PurgeBackstopJob }> = [];

beforeAll(async () => {
  // A day between scheduled passes: only the passes this test runs happen.
  stack = await startTestStack('purge_backstop', { env: { CONFLICT_PURGE_BACKSTOP_INTERVAL_MS: String(24 * 3600 * 1000) } });
  const { runtime } = stack.chorus;
  sessions = new TypedClient<SessionApi>(runtime.transport.client('session'));
  conflict = new TypedClient<ConflictApi>(runtime.transport.client('conflict'));
  for (let i = 0; i < 2; i++) {
    const ds = new DataSource(dataSourceOptions(CONFLICT_DATA_SOURCE, stack.db.url, 3));
    await ds.initialize();
    // batch 2: a pass goes through several pages of session ids.
    replicas.push({ ds, job: new PurgeBackstopJob(ds, new ConflictService(ds), sessions, new Logger(`backstop-${i}`), { intervalMs: 60_000, batch: 2, minIdleMs: 0 }) });
  }
}, 60_000);

afterAll(async () => {
  for (const r of replicas) await r.ds.destroy();
  await sessions?.proxy.close();
  await conflict?.proxy.close();
  await stack?.stop();
});

const count = async (table: string, session: string): Promise<number> =>
  Number(((await replicas[0].ds.query(`SELECT count(*) AS n FROM ${table} WHERE session_id = $1`, [session])) as Array<{ n: string }>)[0].n);

async function writeDocuments(session: string): Promise<void> {
  for (const doc of ['a.txt', 'src/b.rs', 'c.md']) {
    await conflict.call('op.submit', { caller: editor, payload: { session_id: session, doc_id: doc, version: 0, op: ['hello'], seq: 1 } });
    await conflict.call('op.submit', { caller: editor, payload: { session_id: session, doc_id: doc, version: 1, op: [5, ' world'], seq: 2 } });
  }
  await conflict.call('file.lock', { caller: editor, payload: { session_id: session, doc_id: 'a.txt' } });
}

it('purges the documents of deleted and vanished sessions once across two replicas, and leaves live ones alone', async () => {
  const created = await Promise.all(['doomed', 'kept-1', 'kept-2'].map((name) => sessions.call('session.create', { actor: alice, body: { name } })));
  const [doomed, kept1, kept2] = created.map((s) => s.session_id);
  const vanished = randomUUID(); // documents for a session id the session service has no row for
  for (const s of [doomed, kept1, kept2, vanished]) await writeDocuments(s);
  // Deleted through the session service itself: the gateway's purge is never sent.
  await sessions.call('session.delete', { actor: alice, session_id: doomed });
  expect(await count('documents', doomed)).toBe(3);

  await expect(sessions.call('session.gone', { session_ids: [kept1, doomed, vanished.toUpperCase()] })).resolves.toEqual({ gone: [doomed, vanished] });
  await expect(sessions.call('session.gone', { session_ids: ['not-a-uuid'] })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });

  // While another replica holds the pass, a replica's pass does nothing.
  const holder = new Client({ connectionString: stack.db.url });
  await holder.connect();
  await holder.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
  await expect(replicas[0].job.runOnce()).resolves.toBeNull();
  await holder.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
  await holder.end();
  expect(await count('documents', doomed)).toBe(3);

  const results = await Promise.all(replicas.map((r) => r.job.runOnce()));
  const purged = results.reduce((n, r) => n + (r?.purged ?? 0), 0);
  expect({ purged, failed: results.reduce((n, r) => n + (r?.failed ?? 0), 0) }).toEqual({ purged: 2, failed: 0 });
  expect(replicas.map((r) => r.job.counts().purged).reduce((a, b) => a + b, 0)).toBe(2);
  expect(results.filter((r) => r !== null).every((r) => r.completed)).toBe(true);

  for (const s of [doomed, vanished]) {
    for (const table of ['documents', 'doc_ops', 'doc_snapshots', 'doc_locks']) expect({ s, table, n: await count(table, s) }).toEqual({ s, table, n: 0 });
  }
  for (const s of [kept1, kept2]) {
    expect({ s, docs: await count('documents', s), ops: await count('doc_ops', s), locks: await count('doc_locks', s) }).toEqual({ s, docs: 3, ops: 6, locks: 1 });
    await expect(conflict.call('document.open', { caller: editor, payload: { session_id: s, doc_id: 'src/b.rs' } })).resolves.toMatchObject({ version: 2, content: 'hello world' });
  }

  // A later pass finds nothing more to purge.
  await expect(replicas[1].job.runOnce()).resolves.toEqual({ checked: 2, purged: 0, failed: 0, completed: true });
}, 60_000);

it('counts and logs a failed purge and a failed session.gone, purges nothing without an answer, and catches up on the next pass', async () => {
  const { session_id: doomed } = await sessions.call('session.create', { actor: alice, body: { name: 'doomed-later' } });
  await writeDocuments(doomed);
  await sessions.call('session.delete', { actor: alice, session_id: doomed });
  const logs = new CaptureLogger();

  // The purge fails (its pool is closed): counted, logged, the documents stay.
  const deadPool = new DataSource(dataSourceOptions(CONFLICT_DATA_SOURCE, stack.db.url, 1));
  await deadPool.initialize();
  const deadService = new ConflictService(deadPool);
  await deadPool.destroy();
  const failingPurge = new PurgeBackstopJob(replicas[0].ds, deadService, sessions, logs, { intervalMs: 60_000, batch: 2, minIdleMs: 0 });
  await expect(failingPurge.runOnce()).resolves.toMatchObject({ purged: 0, failed: 1, completed: true });
  expect(failingPurge.counts()).toEqual({ purged: 0, failed: 1, queryFailed: 0, deferred: 0 });
  expect(logs.lines.some((l) => l.includes('"error"') && l.includes(`gone session ${doomed} failed`))).toBe(true);
  expect(await count('documents', doomed)).toBe(3);

  // The session service does not answer (a transport where no session replica listens; the request's deadline
  // passes): the pass stops and purges nothing.
  const unanswered = new TypedClient<SessionApi>(new InProcessClient({ broker: new InProcessBroker(), service: 'session', requestTimeoutMs: 200 }));
  const noAnswer = new PurgeBackstopJob(replicas[0].ds, new ConflictService(replicas[0].ds), unanswered, logs, { intervalMs: 60_000, batch: 2, minIdleMs: 0 });
  await expect(noAnswer.runOnce()).resolves.toEqual({ checked: 0, purged: 0, failed: 0, completed: false });
  expect(noAnswer.counts()).toEqual({ purged: 0, failed: 0, queryFailed: 1, deferred: 0 });
  expect(logs.lines.some((l) => l.includes('"error"') && l.includes('session.gone failed'))).toBe(true);
  expect(await count('documents', doomed)).toBe(3);
  await unanswered.proxy.close();

  // The next healthy pass catches up.
  await expect(replicas[1].job.runOnce()).resolves.toMatchObject({ purged: 1, failed: 0, completed: true });
  expect(await count('documents', doomed)).toBe(0);
}, 60_000);

it('leaves a gone session alone while its documents were written to recently (a conflict service asking the wrong session service purges nothing live)', async () => {
  const vanished = randomUUID(); // every id of another deployment's documents looks "gone" to an empty session database
  await writeDocuments(vanished);
  const logs = new CaptureLogger();
  const guarded = new PurgeBackstopJob(replicas[0].ds, new ConflictService(replicas[0].ds), sessions, logs, { intervalMs: 60_000, batch: 50 });
  const result = await guarded.runOnce();
  expect(result).toMatchObject({ purged: 0, failed: 0, completed: true });
  expect(guarded.counts().deferred).toBeGreaterThanOrEqual(1);
  expect(await count('documents', vanished)).toBe(3);
  expect(logs.lines.some((l) => l.includes(vanished) && l.includes('left alone'))).toBe(true);
  // Once nothing was written for the idle time (here 300 ms), a pass purges it.
  const shortIdle = new PurgeBackstopJob(replicas[0].ds, new ConflictService(replicas[0].ds), sessions, logs, { intervalMs: 60_000, batch: 50, minIdleMs: 300 });
  await waitFor('the idle session purged', async () => ((await shortIdle.runOnce())?.purged ?? 0) === 1, { timeoutMs: 10_000, intervalMs: 100 });
  expect(await count('documents', vanished)).toBe(0);
}, 60_000);
