import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '@chorus/database';
import { applyOp, type TextOp } from '@chorus/ot';
import { createTestDatabase } from '@chorus/testing';
import { ConflictService } from '../conflict.service';
import { ConflictSchema1763856000000 } from '../migrations/1763856000000-conflict-schema';
import { CONFLICT_DATA_SOURCE } from '../persistence/conflict.data-source';
import type { Caller } from './document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';

// documents.content is a checkpoint (the text at content_version, written with the snapshots); the head text is
// it + the ops after it. Also: the rolling upgrade from the release that wrote the head text on every commit.

describe('head text = checkpoint + ops (real Postgres)', () => {
  let db: ConflictTestDatabase;
  let ds: DataSource;
  let session: string;
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const bob: Caller = { user_id: 'bob', client_id: 'bob-1', role: 'editor' };

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_head_text');
    ds = await db.dataSource();
  });
  afterAll(() => db.close());
  beforeEach(() => {
    session = randomUUID();
  });

  const row = async (doc: string): Promise<{ version: number; content_version: number; min_version: number; content: string }> =>
    (
      (await ds.query(`SELECT version::int AS version, content_version::int AS content_version, min_version::int AS min_version, content FROM documents WHERE session_id = $1 AND doc_id = $2`, [
        session,
        doc,
      ])) as Array<{ version: number; content_version: number; min_version: number; content: string }>
    )[0];

  /** Appends `n` lines, one op each, through `service`, from head `from`; returns the texts by version. */
  async function append(service: ConflictService, who: Caller, doc: string, texts: string[], n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const v = texts.length - 1;
      const line = `${who.user_id} line ${v} ${'x'.repeat(40)}\n`;
      const r = await service.submitOp(who, { session_id: session, doc_id: doc, version: v, op: v === 0 ? [line] : [[...texts[v]].length, line], seq: v + 1000 * (who === alice ? 0 : 1) });
      expect(r.ack.version).toBe(v + 1);
      texts.push(texts[v] + line);
    }
  }

  it('commits write the text only at checkpoints; open, catch-up and past texts are unchanged', async () => {
    const service = new ConflictService(ds, { snapshotEvery: 10 });
    const texts = [''];
    await append(service, alice, 'big.txt', texts, 27);
    // Commits between checkpoints do not name `content`: had one, the legacy trigger would have moved
    // content_version to that commit's version.
    await expect(row('big.txt')).resolves.toEqual({ version: 27, content_version: 20, min_version: 0, content: texts[20] });
    await expect(service.openDocument(alice, { session_id: session, doc_id: 'big.txt' })).resolves.toEqual({ doc_id: 'big.txt', version: 27, content: texts[27], lock: null });
    for (const v of [0, 9, 20, 26, 27]) {
      await expect(service.documentAt(alice, { session_id: session, doc_id: 'big.txt', version: v })).resolves.toEqual({ doc_id: 'big.txt', version: v, content: texts[v] });
    }
  });

  it('a replica whose cached text is older than the checkpoint, or between it and the head, commits on the right text', async () => {
    const a = new ConflictService(ds, { snapshotEvery: 5 });
    const b = new ConflictService(ds, { snapshotEvery: 5 });
    const texts = [''];
    await append(a, alice, 'two.txt', texts, 2); // a caches version 2
    await append(b, bob, 'two.txt', texts, 6); // checkpoint at 5, head 8: a's cache is older than the checkpoint
    await append(a, alice, 'two.txt', texts, 1); // a at 9, between the checkpoint (5) and the head
    await append(b, bob, 'two.txt', texts, 2); // b's cache (8) is between the checkpoint and the head (9): replays 9 only
    await append(a, alice, 'two.txt', texts, 3);
    await expect(row('two.txt')).resolves.toMatchObject({ version: 14, content_version: 10, content: texts[10] });
    for (const s of [a, b]) await expect(s.openDocument(alice, { session_id: session, doc_id: 'two.txt' })).resolves.toMatchObject({ version: 14, content: texts[14] });
  });

  it("a commit by the previous release (head text in content, content_version unknown to it) stays readable: the trigger moves content_version", async () => {
    const service = new ConflictService(ds, { snapshotEvery: 10 });
    const texts = [''];
    await append(service, alice, 'old.txt', texts, 3);
    // The previous release's commit, verbatim in shape: op inserted, head moved with the whole text.
    const op: TextOp = [[...texts[3]].length, 'from the old release\n'];
    texts.push(texts[3] + 'from the old release\n');
    await ds.transaction(async (tx) => {
      await tx.query(`SELECT version FROM documents WHERE session_id = $1 AND doc_id = $2 FOR UPDATE`, [session, 'old.txt']);
      await tx.query(`INSERT INTO doc_ops (session_id, doc_id, version, base_version, op, client_id, seq, user_id) VALUES ($1, $2, 4, 3, $3, 'old-1', 1, 'old')`, [
        session,
        'old.txt',
        JSON.stringify(op),
      ]);
      await tx.query(
        `UPDATE documents d SET version = h.version, content = h.content, updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[]) AS h(session_id, doc_id, version, content)
         WHERE d.session_id = h.session_id AND d.doc_id = h.doc_id`,
        [[session], ['old.txt'], [4], [texts[4]]],
      );
    });
    await expect(row('old.txt')).resolves.toMatchObject({ version: 4, content_version: 4, content: texts[4] });
    // A fresh replica (no cache) and the one whose cache is now stale both continue from the right text.
    await expect(new ConflictService(ds).openDocument(alice, { session_id: session, doc_id: 'old.txt' })).resolves.toMatchObject({ version: 4, content: texts[4] });
    await append(service, alice, 'old.txt', texts, 2);
    await expect(service.openDocument(alice, { session_id: session, doc_id: 'old.txt' })).resolves.toMatchObject({ version: 6, content: texts[6] });
  });

  it('compaction never drops an op the head text needs: an older checkpoint moves up to the kept snapshot', async () => {
    const service = new ConflictService(ds, { snapshotEvery: 10 });
    const texts = [''];
    await append(service, alice, 'c.txt', texts, 25);
    // A checkpoint older than the newest snapshot is valid (e.g. written by the upgrade's backfill); simulate one.
    await ds.query(`UPDATE documents SET content = $3, content_version = 12, meta_seq = meta_seq + 1 WHERE session_id = $1 AND doc_id = $2`, [session, 'c.txt', texts[12]]);
    await expect(service.compact(session, 'c.txt', 21)).resolves.toBe(20);
    await expect(row('c.txt')).resolves.toEqual({ version: 25, content_version: 20, min_version: 20, content: texts[20] });
    await expect(service.openDocument(alice, { session_id: session, doc_id: 'c.txt' })).resolves.toMatchObject({ version: 25, content: texts[25] });
    // min_version <= content_version <= version is enforced by the database.
    await expect(ds.query(`UPDATE documents SET content_version = 19 WHERE session_id = $1 AND doc_id = $2`, [session, 'c.txt'])).rejects.toThrow(/documents_content_version_check/);
  });
});

