import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ChorusError } from '@chorus/protocol';
import { ConflictService } from './conflict.service';
import type { Caller } from './documents/document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from './testing/conflict-test-db';

const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
const bob: Caller = { user_id: 'bob', client_id: 'bob-1', role: 'editor' };
const viewer: Caller = { user_id: 'vic', client_id: 'vic-1', role: 'viewer' };

async function expectError(promise: Promise<unknown>, code: string, field?: string): Promise<ChorusError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChorusError);
  const e = err as ChorusError;
  expect(e.code).toBe(code);
  if (field !== undefined) expect(e.details.field).toBe(field);
  return e;
}

describe('ConflictService (real Postgres)', () => {
  let db: ConflictTestDatabase;
  let ds: DataSource;
  let service: ConflictService;
  let session: string;

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_service');
    ds = await db.dataSource();
    service = new ConflictService(ds, { limits: { maxComponents: 50, maxOpChars: 100, maxDocLength: 200 } });
  });
  afterAll(() => db.close());
  beforeEach(() => {
    session = randomUUID();
  });

  const submit = (caller: Caller, doc: string, version: number, op: unknown, seq: number) => service.submitOp(caller, { session_id: session, doc_id: doc, version, op, seq });
  const open = (doc: string) => service.openDocument(alice, { session_id: session, doc_id: doc });

  it('opens a document never written as version 0, "" without creating it', async () => {
    await expect(open('src/main.rs')).resolves.toEqual({ doc_id: 'src/main.rs', version: 0, content: '', lock: null });
    const rows = (await ds.query(`SELECT count(*)::int AS n FROM documents WHERE session_id = $1`, [session])) as Array<{ n: number }>;
    expect(rows[0].n).toBe(0);
  });

  it('commits the first op as version 1 and acknowledges it with the broadcast', async () => {
    const result = await submit(alice, 'src/main.rs', 0, ['fn main() {}'], 1);
    expect(result.ack).toEqual({ doc_id: 'src/main.rs', version: 1, seq: 1 });
    expect(result.broadcast).toEqual({ doc_id: 'src/main.rs', version: 1, op: ['fn main() {}'], peer_id: 'alice-1', seq: 1 });
    expect(result.duplicate).toBe(false);
    await expect(open('src/main.rs')).resolves.toEqual({ doc_id: 'src/main.rs', version: 1, content: 'fn main() {}', lock: null });
  });

  it('transforms a concurrent op against what was committed since its base', async () => {
    await submit(alice, 'a.txt', 0, ['hello world'], 1);
    await submit(alice, 'a.txt', 1, [5, { d: 6 }], 2); // "hello"
    const r = await submit(bob, 'a.txt', 1, [11, '!'], 1); // bob saw "hello world", appends "!"
    expect(r.ack.version).toBe(3);
    expect(r.broadcast.op).toEqual([5, '!']);
    expect((await open('a.txt')).content).toBe('hello!');
  });

  it('keeps an empty document editable (sharedb-postgres breaks on "")', async () => {
    await submit(alice, 'e.txt', 0, ['x'], 1);
    await submit(alice, 'e.txt', 1, [{ d: 1 }], 2);
    await expect(open('e.txt')).resolves.toMatchObject({ version: 2, content: '' });
    await submit(bob, 'e.txt', 2, ['y'], 1);
    await submit(bob, 'e.txt', 2, ['z'], 2); // concurrent with y... from the same base
    await expect(open('e.txt')).resolves.toMatchObject({ version: 4, content: 'yz' });
  });

  it('refuses a bad op with VALIDATION_ERROR and changes nothing', async () => {
    await submit(alice, 'v.txt', 0, ['abc'], 1);
    await expectError(submit(alice, 'v.txt', 1, [10, 'x'], 2), 'VALIDATION_ERROR', 'op.0');
    await expectError(submit(alice, 'v.txt', 1, [{ d: 'zz' }], 3), 'VALIDATION_ERROR', 'op.0.d');
    await expectError(submit(alice, 'v.txt', 1, 'abc', 4), 'VALIDATION_ERROR', 'op');
    await expectError(submit(alice, 'v.txt', 1, [3], 5), 'VALIDATION_ERROR', 'op.0');
    await expectError(submit(alice, 'v.txt', 1, ['\ud800'], 6), 'VALIDATION_ERROR', 'op.0');
    await expectError(service.submitOp(alice, { session_id: session, doc_id: 'v.txt', version: -1, op: [], seq: 7 }), 'VALIDATION_ERROR', 'version');
    await expectError(service.submitOp(alice, { session_id: 'nope', doc_id: 'v.txt', version: 1, op: [], seq: 8 }), 'VALIDATION_ERROR', 'session_id');
    await expect(open('v.txt')).resolves.toMatchObject({ version: 1, content: 'abc' });
    const ops = (await ds.query(`SELECT count(*)::int AS n FROM doc_ops WHERE session_id = $1`, [session])) as Array<{ n: number }>;
    expect(ops[0].n).toBe(1);
  });

  it('refuses document ids that are not relative project paths', async () => {
    for (const bad of ['', '/etc/passwd', 'a/../b', 'a//b', './a', 'a\\b', 'a\u0000b']) {
      await expectError(submit(alice, bad, 0, ['x'], 1), 'VALIDATION_ERROR', 'doc_id');
    }
  });

  it('enforces the op size and document size limits', async () => {
    await expectError(submit(alice, 'big.txt', 0, ['x'.repeat(101)], 1), 'PAYLOAD_TOO_LARGE', 'op.0');
    await expectError(submit(alice, 'big.txt', 0, Array.from({ length: 51 }, (_, i) => (i % 2 ? 'x' : 1)), 1), 'PAYLOAD_TOO_LARGE', 'op');
    await submit(alice, 'big.txt', 0, ['x'.repeat(100)], 1);
    await submit(alice, 'big.txt', 1, ['y'.repeat(100)], 2);
    const e = await expectError(submit(alice, 'big.txt', 2, ['z'], 3), 'VALIDATION_ERROR', 'op');
    expect(e.message).toMatch(/doc_too_large/);
    await submit(alice, 'big.txt', 2, [{ d: 5 }], 4); // shrinking is always fine
    expect((await open('big.txt')).version).toBe(3);
  });

  it('refuses a version ahead of head with CONFLICT telling the client to reload', async () => {
    await submit(alice, 'h.txt', 0, ['a'], 1);
    const e = await expectError(submit(alice, 'h.txt', 5, ['b'], 2), 'RELOAD_REQUIRED', 'version');
    expect(e.message).toMatch(/reload/);
    await expectError(service.fetchOps(alice, { session_id: session, doc_id: 'h.txt', from_version: 9 }), 'RELOAD_REQUIRED', 'from_version');
  });

  it('checks the role: viewers read but do not edit', async () => {
    await submit(alice, 'r.txt', 0, ['a'], 1);
    await expectError(submit(viewer, 'r.txt', 1, ['b'], 1), 'PERMISSION_DENIED');
    await expect(service.openDocument(viewer, { session_id: session, doc_id: 'r.txt' })).resolves.toMatchObject({ content: 'a' });
    await expect(service.submitOp({ user_id: 'agent-7', client_id: 'agent-7-c', role: 'agent' }, { session_id: session, doc_id: 'r.txt', version: 1, op: [1, 'b'], seq: 1 })).resolves.toMatchObject({
      ack: { version: 2 },
    });
  });

  it('takes client_id from the caller, never from the payload', async () => {
    const r = await service.submitOp(alice, { session_id: session, doc_id: 'c.txt', version: 0, op: ['a'], seq: 1, client_id: 'bob-1' });
    expect(r.broadcast.peer_id).toBe('alice-1');
    // bob's seq 1 is his own: not a duplicate of alice's.
    const b = await submit(bob, 'c.txt', 1, ['b'], 1);
    expect(b.duplicate).toBe(false);
    expect(b.ack.version).toBe(2);
  });

  it('creates a document with initial text at version 0, once', async () => {
    const created = await service.createDocument(alice, { session_id: session, doc_id: 'README.md', content: '# hi\n' });
    expect(created).toEqual({ doc_id: 'README.md', version: 0, content: '# hi\n', created: true, lock: null });
    const again = await service.createDocument(alice, { session_id: session, doc_id: 'README.md', content: 'other' });
    expect(again).toMatchObject({ content: '# hi\n', created: false });
    await submit(alice, 'README.md', 0, [5, 'there\n'], 1);
    await expect(service.documentAt(alice, { session_id: session, doc_id: 'README.md', version: 0 })).resolves.toMatchObject({ content: '# hi\n' });
  });
});
