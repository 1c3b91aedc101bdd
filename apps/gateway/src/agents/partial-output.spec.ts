import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import { MAX_PARTIAL_CHARS, MemoryPartialOutputStore, PARTIAL_TTL_MS, type PartialOutputStore } from './partial-output';
import { RedisPartialOutputStore } from './redis-partial-output';

// The one contract of PartialOutputStore, run against both implementations.

const S = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const M = '3b9d6c1e-8f2a-4d5b-9c7e-1a2b3c4d5e6f';
const chunk = (index: number, data: string, agent_id = 'agent-1', message_id = M) => ({ message_id, agent_id, index, data });

const redis = new Redis(testRedisUrl());
afterAll(async () => {
  await redis.quit();
});

const implementations: Array<[string, (clock: { now(): number }) => { store: PartialOutputStore; another: () => PartialOutputStore }]> = [
  ['memory', (clock) => {
    const store = new MemoryPartialOutputStore(clock);
    return { store, another: () => store };
  }],
  ['redis', (clock) => {
    const prefix = uniqueRedisPrefix('partial');
    return { store: new RedisPartialOutputStore(redis, prefix, clock), another: () => new RedisPartialOutputStore(redis, prefix, clock) };
  }],
];

describe.each(implementations)('PartialOutputStore (%s)', (_name, make) => {
  let now = 1_000_000;
  const clock = { now: () => now };

  it('keeps the running text and the last index; a resend or a late chunk adds nothing', async () => {
    const { store, another } = make(clock);
    await store.append(S, chunk(0, 'The '));
    await store.append(S, chunk(1, 'parser '));
    await another().append(S, chunk(1, 'parser '));
    await store.append(S, chunk(0, 'The '));
    await another().append(S, chunk(2, 'works.'));
    expect(await another().read(S)).toEqual([{ message_id: M, agent_id: 'agent-1', through_index: 2, text: 'The parser works.' }]);
  });

  it('starts over when another agent takes the prompt over; clear forgets it; other sessions are apart', async () => {
    const { store } = make(clock);
    await store.append(S, chunk(0, 'old attempt'));
    await store.append(S, chunk(0, 'new ', 'agent-2'));
    await store.append(S, chunk(1, 'text', 'agent-2'));
    expect(await store.read(S)).toEqual([{ message_id: M, agent_id: 'agent-2', through_index: 1, text: 'new text' }]);
    expect(await store.read('00000000-0000-4000-8000-000000000000')).toEqual([]);
    await store.clear(S, M);
    expect(await store.read(S)).toEqual([]);
  });

  it('caps the text (the index still advances) and forgets a response idle past the TTL', async () => {
    const { store } = make(clock);
    const big = 'x'.repeat(MAX_PARTIAL_CHARS - 3);
    await store.append(S, chunk(0, big));
    await store.append(S, chunk(1, 'abcdef'));
    await store.append(S, chunk(2, 'more'));
    const [kept] = await store.read(S);
    expect({ length: kept.text.length, through: kept.through_index, tail: kept.text.slice(-3) }).toEqual({ length: MAX_PARTIAL_CHARS, through: 2, tail: 'abc' });
    now += PARTIAL_TTL_MS;
    expect(await store.read(S)).toEqual([]);
    // A chunk after the expiry starts a new text.
    await store.append(S, chunk(3, 'fresh'));
    expect(await store.read(S)).toEqual([{ message_id: M, agent_id: 'agent-1', through_index: 3, text: 'fresh' }]);
  });
});
