import { KeyQueue } from './key-queue';
import { ordered, resolveKey, shardOf } from './envelope';
import { TransportError, toErrorBody } from './transport.error';

describe('toErrorBody', () => {
  it('keeps exactly code, message, details and retryable of a coded error', () => {
    const error = Object.assign(new Error('gone'), { name: 'ChorusError', code: 'NOT_MEMBER', details: { doc: 1 }, retryable: false, secret: 'x' });
    expect(toErrorBody(error)).toEqual({ code: 'NOT_MEMBER', message: 'gone', details: { doc: 1 }, retryable: false });
    expect(toErrorBody({ code: 'C', message: 'm' })).toEqual({ code: 'C', message: 'm' });
  });

  it("masks a library's coded error (Postgres, sockets) as INTERNAL: its code and text are not the caller's", () => {
    const pg = Object.assign(new Error('duplicate key value violates unique constraint "x" Key (id)=(secret)'), { code: '23505', detail: 'secret' });
    expect(toErrorBody(pg)).toEqual({ code: 'INTERNAL', message: 'Internal error' });
    expect(toErrorBody(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toEqual({ code: 'INTERNAL', message: 'Internal error' });
  });

  it('masks errors without a code as INTERNAL', () => {
    expect(toErrorBody(new Error('select * from secrets'))).toEqual({ code: 'INTERNAL', message: 'Internal error' });
    expect(toErrorBody({ status: 'error', message: 'Internal server error' })).toEqual({ code: 'INTERNAL', message: 'Internal server error' });
    expect(toErrorBody(42)).toEqual({ code: 'INTERNAL', message: 'Internal error' });
  });

  it('round-trips through TransportError', () => {
    const body = { code: 'CONFLICT', message: 'stale', details: [1], retryable: true };
    const error = new TransportError(body);
    expect(error).toBeInstanceOf(Error);
    expect(JSON.parse(JSON.stringify(error))).toEqual(body);
  });
});

describe('ordering keys', () => {
  it('takes the key from ordered() or from the per-pattern extractor', () => {
    expect(resolveKey('op.submit', ordered('doc-1', { v: 1 }), undefined)).toEqual({ data: { v: 1 }, key: 'doc-1' });
    expect(resolveKey('op.submit', { doc: 'd2' }, { 'op.submit': (d: { doc: string }) => d.doc })).toEqual({ data: { doc: 'd2' }, key: 'd2' });
    expect(resolveKey('other', { doc: 'd2' }, { 'op.submit': (d: { doc: string }) => d.doc })).toEqual({ data: { doc: 'd2' } });
  });

  it('maps a key to a stable shard', () => {
    expect(shardOf('doc-1', 16)).toBe(shardOf('doc-1', 16));
    const shards = new Set(Array.from({ length: 200 }, (_, i) => shardOf(`doc-${i}`, 16)));
    expect(shards.size).toBe(16);
  });

  it('KeyQueue runs one task per key at a time, in order, keys in parallel', async () => {
    const queue = new KeyQueue();
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const task = (name: string) => () => new Promise<void>((resolve) => {
      log.push(`start ${name}`);
      gates.set(name, () => {
        log.push(`end ${name}`);
        resolve();
      });
    });
    queue.run('a', task('a1'));
    queue.run('a', task('a2'));
    queue.run('b', task('b1'));
    expect(log).toEqual(['start a1', 'start b1']);
    gates.get('a1')!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['start a1', 'start b1', 'end a1', 'start a2']);
    gates.get('a2')!();
    gates.get('b1')!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.activeKeys).toBe(0);
  });
});
