import { randomUUID } from 'node:crypto';
import { ConflictService } from '../conflict.service';
import type { Caller } from '../documents/document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';

describe('conflict_detected (real Postgres)', () => {
  let db: ConflictTestDatabase;
  let service: ConflictService;
  let session: string;
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const bob: Caller = { user_id: 'bob', client_id: 'bob-1', role: 'editor' };
  const carol: Caller = { user_id: 'carol', client_id: 'carol-1', role: 'agent' };

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_detection');
    service = new ConflictService(await db.dataSource());
  });
  afterAll(() => db.close());
  beforeEach(async () => {
    session = randomUUID();
    await service.submitOp(alice, { session_id: session, doc_id: 'x.py', version: 0, op: ['def f():\n    return 1\n'], seq: 0 });
  });

  const submit = (caller: Caller, version: number, op: unknown, seq: number) => service.submitOp(caller, { session_id: session, doc_id: 'x.py', version, op, seq });

  it('reports overlapping concurrent edits to both peers, and still merges', async () => {
    const a = await submit(alice, 1, [20, { d: 1 }, '2'], 1); // "1" -> "2"
    expect(a.conflicts).toEqual([]);
    const b = await submit(bob, 1, [20, { d: 1 }, '3'], 1); // concurrent "1" -> "3"
    expect(b.conflicts).toEqual([
      {
        doc_id: 'x.py',
        version: 3,
        base_version: 1,
        peer_id: 'bob-1',
        user_id: 'bob',
        overlaps: [{ version: 2, peer_id: 'alice-1', user_id: 'alice', ranges: [{ start: 20, end: 21 }] }],
        peers: ['bob-1', 'alice-1'],
        // Recorded before it was returned (conflicts/conflict-workflow.spec.ts).
        conflict_id: expect.any(String),
      },
    ]);
    await expect(service.openDocument(bob, { session_id: session, doc_id: 'x.py' })).resolves.toMatchObject({ version: 3, content: 'def f():\n    return 23\n' });
  });

  it('reports nothing for concurrent edits in different places', async () => {
    await submit(alice, 1, [4, 'g'], 1);
    const b = await submit(bob, 1, [20, { d: 1 }, '3'], 1);
    expect(b.conflicts).toEqual([]);
  });

  it('names every overlapped peer and version', async () => {
    await submit(alice, 1, [13, { d: 6 }, 'yield'], 1);
    await submit(carol, 1, [4, 'g'], 1); // elsewhere
    const b = await submit(bob, 1, [13, { d: 8 }], 1);
    expect(b.conflicts).toHaveLength(1);
    expect(b.conflicts[0].overlaps.map((o) => [o.version, o.peer_id])).toEqual([[2, 'alice-1']]);
    expect(b.conflicts[0].peers).toEqual(['bob-1', 'alice-1']);
  });
});