describe('upgrade of a deployed database (migration 1764000000000)', () => {
  it('backfills content_version = version: documents written before it open unchanged and keep committing', async () => {
    const raw = await createTestDatabase('conflict_upgrade');
    try {
      await runMigrations({ ...CONFLICT_DATA_SOURCE, migrations: [ConflictSchema1763856000000] }, raw.url);
      const session = randomUUID();
      const pg = new Client({ connectionString: raw.url });
      await pg.connect();
      const op: TextOp = ['hello'];
      await pg.query(`INSERT INTO documents (session_id, doc_id, version, content) VALUES ($1, 'a.txt', 1, 'hello')`, [session]);
      await pg.query(`INSERT INTO doc_snapshots (session_id, doc_id, version, content) VALUES ($1, 'a.txt', 0, '')`, [session]);
      await pg.query(`INSERT INTO doc_ops (session_id, doc_id, version, base_version, op, client_id, seq, user_id) VALUES ($1, 'a.txt', 1, 0, $2, 'c', 1, 'u')`, [session, JSON.stringify(op)]);
      await pg.end();

      // Every later migration runs after these two, in order (the ones of later features follow them).
      const applied = await runMigrations(CONFLICT_DATA_SOURCE, raw.url);
      expect(applied.slice(0, 2)).toEqual(['ConflictContentCheckpoint1764000000000', 'ConflictDedupeByAuthor1764200000000']);
      expect(applied).toEqual([...applied].sort((a, b) => Number(a.match(/\d+$/)?.[0]) - Number(b.match(/\d+$/)?.[0])));
      const ds = new DataSource(dataSourceOptions(CONFLICT_DATA_SOURCE, raw.url, 2));
      await ds.initialize();
      try {
        const caller: Caller = { user_id: 'u', client_id: 'c2', role: 'editor' };
        const service = new ConflictService(ds, { snapshotEvery: 10 });
        await expect(service.openDocument(caller, { session_id: session, doc_id: 'a.txt' })).resolves.toEqual({ doc_id: 'a.txt', version: 1, content: 'hello', lock: null });
        await service.submitOp(caller, { session_id: session, doc_id: 'a.txt', version: 1, op: [5, ' world'], seq: 1 });
        const applied = applyOp('hello', [5, ' world']);
        await expect(service.openDocument(caller, { session_id: session, doc_id: 'a.txt' })).resolves.toMatchObject({ version: 2, content: applied.ok ? applied.doc : '?' });
        await expect(ds.query(`SELECT content_version::int AS cv, content FROM documents WHERE session_id = $1`, [session])).resolves.toEqual([{ cv: 1, content: 'hello' }]);
      } finally {
        await ds.destroy();
      }
    } finally {
      await raw.drop();
    }
  });
});
