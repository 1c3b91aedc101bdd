import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { ConflictService } from '../conflict.service';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';
import { CompactionJob } from './compaction.job';
import type { Caller } from './document.types';

// Scheduled compaction with two replicas on one database: one compacts, the other's pass stands aside, and a
// read beyond retention afterwards is a typed error, never a silently shorter answer.

const LOCK_KEY = 0xc0_4ac7;

describe('CompactionJob with two replicas (real Postgres)', () => {
  let db: ConflictTestDatabase;
  const replicas: Array<{ ds: DataSource; service: ConflictService; job: CompactionJob }> = [];
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'viewer' };
  const editor: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const session = randomUUID();

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_compaction');
    for (let i = 0; i < 2; i++) {
      const ds = await db.dataSource(4);
      replicas.push({ ds, service: new ConflictService(ds, { snapshotEvery: 10 }), job: new CompactionJob(ds, new Logger(`compaction-${i}`), { intervalMs: 60_000, retainVersions: 25, batch: 1 }) });
    }
  });
  afterAll(() => db.close());

  async function write(doc: string, n: number): Promise<void> {
    for (let v = 0; v < n; v++) await replicas[v % 2].service.submitOp(editor, { session_id: session, doc_id: doc, version: v, op: [`line ${v}\n`], seq: v + 1 });
  }

  it('compacts on exactly one replica, keeps the retained versions, and answers reads beyond retention with a typed error', async () => {
    await write('a.txt', 57);
    await write('b.txt', 20); // within retention: untouched
    await write('c.txt', 61);

    // While another replica holds the pass, a replica's pass does nothing.
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await expect(replicas[0].job.runOnce()).resolves.toBeNull();
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    await holder.end();

    const results = await Promise.all(replicas.map((r) => r.job.runOnce()));
    const worked = results.filter((r) => r !== null && r.documents > 0);
    expect(worked).toHaveLength(1);
    // batch 1: the pass went on batch after batch until nothing was due. a: newest snapshot <= 57-25 is 30; c: 30.
    expect(worked[0]).toEqual({ documents: 2, ops: 60 });
    await expect(replicas[1].job.runOnce()).resolves.toEqual({ documents: 0, ops: 0 });

    const { service } = replicas[1];
    const page = await service.historyPage(alice, { session_id: session, doc_id: 'a.txt' });
    expect({ min: page.min_version, head: page.head, first: page.entries[0]?.version, n: page.entries.length }).toEqual({ min: 30, head: 57, first: 31, n: 27 });
    await expect(service.historyPage(alice, { session_id: session, doc_id: 'a.txt', from_version: 29 })).rejects.toMatchObject({ code: 'NOT_FOUND', details: { field: 'from_version' } });
    await expect(service.fetchOps(alice, { session_id: session, doc_id: 'a.txt', from_version: 29 })).rejects.toMatchObject({ code: 'RELOAD_REQUIRED', details: { field: 'from_version' } });
    // Text at snapshots below retention stays readable; between them it is gone (typed).
    await expect(service.documentAt(alice, { session_id: session, doc_id: 'a.txt', version: 20 })).resolves.toMatchObject({ version: 20 });
    await expect(service.documentAt(alice, { session_id: session, doc_id: 'a.txt', version: 25 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await service.historyPage(alice, { session_id: session, doc_id: 'b.txt', from_version: 0 })).entries).toHaveLength(20);
    // The head and editing are unaffected.
    await expect(service.openDocument(alice, { session_id: session, doc_id: 'a.txt' })).resolves.toMatchObject({ version: 57, content: Array.from({ length: 57 }, (_, v) => `line ${v}\n`).reverse().join('') });
    await expect(replicas[0].service.submitOp(editor, { session_id: session, doc_id: 'a.txt', version: 57, op: ['x'], seq: 1000 })).resolves.toMatchObject({ ack: { version: 58 } });
  });
});
