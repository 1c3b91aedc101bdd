import Redis from 'ioredis';
import { firstValueFrom } from 'rxjs';
import { testRedisUrl, uniqueRedisPrefix, waitFor, withDeadline } from '@chorus/testing';
import { StreamKeys } from './redis/keys';
import { RedisStreamsClient } from './redis/streams.client';
import { deleteKeys } from './test/harness';
import { Children, type ReplicaProcess, kill } from './test/processes';
import type { WorkReply } from './test/work-replica.main';

// Replicas in separate processes, as in production: load-balancing, and a replica killed with -9.
describe('Redis Streams: replicas in separate processes', () => {
  const redisUrl = testRedisUrl();
  const prefix = uniqueRedisPrefix('transport-mp');
  const keys = new StreamKeys(prefix);
  const claimIdleMs = 1_000;
  const children = new Children();
  const clients: RedisStreamsClient[] = [];
  const redis = new Redis(redisUrl);
  const replicaEnv = (service: string, extra: Record<string, string> = {}) => ({
    REDIS_URL: redisUrl, PREFIX: prefix, SERVICE: service, CLAIM_IDLE_MS: String(claimIdleMs), ...extra,
  });

  function client(service: string): RedisStreamsClient {
    const c = new RedisStreamsClient({ redisUrl, prefix, nodeId: `gateway-${clients.length}`, service, requestTimeoutMs: 20_000 });
    clients.push(c);
    return c;
  }

  async function hashValues(name: string): Promise<Record<string, string>> {
    return redis.hgetall(`${prefix}:${name}`);
  }

  afterAll(async () => {
    await children.killAll();
    await Promise.all(clients.map((c) => c.close()));
    await deleteKeys(redisUrl, prefix);
    redis.disconnect();
  });

  it('3 replicas, 2 clients, 1,000 requests: each answered once, handled by exactly one replica, all replicas used', async () => {
    const replicas = await Promise.all([1, 2, 3].map((i) => children.replica(replicaEnv('work', { NODE_ID: `work-${i}` }))));
    const [a, b] = [client('work'), client('work')];
    const calls = Array.from({ length: 1_000 }, (_, n) => firstValueFrom((n % 2 === 0 ? a : b).send<WorkReply>('work', { n })));
    const replies = await withDeadline('1,000 replies', Promise.all(calls), 30_000);

    expect(replies.map((r) => r.doubled)).toEqual(Array.from({ length: 1_000 }, (_, n) => n * 2));
    expect(new Set(replies.map((r) => r.requestId)).size).toBe(1_000);
    const consumers = replicas.map((r) => r.consumer);
    const servedBy = new Set(replies.map((r) => r.servedBy));
    expect([...servedBy].sort()).toEqual([...consumers].sort());
    // Each request ran exactly once, on one replica (not once per replica, as with pub/sub).
    const runs = await hashValues('test:work:runs');
    expect(Object.keys(runs)).toHaveLength(1_000);
    expect(Object.values(runs).every((count) => count === '1')).toBe(true);
    expect(a.pendingCount() + b.pendingCount()).toBe(0);
  });

  it('kill -9 of a replica holding unacknowledged requests: the others answer them all within the claim timeout, idempotently', async () => {
    // The victim starts alone so that it certainly holds every request: it applies each effect, stores the
    // result, then hangs before replying.
    const victim: ReplicaProcess = await children.replica(replicaEnv('work2', { NODE_ID: 'victim', HANG: '1', CONCURRENCY: '8' }));
    const c = client('work2');
    const calls = Array.from({ length: 8 }, (_, n) => firstValueFrom(c.send<WorkReply>('work', { n })));
    await waitFor('the victim to apply all 8 effects', async () => Object.keys(await hashValues('test:work2:effects')).length === 8);
    const [, , , holders] = (await redis.xpending(keys.requests('work2'), 'work2')) as [number, string, string, Array<[string, string]>];
    expect(holders).toEqual([[victim.consumer, '8']]);

    const healthy = await Promise.all([1, 2].map((i) => children.replica(replicaEnv('work2', { NODE_ID: `healthy-${i}` }))));
    const killedAt = Date.now();
    await kill(victim.child, 'SIGKILL');
    const replies = await withDeadline('the killed replica’s requests to be answered', Promise.all(calls), 10_000);
    const failoverMs = Date.now() - killedAt;

    // Claimed after claimIdleMs without the victim's touch, by a reclaim tick (every claimIdleMs/2).
    expect(failoverMs).toBeLessThan(claimIdleMs * 2 + 1_000);
    expect(replies.map((r) => r.doubled)).toEqual(Array.from({ length: 8 }, (_, n) => n * 2));
    for (const reply of replies) {
      expect(healthy.map((h) => h.consumer)).toContain(reply.servedBy);
      expect(reply).toMatchObject({ deliveryCount: 2, replayed: true, producedBy: victim.consumer });
    }
    // The handler ran twice per request, its effect happened once: the redelivery was harmless.
    const ids = replies.map((r) => r.requestId);
    const [runs, effects] = [await hashValues('test:work2:runs'), await hashValues('test:work2:effects')];
    expect(ids.map((id) => runs[id])).toEqual(ids.map(() => '2'));
    expect(ids.map((id) => effects[id])).toEqual(ids.map(() => '1'));
    expect(await redis.xpending(keys.requests('work2'), 'work2')).toEqual([0, null, null, null]);
  });
});
