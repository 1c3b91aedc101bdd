import { DocumentCache, type CachedOp } from './document-cache';

const op = (version: number, tag = 'x'): CachedOp => ({ version, base_version: version - 1, op: [tag], client_id: 'c', seq: version, user_id: 'u' });
const range = (from: number, to: number, tag?: string): CachedOp[] => Array.from({ length: to - from + 1 }, (_, i) => op(from + i, tag));
const versions = (ops: readonly CachedOp[] | undefined): number[] => (ops ?? []).map((o) => o.version);

describe('DocumentCache', () => {
  it('keeps the contiguous window of committed ops ending at the head, at most opsPerDoc', () => {
    const cache = new DocumentCache(10, 5);
    cache.set('d', 3, 'abc', range(1, 3), null);
    expect(versions(cache.get('d')?.ops)).toEqual([1, 2, 3]);
    // A commit's log: cached ops since the batch's lowest base, then the new ones.
    cache.set('d', 6, 'abcdef', range(2, 6), null);
    expect(versions(cache.get('d')?.ops)).toEqual([2, 3, 4, 5, 6]);
    cache.set('d', 8, 'abcdefgh', range(7, 8), null);
    expect(versions(cache.get('d')?.ops)).toEqual([4, 5, 6, 7, 8]);
    expect(cache.get('d')).toMatchObject({ version: 8, content: 'abcdefgh' });
  });

  it('starts a new window after a gap, and prefers the newly committed op objects', () => {
    const cache = new DocumentCache(10, 5);
    cache.set('d', 3, '', range(1, 3, 'old'), null);
    cache.set('d', 12, '', range(10, 12), null); // another replica committed 4..9
    expect(versions(cache.get('d')?.ops)).toEqual([10, 11, 12]);
    cache.set('d', 13, '', range(9, 13, 'new'), null); // overlapping what is cached
    const ops = cache.get('d')?.ops ?? [];
    expect(versions(ops)).toEqual([9, 10, 11, 12, 13]);
    expect(ops.every((o) => o.op[0] === 'new')).toBe(true);
  });

  it('merges unordered or non-contiguous input to the run ending at the head', () => {
    const cache = new DocumentCache(10, 10);
    cache.set('d', 4, '', range(1, 4), null);
    cache.set('d', 7, '', [op(7), op(5), op(6)], null);
    expect(versions(cache.get('d')?.ops)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    cache.set('d', 9, '', [op(9), op(7)], null); // 8 missing: only 9 is known contiguous with the head
    expect(versions(cache.get('d')?.ops)).toEqual([9]);
  });

  it('never mutates a window handed out before', () => {
    const cache = new DocumentCache(10, 4);
    cache.set('d', 4, '', range(1, 4), null);
    const before = cache.get('d')?.ops ?? [];
    cache.set('d', 6, '', range(5, 6), null);
    expect(versions(before)).toEqual([1, 2, 3, 4]);
    expect(versions(cache.get('d')?.ops)).toEqual([3, 4, 5, 6]);
  });

  it('answers opsBetween only for versions it holds', () => {
    const cache = new DocumentCache(10, 4);
    cache.set('d', 8, '', range(5, 8), null);
    const doc = cache.get('d');
    expect(versions(cache.opsBetween(doc, 5, 8))).toEqual([6, 7, 8]);
    expect(versions(cache.opsBetween(doc, 4, 8))).toEqual([5, 6, 7, 8]);
    expect(cache.opsBetween(doc, 3, 8)).toBeUndefined();
    expect(cache.opsBetween(doc, 5, 9)).toBeUndefined();
    expect(cache.opsBetween(doc, 8, 8)).toEqual([]);
  });

  it('evicts the least recently used document beyond maxDocs', () => {
    const cache = new DocumentCache(2, 4);
    cache.set('a', 1, '', range(1, 1), null);
    cache.set('b', 1, '', range(1, 1), null);
    cache.get('a');
    cache.set('c', 1, '', range(1, 1), null);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
  });
});
