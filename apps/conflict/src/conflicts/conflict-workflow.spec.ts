import { randomUUID } from 'node:crypto';
import { ChorusError } from '@chorus/protocol';
import { ConflictService } from '../conflict.service';
import type { Caller } from '../documents/document.types';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';

// The conflict workflow against real Postgres: a conflict is recorded with the region three ways; a resolution is
// an op of the resolver transformed past later edits; two resolvers racing → exactly one wins; the winner's retry
// answers the same resolution and commits nothing; a refused commit (a lock) leaves the conflict open.

describe('conflict_resolutions (real Postgres)', () => {
  let db: ConflictTestDatabase;
  let service: ConflictService;
  let session: string;
  const alice: Caller = { user_id: 'alice', client_id: 'alice-1', role: 'editor' };
  const bob: Caller = { user_id: 'bob', client_id: 'bob-1', role: 'editor' };
  const vic: Caller = { user_id: 'vic', client_id: 'vic-1', role: 'viewer' };
  const doc = 'notes.txt';

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_workflow');
    service = new ConflictService(await db.dataSource());
  });
  afterAll(() => db.close());

  const submit = (caller: Caller, version: number, op: unknown, seq: number) => service.submitOp(caller, { session_id: session, doc_id: doc, version, op, seq });
  const text = async () => (await service.openDocument(alice, { session_id: session, doc_id: doc })).content;
  const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as ChorusError);

  async function conflict(): Promise<string> {
    session = randomUUID();
    await submit(alice, 0, ['hello world!'], 1);
    await submit(alice, 1, [6, { d: 5 }, 'there'], 2);
    const b = await submit(bob, 1, [6, { d: 5 }, 'earth'], 1);
    expect(b.conflicts).toHaveLength(1);
    return b.conflicts[0].conflict_id as string;
  }

  it('records the region three ways, the peers and the ops, listed by state', async () => {
    const id = await conflict();
    const merged = await text();
    const listed = await service.listConflicts(alice, { session_id: session, query: { state: 'open', limit: 100 } });
    expect(listed.conflicts).toEqual([
      expect.objectContaining({ conflict_id: id, doc_id: doc, version: 3, base_version: 1, peer_id: 'bob-1', user_id: 'bob', peers: ['bob-1', 'alice-1'], mine_text: 'earth', theirs_text: 'there', op: [6, { d: 5 }, 'earth'], overlapped_versions: [2], state: 'open', resolution: null }),
    ]);
    const c = listed.conflicts[0];
    expect([...merged].slice(c.region_start, c.region_end).join('')).toBe(c.merged_text);
    expect(merged.slice(0, c.region_start)).toBe('hello ');
    expect((await service.listConflicts(alice, { session_id: session, query: { state: 'resolved', limit: 100 } })).conflicts).toEqual([]);
  });

  it('keep_mine is an op of the resolver, transformed past edits made since; its retry commits nothing', async () => {
    const id = await conflict();
    await submit(alice, 3, ['> '], 3); // an unrelated edit after the conflict
    const r = await service.resolveConflict(bob, { session_id: session, conflict_id: id, strategy: 'keep_mine' });
    expect(r).toMatchObject({ conflict_id: id, strategy: 'keep_mine', text: 'earth', resolved_by: 'bob', duplicate: false, broadcast: { version: 5, peer_id: `resolve:${id}` } });
    expect(await text()).toBe('> hello earth!');
    const again = await service.resolveConflict(bob, { session_id: session, conflict_id: id, strategy: 'keep_mine' });
    expect(again).toMatchObject({ duplicate: true, broadcast: { version: 5 } });
    expect((await service.openDocument(bob, { session_id: session, doc_id: doc })).version).toBe(5);
    expect((await service.getConflict(alice, { session_id: session, conflict_id: id })).resolution).toMatchObject({ strategy: 'keep_mine', text: 'earth', resolved_by: 'bob', version: 5 });
  });

  it('two resolvers at once: exactly one wins, the other gets CONFLICT; the text is the winner\'s', async () => {
    const id = await conflict();
    const outcomes = await Promise.allSettled([
      service.resolveConflict(alice, { session_id: session, conflict_id: id, strategy: 'keep_theirs' }),
      service.resolveConflict(bob, { session_id: session, conflict_id: id, strategy: 'merged', text: 'planet' }),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((o) => (o.reason as ChorusError).code)).toEqual(['CONFLICT']);
    expect(await text()).toBe(`hello ${(won[0] as PromiseFulfilledResult<{ text: string }>).value.text}!`);
  });

  it('refused while someone else holds the lock, left open; a viewer may not resolve; merged needs text', async () => {
    const id = await conflict();
    await service.lockFile(alice, { session_id: session, doc_id: doc, ttl_ms: 60_000 });
    expect(await rejection(service.resolveConflict(bob, { session_id: session, conflict_id: id, strategy: 'keep_mine' }))).toMatchObject({ code: 'FILE_LOCKED' });
    expect((await service.getConflict(bob, { session_id: session, conflict_id: id })).state).toBe('open');
    expect(await rejection(service.resolveConflict(vic, { session_id: session, conflict_id: id, strategy: 'keep_mine' }))).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await rejection(service.resolveConflict(alice, { session_id: session, conflict_id: id, strategy: 'merged' }))).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'text' } });
    expect(await rejection(service.resolveConflict(alice, { session_id: session, conflict_id: randomUUID(), strategy: 'keep_mine' }))).toMatchObject({ code: 'NOT_FOUND' });
    // The holder may resolve.
    await expect(service.resolveConflict(alice, { session_id: session, conflict_id: id, strategy: 'keep_theirs' })).resolves.toMatchObject({ text: 'there' });
    expect(await text()).toBe('hello there!');
  });

  it('the session purge removes its conflicts with its documents', async () => {
    const id = await conflict();
    await service.purgeSession({ session_id: session });
    expect(await rejection(service.getConflict(alice, { session_id: session, conflict_id: id }))).toMatchObject({ code: 'NOT_FOUND' });
  });
});
