import Redis from 'ioredis';
import { firstValueFrom } from 'rxjs';
import { testRedisUrl, uniqueRedisPrefix, waitFor, withDeadline } from '@chorus/testing';
import { ordered, shardOf } from './envelope';
import { StreamKeys } from './redis/keys';
import { PeerLiveness } from './redis/liveness';
import { RedisStreamsClient } from './redis/streams.client';
import { RedisStreamsServer } from './redis/streams.server';
import { ensureGroup } from './redis/stream-ops';
import { Probe, contractModule } from './test/contract.service';
import { deleteKeys, startReplica } from './test/harness';
import { Children, kill } from './test/processes';
import type { WorkReply } from './test/work-replica.main';

// Fast failover: a replica killed with -9 is taken over because its Redis connections are gone, not because
// its messages went idle; a replica that is only paused (SIGSTOP: what a long GC or a blocked event loop
// looks like from outside) keeps its connections, its messages and its shard leases.
//
// The kill tests set claimIdleMs to 30 s, so only the connection check can answer within their 20 s deadlines
// (the idle-time path would need 30 s or more). The deadlines are generous for a loaded 2-core machine: what
// they assert is the mechanism, not a latency figure (bench:failover measures that).
describe('Redis Streams: failover by connection liveness', () => {
  const redisUrl = testRedisUrl();
  const prefix = uniqueRedisPrefix('transport-fo');
  const keys = new StreamKeys(prefix);
  const children = new Children();
  const clients: RedisStreamsClient[] = [];
  const redis = new Redis(redisUrl);
  const env = (service: string, extra: Record<string, string>) => ({ REDIS_URL: redisUrl, PREFIX: prefix, SERVICE: service, CLAIM_IDLE_MS: '30000', ...extra });

  function client(service: string, keyed = false): RedisStreamsClient {
    const c = new RedisStreamsClient({
      redisUrl, prefix, nodeId: `caller-${clients.length}`, service, requestTimeoutMs: 60_000,
      ...(keyed && { orderingKeys: { work: () => 'doc-1' } }),
    });
    clients.push(c);
    return c;
  }

  const hash = (name: string) => redis.hgetall(`${prefix}:${name}`);

  afterAll(async () => {
    await children.killAll();
    await Promise.all(clients.map((c) => c.close()));
    await deleteKeys(redisUrl, prefix);
    redis.disconnect();
  });

  it('kill -9 of a replica holding requests: another claims them at once, although claimIdleMs is 30 s', async () => {
    const victim = await children.replica(env('kill', { NODE_ID: 'victim', HANG: '1', CONCURRENCY: '8' }));
    const c = client('kill');
    const calls = Array.from({ length: 8 }, (_, n) => firstValueFrom(c.send<WorkReply>('work', { n })));
    await waitFor('the victim to hold all 8 requests', async () => Object.keys(await hash('test:kill:effects')).length === 8);
    const healthy = await children.replica(env('kill', { NODE_ID: 'healthy' }));

    await kill(victim.child, 'SIGKILL');
    const replies = await withDeadline('the killed replica’s requests to be answered', Promise.all(calls), 20_000);

    for (const reply of replies) expect(reply).toMatchObject({ servedBy: healthy.consumer, deliveryCount: 2, replayed: true, producedBy: victim.consumer });
    expect(await redis.xpending(keys.requests('kill'), 'kill')).toEqual([0, null, null, null]);
  }, 60_000);

  it('kill -9 of the holder of an ordering shard: its lease is taken and its keyed requests answered at once, in order', async () => {
    const shard = shardOf('doc-1', 16);
    const victim = await children.replica(env('lease', { NODE_ID: 'victim', HANG: '1' }));
    await waitFor('the victim to hold the shard lease', async () => (await redis.get(keys.lease('lease', shard))) === victim.consumer);
    const c = client('lease', true);
    const calls = [0, 1, 2].map((n) => firstValueFrom(c.send<WorkReply>('work', ordered('doc-1', { n }))));
    // The first hangs in its handler; the other two wait behind it in the victim's per-key queue.
    await waitFor('the victim to run the first keyed request', async () => Object.keys(await hash('test:lease:runs')).length === 1);
    const healthy = await children.replica(env('lease', { NODE_ID: 'healthy' }));

    await kill(victim.child, 'SIGKILL');
    const replies = await withDeadline('the keyed requests to be answered', Promise.all(calls), 20_000);

    expect(replies.map((r) => r.n)).toEqual([0, 1, 2]);
    for (const reply of replies) expect(reply.servedBy).toBe(healthy.consumer);
    expect(replies[0]).toMatchObject({ replayed: true, producedBy: victim.consumer, deliveryCount: 2 });
    expect(await redis.get(keys.lease('lease', shard))).toBe(healthy.consumer);
  }, 60_000);

  it('SIGSTOP for 3 s with the default timings: no takeover of the paused replica’s requests or leases; it answers them itself', async () => {
    const shard = shardOf('doc-1', 16);
    // Handlers take 10 s: still running when the pause starts, after the watcher's start-up.
    const paused = await children.replica(env('pause', { NODE_ID: 'paused', SLOW_MS: '10000', CLAIM_IDLE_MS: 'default' }));
    await waitFor('the replica to hold the shard lease', async () => (await redis.get(keys.lease('pause', shard))) === paused.consumer);
    const [plain, keyed] = [client('pause'), client('pause', true)];
    const calls = [
      ...Array.from({ length: 6 }, (_, n) => firstValueFrom(plain.send<WorkReply>('work', { n }))),
      firstValueFrom(keyed.send<WorkReply>('work', ordered('doc-1', { n: 6 }))),
    ];
    await waitFor('the replica to start all 7 requests', async () => Object.keys(await hash('test:pause:runs')).length === 7);
    // Its peer is up and checking (every 200 ms) while the first one is frozen for 15 checks.
    const watcher = await children.replica(env('pause', { NODE_ID: 'watcher', CLAIM_IDLE_MS: 'default' }));
    const [, , , holders] = (await redis.xpending(keys.requests('pause'), 'pause')) as [number, string, string, Array<[string, string]>];
    expect(holders).toEqual([[paused.consumer, '6']]); // still in its hands
    paused.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor('3 s of pause', () => Date.now() - stoppedAt >= 3_000, { timeoutMs: 5_000, intervalMs: 50 });
    const leaseDuringPause = await redis.get(keys.lease('pause', shard));
    paused.child.kill('SIGCONT');
    const replies = await withDeadline('the paused replica’s replies', Promise.all(calls), 15_000);

    expect(leaseDuringPause).toBe(paused.consumer);
    for (const reply of replies) expect(reply).toMatchObject({ servedBy: paused.consumer, deliveryCount: 1, replayed: false });
    // Each request ran exactly once: the watcher never ran one.
    const runs = await hash('test:pause:runs');
    expect(Object.values(runs)).toEqual(Array.from({ length: 7 }, () => '1'));
    expect(watcher.consumer).not.toBe(paused.consumer);
  }, 60_000);
});

