import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { applyOp } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import { ConflictService } from '../conflict.service';
import type { Caller } from './document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';
import { randomEdit, rng } from '../testing/random-edit';

describe('catch-up, snapshots, history and cursors (real Postgres)', () => {
  let db: ConflictTestDatabase;
  let ds: DataSource;
  let service: ConflictService;
  let session: string;
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const bob: Caller = { user_id: 'bob', client_id: 'bob-1', role: 'editor' };

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_history');
    ds = await db.dataSource();
    service = new ConflictService(ds, { snapshotEvery: 10, maxFetchOps: 25 });
  });
  afterAll(() => db.close());
  beforeEach(() => {
    session = randomUUID();
  });

  /** 57 random edits by alternating authors; returns the text after each version (texts[v]). */
  async function write(doc: string, n = 57): Promise<string[]> {
    const random = rng(11);
    const texts = [''];
    for (let v = 0; v < n; v++) {
      const op = randomEdit(texts[v], random);
      const r = await service.submitOp(v % 2 ? bob : alice, { session_id: session, doc_id: doc, version: v, op, seq: v });
      expect(r.ack.version).toBe(v + 1);
      const applied = applyOp(texts[v], op);
      if (!applied.ok) throw new Error('bad test op');
      texts.push(applied.doc);
    }
    return texts;
  }

  it('writes a snapshot every N versions in the transaction of the op that reaches it', async () => {
    const texts = await write('snap.txt');
    const snaps = (await ds.query(`SELECT version::int AS version, content FROM doc_snapshots WHERE session_id = $1 ORDER BY version`, [session])) as Array<{ version: number; content: string }>;
    expect(snaps.map((s) => s.version)).toEqual([0, 10, 20, 30, 40, 50]);
    for (const s of snaps) expect(s.content).toBe(texts[s.version]);
  });

  it('returns the text at every past version', async () => {
    const texts = await write('at.txt');
    for (let v = 0; v < texts.length; v++) {
      await expect(service.documentAt(alice, { session_id: session, doc_id: 'at.txt', version: v })).resolves.toEqual({ doc_id: 'at.txt', version: v, content: texts[v] });
    }
    await expect(service.documentAt(alice, { session_id: session, doc_id: 'at.txt', version: 58 })).rejects.toMatchObject({ code: 'RELOAD_REQUIRED' });
  });

  it('fetches ops from a version in version order, paged, and they rebuild the text', async () => {
    const texts = await write('fetch.txt');
    let text = texts[13];
    let from = 13;
    const versions: number[] = [];
    for (;;) {
      const page = await service.fetchOps(bob, { session_id: session, doc_id: 'fetch.txt', from_version: from });
      expect(page.ops.length).toBeLessThanOrEqual(25);
      for (const op of page.ops) {
        versions.push(op.version);
        const applied = applyOp(text, op.op);
        if (!applied.ok) throw new Error(applied.error.message);
        text = applied.doc;
      }
      if (page.ops.length === 0) break;
      from = page.ops[page.ops.length - 1].version;
    }
    expect(versions).toEqual(Array.from({ length: 44 }, (_, i) => 14 + i));
    expect(text).toBe(texts[57]);
  });

  it('tells the client to reload when the ops it needs are no longer retained', async () => {
    const texts = await write('compact.txt');
    await expect(service.compact(session, 'compact.txt', 35)).resolves.toBe(30);
    const err = (await service.fetchOps(alice, { session_id: session, doc_id: 'compact.txt', from_version: 12 }).catch((e: unknown) => e)) as ChorusError;
    expect(err).toMatchObject({ code: 'RELOAD_REQUIRED', details: { field: 'from_version' } });
    expect(err.message).toMatch(/reload/);
    await expect(service.submitOp(alice, { session_id: session, doc_id: 'compact.txt', version: 12, op: ['x'], seq: 1000 })).rejects.toMatchObject({ code: 'RELOAD_REQUIRED' });
    await expect(service.fetchOps(alice, { session_id: session, doc_id: 'compact.txt', from_version: 30 })).resolves.toMatchObject({ head: 57 });
    await expect(service.documentAt(alice, { session_id: session, doc_id: 'compact.txt', version: 30 })).resolves.toMatchObject({ content: texts[30] });
    await expect(service.documentAt(alice, { session_id: session, doc_id: 'compact.txt', version: 20 })).resolves.toMatchObject({ content: texts[20] });
    await expect(service.documentAt(alice, { session_id: session, doc_id: 'compact.txt', version: 25 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.documentAt(alice, { session_id: session, doc_id: 'compact.txt', version: 41 })).resolves.toMatchObject({ content: texts[41] });
  });

  it('says who changed what', async () => {
    await service.submitOp(alice, { session_id: session, doc_id: 'who.txt', version: 0, op: ['hello world'], seq: 1 });
    await service.submitOp(bob, { session_id: session, doc_id: 'who.txt', version: 1, op: [6, { d: 5 }, 'there'], seq: 1 });
    const history = await service.history(alice, { session_id: session, doc_id: 'who.txt', from_version: 0 });
    expect(history.map(({ version, user_id, peer_id, inserted, deleted, op }) => ({ version, user_id, peer_id, inserted, deleted, op }))).toEqual([
      { version: 1, user_id: 'alice', peer_id: 'alice-1', inserted: 11, deleted: 0, op: ['hello world'] },
      // Deletes are stored with the text they removed.
      { version: 2, user_id: 'bob', peer_id: 'bob-1', inserted: 5, deleted: 5, op: [6, { d: 'world' }, 'there'] },
    ]);
  });

  it('carries a peer cursor through later ops so it stays on the same character', async () => {
    await service.submitOp(alice, { session_id: session, doc_id: 'cur.txt', version: 0, op: ['abcdef'], seq: 1 });
    // bob's cursor after "abc" at version 1.
    await service.submitOp(alice, { session_id: session, doc_id: 'cur.txt', version: 1, op: ['XX'], seq: 2 }); // before it
    await service.submitOp(alice, { session_id: session, doc_id: 'cur.txt', version: 2, op: [5, 'YY'], seq: 3 }); // exactly at it (peer op: stays before)
    await service.submitOp(alice, { session_id: session, doc_id: 'cur.txt', version: 3, op: [9, 'ZZ'], seq: 4 }); // after it
    const moved = await service.transformSelection(bob, { session_id: session, doc_id: 'cur.txt', version: 1, selection: { anchor: 3, head: 3 }, owner_client_id: 'bob-1' });
    expect(moved).toEqual({ doc_id: 'cur.txt', version: 4, selection: { anchor: 5, head: 5 } });
    const own = await service.transformSelection(alice, { session_id: session, doc_id: 'cur.txt', version: 2, selection: { anchor: 5, head: 5 }, owner_client_id: 'alice-1' });
    expect(own.selection).toEqual({ anchor: 7, head: 7 }); // the author's caret follows what it typed
  });
});
