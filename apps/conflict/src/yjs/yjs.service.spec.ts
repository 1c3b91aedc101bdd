import { randomUUID } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import * as Y from 'yjs';
import type { Caller } from '@chorus/contracts';
import { ChorusError } from '@chorus/protocol';
import { ConflictService } from '../conflict.service';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';
import { YjsCompactionJob } from './yjs-compaction.job';
import { YjsService } from './yjs.service';

const quiet: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

/** A Y.Doc whose every local change is kept as an update (what a provider would send). */
function client(id: number): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc();
  doc.clientID = id;
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  return { doc, updates };
}

async function refusal(p: Promise<unknown>): Promise<ChorusError> {
  try {
    await p;
  } catch (err) {
    return ChorusError.from(err);
  }
  throw new Error('expected a refusal');
}

// Yjs documents in the conflict service (real Postgres): durable append log, kind at creation, validation on a
// scratch Y.Doc before anything is stored, idempotent retries, limits, and compaction into a snapshot.
describe('YjsService', () => {
  let db: ConflictTestDatabase;
  let ds: DataSource;
  let yjs: YjsService;
  const session = randomUUID();
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const viewer: Caller = { user_id: 'vic', client_id: 'vic-1', role: 'viewer' };

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_yjs');
    ds = await db.dataSource();
    yjs = new YjsService(ds, { maxDocBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await db.close();
  });

  const ref = (doc_id: string) => ({ session_id: session, doc_id });

  it('creates a yjs document on open, appends durably, and hands back the merged state', async () => {
    const opened = await yjs.open(alice, ref('notes/a.md'));
    expect(opened).toMatchObject({ doc_id: 'notes/a.md', seq: 0, created: true });
    const a = client(1);
    a.doc.getText('t').insert(0, 'hello');
    a.doc.getText('t').insert(5, ' world');
    const seqs = [];
    for (const u of a.updates) seqs.push((await yjs.append(alice, { ...ref('notes/a.md'), update: b64(u) })).seq);
    expect(seqs).toEqual([1, 2]);
    const state = await yjs.state(viewer, ref('notes/a.md'));
    const reloaded = new Y.Doc();
    Y.applyUpdate(reloaded, Buffer.from(state.update, 'base64'));
    expect(reloaded.getText('t').toString()).toBe('hello world');
    expect(state.seq).toBe(2);
    expect((await yjs.list(viewer, { session_id: session })).doc_ids).toContain('notes/a.md');
  });

  it('makes a retried append idempotent: the same bytes get the original seq, stored once', async () => {
    await yjs.open(alice, ref('notes/retry.md'));
    const a = client(2);
    a.doc.getText('t').insert(0, 'x');
    const update = b64(a.updates[0]);
    const [first, ...again] = await Promise.all([0, 1, 2, 3].map(() => yjs.append(alice, { ...ref('notes/retry.md'), update })));
    const all = [first, ...again];
    expect(new Set(all.map((r) => r.seq)).size).toBe(1);
    expect(all.filter((r) => !r.duplicate)).toHaveLength(1);
    const rows = (await ds.query(`SELECT count(*)::int AS n FROM yjs_updates WHERE session_id = $1 AND doc_id = $2`, [session, 'notes/retry.md'])) as Array<{ n: number }>;
    expect(rows[0].n).toBe(1);
  });

  it('group-commits concurrent appends of one document: one statement for a burst, each answered with its own seq once committed', async () => {
    await yjs.open(alice, ref('notes/burst.md'));
    const writers = [7, 8, 9].map((id) => client(id));
    for (let i = 0; i < 20; i++) for (const w of writers) w.doc.getText('t').insert(0, `${w.doc.clientID}:${i} `);
    const updates = writers.flatMap((w) => w.updates);
    // One already stored (a resend inside a burst), and one sent twice inside the burst.
    const stored = await yjs.append(alice, { ...ref('notes/burst.md'), update: b64(updates[0]) });
    const burst = [...updates, updates[0], updates[5]];
    const answers = await Promise.all(burst.map((u) => yjs.append(alice, { ...ref('notes/burst.md'), update: b64(u) })));
    // Rows of one statement share its transaction's timestamp: the burst took far fewer commits than updates (the
    // first found the document idle and went alone; the others waited for it and shared the next statement).
    const commits = (await ds.query(`SELECT count(DISTINCT created_at)::int AS n FROM yjs_updates WHERE session_id = $1 AND doc_id = $2 AND seq > $3`, [session, 'notes/burst.md', stored.seq])) as Array<{ n: number }>;
    expect(commits[0].n).toBeLessThanOrEqual(3);
    expect(answers[0]).toMatchObject({ seq: stored.seq, duplicate: true });
    expect(answers[burst.length - 2]).toMatchObject({ seq: stored.seq, duplicate: true });
    expect(answers[burst.length - 1].seq).toBe(answers[5].seq);
    expect([answers[5], answers[burst.length - 1]].filter((a) => !a.duplicate)).toHaveLength(1);
    const fresh = answers.filter((a) => !a.duplicate).map((a) => a.seq);
    expect(fresh).toHaveLength(updates.length - 1);
    expect(new Set(fresh).size).toBe(fresh.length);
    const rows = (await ds.query(`SELECT count(*)::int AS n, max(seq)::int AS head FROM yjs_updates WHERE session_id = $1 AND doc_id = $2`, [session, 'notes/burst.md'])) as Array<{ n: number; head: number }>;
    expect(rows[0]).toEqual({ n: updates.length, head: Math.max(...answers.map((a) => a.seq)) });
    const state = await yjs.state(alice, ref('notes/burst.md'));
    const reloaded = new Y.Doc();
    Y.applyUpdate(reloaded, Buffer.from(state.update, 'base64'));
    const expected = new Y.Doc();
    for (const u of updates) Y.applyUpdate(expected, u);
    expect(reloaded.getText('t').toString()).toBe(expected.getText('t').toString());
    expect(state.seq).toBe(rows[0].head);
  });

  it('refuses malformed updates, viewers, oversize updates and a full document without touching the stored state', async () => {
    await yjs.open(alice, ref('notes/guard.md'));
    const before = await yjs.state(alice, ref('notes/guard.md'));
    expect((await refusal(yjs.append(alice, { ...ref('notes/guard.md'), update: b64(new Uint8Array([1, 2, 3, 250, 251])) }))).code).toBe('VALIDATION_ERROR');
    expect((await refusal(yjs.append(alice, { ...ref('notes/guard.md'), update: 'not base64' }))).code).toBe('VALIDATION_ERROR');
    const a = client(3);
    a.doc.getText('t').insert(0, 'ok');
    expect((await refusal(yjs.append(viewer, { ...ref('notes/guard.md'), update: b64(a.updates[0]) }))).code).toBe('PERMISSION_DENIED');
    a.doc.getText('t').insert(0, 'y'.repeat(300 * 1024));
    expect((await refusal(yjs.append(alice, { ...ref('notes/guard.md'), update: b64(a.updates[1]) }))).code).toBe('PAYLOAD_TOO_LARGE');
    // Up to the document limit (64 KiB here), then refused.
    const big = client(4);
    let last: ChorusError | undefined;
    for (let i = 0; i < 10 && !last; i++) {
      big.doc.getText('t').insert(0, 'z'.repeat(10 * 1024));
      last = await yjs.append(alice, { ...ref('notes/guard.md'), update: b64(big.updates[i]) }).then(
        () => undefined,
        (err: unknown) => ChorusError.from(err),
      );
    }
    expect(last?.code).toBe('PAYLOAD_TOO_LARGE');
    const after = await yjs.state(alice, ref('notes/guard.md'));
    expect(after.seq).toBeLessThanOrEqual(7);
    expect(after.seq).toBeGreaterThan(before.seq);
  });

  it('keeps kinds apart: a text document is not opened as yjs, and a viewer cannot create one', async () => {
    const ot = new ConflictService(ds);
    await ot.createDocument(alice, { session_id: session, doc_id: 'src/main.ts', content: 'let x = 1;' });
    expect((await refusal(yjs.open(alice, ref('src/main.ts')))).code).toBe('CONFLICT');
    expect((await refusal(yjs.open(viewer, ref('notes/new-by-viewer.md')))).code).toBe('PERMISSION_DENIED');
  });

  it('compacts the log into a snapshot (one replica at a time) and the state stays the same', async () => {
    await yjs.open(alice, ref('notes/compact.md'));
    const a = client(5);
    const b = client(6);
    for (let i = 0; i < 30; i++) {
      a.doc.getText('t').insert(0, `a${i} `);
      b.doc.getText('t').insert(0, `b${i} `);
      if (i % 3 === 0) a.doc.getText('t').delete(0, 2);
    }
    await Promise.all([...a.updates, ...b.updates].map((u) => yjs.append(alice, { ...ref('notes/compact.md'), update: b64(u) })));
    const before = await yjs.state(alice, ref('notes/compact.md'));
    const replicas = [new YjsCompactionJob(await db.dataSource(), quiet), new YjsCompactionJob(await db.dataSource(), quiet)];
    const results = await Promise.all(replicas.map((job) => job.runOnce(10)));
    // Either one ran while the other saw the lock (null), or they ran one after the other (the second found nothing).
    expect(results.filter((r) => r !== null && r.documents > 0)).toHaveLength(1);
    const rows = (await ds.query(`SELECT count(*)::int AS n FROM yjs_updates WHERE session_id = $1 AND doc_id = $2`, [session, 'notes/compact.md'])) as Array<{ n: number }>;
    expect(rows[0].n).toBe(0);
    const after = await yjs.state(alice, ref('notes/compact.md'));
    expect(after.seq).toBe(before.seq);
    const x = new Y.Doc();
    Y.applyUpdate(x, Buffer.from(before.update, 'base64'));
    const y = new Y.Doc();
    Y.applyUpdate(y, Buffer.from(after.update, 'base64'));
    expect(y.getText('t').toString()).toBe(x.getText('t').toString());
    // Appends after the compaction continue the seq.
    a.doc.getText('t').insert(0, 'after ');
    expect((await yjs.append(alice, { ...ref('notes/compact.md'), update: b64(a.updates[a.updates.length - 1]) })).seq).toBe(before.seq + 1);
  });
});