describe('Redis Streams: a consumer without a connection', () => {
  it('is taken over by the connection check (counted), not by idle time', async () => {
    const redisUrl = testRedisUrl();
    const prefix = uniqueRedisPrefix('transport-fo-phantom');
    const keys = new StreamKeys(prefix);
    const redis = new Redis(redisUrl);
    const base = { redisUrl, prefix, nodeId: 'test', claimIdleMs: 30_000 };
    const c = new RedisStreamsClient({ ...base, service: 'svc', requestTimeoutMs: 60_000 });
    const s = new RedisStreamsServer({ ...base, service: 'svc' });
    try {
      await c.connect();
      const reply = firstValueFrom(c.send<{ deliveryCount: number; consumer: string }>('echo', { n: 1 }));
      // What kill -9 leaves behind: an entry pending for a consumer that has no connection named after it.
      await ensureGroup(redis, keys.requests('svc'), 'svc');
      await waitFor('the phantom consumer to read the request', async () => {
        const read = (await redis.call('XREADGROUP', 'GROUP', 'svc', 'ghost:0000', 'COUNT', 1, 'STREAMS', keys.requests('svc'), '>')) as unknown[] | null;
        return read !== null;
      });
      const app = await startReplica(contractModule('svc', new Probe()), s);
      try {
        const echo = await withDeadline('the phantom’s request to be answered', reply, 20_000);
        expect(echo).toMatchObject({ deliveryCount: 2, consumer: s.consumer });
        expect(s.takeovers.entries).toBe(1);
      } finally {
        await app.close();
      }
    } finally {
      await c.close();
      await deleteKeys(redisUrl, prefix);
      redis.disconnect();
    }
  });
});

describe('PeerLiveness', () => {
  const redisUrl = testRedisUrl();
  const observer = new Redis(redisUrl);
  afterAll(() => observer.disconnect());

  it('reports a consumer dead only after its named connections are gone in two checks in a row', async () => {
    const consumer = `peer-${Date.now()}:${Math.random().toString(16).slice(2, 10)}`;
    const peer = new Redis(redisUrl, { connectionName: `${consumer}:cmd` });
    await peer.ping();
    const liveness = new PeerLiveness(observer);
    const asked = new Set([consumer]);
    expect(await liveness.dead(asked)).toEqual([]);
    peer.disconnect();
    await waitFor('the peer to leave the client list', async () => !((await observer.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string).includes(consumer));
    expect(await liveness.dead(asked)).toEqual([]); // absent once: could be a reconnect
    expect(await liveness.dead(asked)).toEqual([consumer]);
  });

  it('keeps a connection that reconnects alive: ioredis names it again on every connect', async () => {
    const consumer = `peer-${Date.now()}:${Math.random().toString(16).slice(2, 10)}`;
    const peer = new Redis(redisUrl, { connectionName: `${consumer}:read`, retryStrategy: () => 10 });
    peer.on('error', () => undefined);
    await peer.ping();
    const id = Number(await peer.client('ID'));
    await observer.call('CLIENT', 'KILL', 'ID', String(id));
    await waitFor('the peer to reconnect as a new client', async () => Number(await peer.client('ID')) !== id);
    const liveness = new PeerLiveness(observer);
    expect(await liveness.dead(new Set([consumer]))).toEqual([]);
    expect(await liveness.dead(new Set([consumer]))).toEqual([]);
    peer.disconnect();
  });

  it('does not list clients when nobody else holds anything', async () => {
    const liveness = new PeerLiveness(observer);
    expect(await liveness.dead(new Set())).toEqual([]);
    expect(liveness.listCalls).toBe(0);
  });
});
