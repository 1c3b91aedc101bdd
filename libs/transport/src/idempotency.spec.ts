import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { type IdempotencyStore, MemoryIdempotencyStore, RedisIdempotencyStore } from './idempotency';
import { deleteKeys } from './test/harness';

const redis = new Redis(testRedisUrl());
const prefixes: string[] = [];
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(testRedisUrl(), prefix);
  redis.disconnect();
});

const stores: Array<[string, () => IdempotencyStore]> = [
  ['memory', () => new MemoryIdempotencyStore()],
  [
    'redis',
    () => {
      const prefix = uniqueRedisPrefix('idem');
      prefixes.push(prefix);
      return new RedisIdempotencyStore(redis, prefix);
    },
  ],
];

describe.each(stores)('%s idempotency store', (_name, create) => {
  it('remember: runs once, replays the stored result on redelivery', async () => {
    const store = create();
    let runs = 0;
    const work = async () => ({ run: ++runs });
    expect(await store.remember('req-1', work)).toEqual({ value: { run: 1 }, replayed: false });
    expect(await store.remember('req-1', work)).toEqual({ value: { run: 1 }, replayed: true });
    expect(await store.remember('req-2', work)).toEqual({ value: { run: 2 }, replayed: false });
    expect(runs).toBe(2);
  });

  it('remember: a failed run stores nothing, so the redelivery runs again', async () => {
    const store = create();
    await expect(store.remember('req-1', async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(await store.remember('req-1', async () => 'ok')).toEqual({ value: 'ok', replayed: false });
  });

  it('remember: of two concurrent runs, both return the first stored result', async () => {
    const store = create();
    let release!: () => void;
    const slow = store.remember('req-1', () => new Promise<string>((resolve) => (release = () => resolve('slow'))));
    const fast = await store.remember('req-1', async () => 'fast');
    release();
    expect(fast).toEqual({ value: 'fast', replayed: false });
    expect(await slow).toEqual({ value: 'fast', replayed: true });
  });

  it('once: true the first time only', async () => {
    const store = create();
    expect(await store.once('evt-1')).toBe(true);
    expect(await store.once('evt-1')).toBe(false);
    expect(await store.once('evt-2')).toBe(true);
  });
});
