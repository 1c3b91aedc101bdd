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
import { YjsVersions } from './yjs-versions';
import { restoreUpdate } from './yjs-restore';

const quiet: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

async function refusal(p: Promise<unknown>): Promise<ChorusError> {
  try {
    await p;
  } catch (err) {
    return ChorusError.from(err);
  }
  throw new Error('expected a refusal');
}

/** A client doc whose local changes are appended as updates, and which applies what it is given. */
function writer(yjs: YjsService, caller: Caller, ref: { session_id: string; doc_id: string }) {
  const doc = new Y.Doc();
  const pending: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== 'remote') pending.push(u);
  });
  return {
    doc,
    async flush(): Promise<void> {
      for (const u of pending.splice(0)) await yjs.append(caller, { ...ref, update: b64(u) });
    },
    apply(update: string): void {
      Y.applyUpdate(doc, Buffer.from(update, 'base64'), 'remote');
    },
  };
}

// Version history of Yjs documents (real Postgres): versions taken by the compaction job and by saves, listed
// newest first and read back with their text, restored as ONE new update appended like a client's.
describe('YjsVersions', () => {
  let db: ConflictTestDatabase;
  let ds: DataSource;
  let yjs: YjsService;
  let versions: YjsVersions;
  const session = randomUUID();
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const viewer: Caller = { user_id: 'vic', client_id: 'vic-1', role: 'viewer' };
  const ref = (doc_id: string) => ({ session_id: session, doc_id });

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_yjs_versions');
    ds = await db.dataSource();
    yjs = new YjsService(ds);
    versions = new YjsVersions(ds, yjs);
  });
  afterAll(async () => {
    await db.close();
  });

  it('saves versions (author, label, size), lists them newest first, reads their state and text; a repeated save stores nothing', async () => {
    await yjs.open(alice, ref('notes/a.md'));
    const w = writer(yjs, alice, ref('notes/a.md'));
    w.doc.getText('codemirror').insert(0, 'first draft');
    await w.flush();
    const v1 = await versions.save(alice, { ...ref('notes/a.md'), label: 'draft' });
    expect(v1).toMatchObject({ version: 1, seq: 1, reason: 'saved', label: 'draft', author: 'alice', created: true });
    expect(v1.bytes).toBeGreaterThan(0);
    // Nothing changed since: the same version answers (a retried save), nothing stored.
    expect(await versions.save(alice, { ...ref('notes/a.md'), label: 'draft' })).toMatchObject({ version: 1, created: false });

    w.doc.getText('codemirror').insert(5, ' better');
    await w.flush();
    const v2 = await versions.save(alice, ref('notes/a.md'));
    expect(v2).toMatchObject({ version: 2, seq: 2, label: null, created: true });

    const page = await versions.list(viewer, ref('notes/a.md'));
    expect(page.versions.map((v) => v.version)).toEqual([2, 1]);
    expect(page.next_before).toBeNull();
    const older = await versions.list(viewer, { ...ref('notes/a.md'), limit: 1 });
    expect(older).toMatchObject({ versions: [{ version: 2 }], next_before: 2 });
    expect((await versions.list(viewer, { ...ref('notes/a.md'), before: 2 })).versions.map((v) => v.version)).toEqual([1]);

    const read = await versions.read(viewer, { ...ref('notes/a.md'), version: 1 });
    expect(read).toMatchObject({ version: 1, text_name: 'codemirror', text: 'first draft' });
    const doc = new Y.Doc();
    Y.applyUpdate(doc, Buffer.from(read.update, 'base64'));
    expect(doc.getText('codemirror').toString()).toBe('first draft');
    expect((await versions.read(viewer, { ...ref('notes/a.md'), version: 2, text: 'other' })).text).toBeNull();
  });

  it('takes a version with every compaction pass (no author), in the same list', async () => {
    await yjs.open(alice, ref('notes/compacted.md'));
    const w = writer(yjs, alice, ref('notes/compacted.md'));
    for (const ch of 'abcde') {
      w.doc.getText('codemirror').insert(w.doc.getText('codemirror').length, ch);
      await w.flush();
    }
    const job = new YjsCompactionJob(ds, quiet);
    expect(await job.runOnce(1)).toMatchObject({ documents: expect.any(Number) });
    const page = await versions.list(alice, ref('notes/compacted.md'));
    expect(page.versions).toEqual([expect.objectContaining({ version: 1, seq: 5, reason: 'compaction', author: null, label: null })]);
    expect((await versions.read(alice, { ...ref('notes/compacted.md'), version: 1 })).text).toBe('abcde');
  });

  it('restores a version as one new update that makes the content equal it; restoring again appends nothing', async () => {
    await yjs.open(alice, ref('notes/r.md'));
    const a = writer(yjs, alice, ref('notes/r.md'));
    a.doc.getText('codemirror').insert(0, 'hello world');
    a.doc.getMap('meta').set('title', 'Hello');
    a.doc.getArray<number>('list').push([1, 2, 3]);
    await a.flush();
    const saved = await versions.save(alice, ref('notes/r.md'));

    a.doc.getText('codemirror').delete(0, 5);
    a.doc.getText('codemirror').insert(0, 'goodbye cruel');
    a.doc.getMap('meta').set('title', 'Bye');
    a.doc.getMap('meta').set('extra', true);
    a.doc.getArray<number>('list').delete(0, 1);
    await a.flush();

    const restored = await versions.restore(alice, { ...ref('notes/r.md'), version: saved.version });
    expect(restored).toMatchObject({ version: saved.version, changed: true, skipped: [] });
    expect(restored.update).not.toBeNull();
    // The client that made the edits applies the pushed update and has the version's content again.
    a.apply(restored.update ?? '');
    expect(a.doc.getText('codemirror').toString()).toBe('hello world');
    expect(a.doc.getMap('meta').toJSON()).toEqual({ title: 'Hello' });
    expect(a.doc.getArray('list').toJSON()).toEqual([1, 2, 3]);
    // So does the stored state (the update was appended: a new seq, the log not rewritten).
    const state = await yjs.state(alice, ref('notes/r.md'));
    expect(state.seq).toBe(restored.seq);
    const stored = new Y.Doc();
    Y.applyUpdate(stored, Buffer.from(state.update, 'base64'));
    expect(stored.getText('codemirror').toString()).toBe('hello world');
    expect(stored.getMap('meta').toJSON()).toEqual({ title: 'Hello' });

    const again = await versions.restore(alice, { ...ref('notes/r.md'), version: saved.version });
    expect(again).toMatchObject({ changed: false, update: null, seq: restored.seq });
  });

  it('lets viewers list and read, and refuses them save and restore; a text document is CONFLICT, a missing version NOT_FOUND', async () => {
    await yjs.open(alice, ref('notes/v.md'));
    const w = writer(yjs, alice, ref('notes/v.md'));
    w.doc.getText('codemirror').insert(0, 'x');
    await w.flush();
    await versions.save(alice, ref('notes/v.md'));
    expect((await refusal(versions.save(viewer, ref('notes/v.md')))).code).toBe('PERMISSION_DENIED');
    expect((await refusal(versions.restore(viewer, { ...ref('notes/v.md'), version: 1 }))).code).toBe('PERMISSION_DENIED');
    expect((await refusal(versions.read(alice, { ...ref('notes/v.md'), version: 9 }))).code).toBe('NOT_FOUND');
    expect((await refusal(versions.read(alice, { ...ref('notes/v.md'), version: 0 }))).code).toBe('VALIDATION_ERROR');

    const ot = new ConflictService(ds, {}, quiet);
    await ot.createDocument(alice, { session_id: session, doc_id: 'src/main.ts', content: 'fn main() {}' });
    expect((await refusal(versions.list(alice, ref('src/main.ts')))).code).toBe('CONFLICT');
    // And the text documents' `document.at` sends a Yjs document to these versions.
    expect((await refusal(ot.documentAt(alice, { ...ref('notes/v.md'), version: 1 }))).code).toBe('CONFLICT');
  });

  it('restore diffs keep the text update small and handle formatted text and surrogate pairs', () => {
    const base = new Y.Doc();
    base.getText('t').insert(0, 'a😀b long common text');
    const version = Y.encodeStateAsUpdate(base);
    base.getText('t').delete(1, 2);
    base.getText('t').insert(1, '😃');
    const diff = restoreUpdate(Y.encodeStateAsUpdate(base), version);
    Y.applyUpdate(base, diff.update);
    expect(base.getText('t').toString()).toBe('a😀b long common text');

    const rich = new Y.Doc();
    rich.getText('r').insert(0, 'bold', { bold: true });
    const richVersion = Y.encodeStateAsUpdate(rich);
    rich.getText('r').format(0, 4, { bold: null });
    rich.getText('r').insert(4, ' more');
    Y.applyUpdate(rich, restoreUpdate(Y.encodeStateAsUpdate(rich), richVersion).update);
    expect(rich.getText('r').toDelta()).toEqual([{ insert: 'bold', attributes: { bold: true } }]);

    expect(restoreUpdate(version, version)).toMatchObject({ changed: false });
  });
});
