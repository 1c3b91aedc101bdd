import type { INestMicroservice } from '@nestjs/common';
import Redis from 'ioredis';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { testRedisUrl, uniqueRedisPrefix, waitFor, withDeadline } from '@chorus/testing';
import { ordered, shardOf } from './envelope';
import type { StreamsTransportOptions } from './options';
import { StreamKeys } from './redis/keys';
import { RedisStreamsClient } from './redis/streams.client';
import { RedisStreamsServer } from './redis/streams.server';
import { ensureGroup } from './redis/stream-ops';
import { Probe, contractModule } from './test/contract.service';
import { deleteKeys, startReplica } from './test/harness';
import { freePort } from './test/processes';
import { TransportError } from './transport.error';

// Failure modes only the Redis transport has: dead consumers, redelivery, dead letters, memory bounds.
describe('Redis Streams: failures and bounds', () => {
  let base: StreamsTransportOptions;
  let keys: StreamKeys;
  let redis: Redis;
  let apps: INestMicroservice[];
  let clients: RedisStreamsClient[];
  let probe: Probe;

  beforeEach(() => {
    base = { redisUrl: testRedisUrl(), prefix: uniqueRedisPrefix('transport-fail'), nodeId: 'test', claimIdleMs: 300 };
    keys = new StreamKeys(base.prefix);
    redis = new Redis(base.redisUrl);
    apps = [];
    clients = [];
    probe = new Probe();
  });

  afterEach(async () => {
    probe.gate.open();
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(apps.map((a) => a.close()));
    await deleteKeys(base.redisUrl, base.prefix);
    redis.disconnect();
  });

  async function server(overrides: Partial<StreamsTransportOptions> = {}): Promise<RedisStreamsServer> {
    const s = new RedisStreamsServer({ ...base, ...overrides, service: 'svc' });
    apps.push(await startReplica(contractModule('svc', probe), s));
    return s;
  }

  async function client(overrides: Partial<StreamsTransportOptions> = {}): Promise<RedisStreamsClient> {
    const c = new RedisStreamsClient({ ...base, ...overrides, service: 'svc' });
    clients.push(c);
    await c.connect();
    return c;
  }

  /** A consumer that reads the next request and dies without acknowledging it (what kill -9 leaves behind). */
  async function phantomTakesOne(): Promise<string> {
    await ensureGroup(redis, keys.requests('svc'), 'svc');
    const id = await waitFor('the phantom consumer to read a request', async () => {
      const reply = (await redis.call('XREADGROUP', 'GROUP', 'svc', 'phantom', 'COUNT', 1, 'STREAMS', keys.requests('svc'), '>')) as
        | Array<[string, Array<[string, string[]]>]>
        | null;
      return reply?.[0]?.[1]?.[0]?.[0];
    });
    return id;
  }

  it('claims a message a dead consumer left pending, and tells the handler it is a redelivery', async () => {
    const c = await client();
    const reply = firstValueFrom(c.send<{ deliveryCount: number; consumer: string }>('echo', { n: 1 }));
    await phantomTakesOne();
    const s = await server();
    const echo = await withDeadline('the claimed request to be answered', reply, 5_000);
    expect(echo).toMatchObject({ deliveryCount: 2, consumer: s.consumer });
    expect(await redis.xpending(keys.requests('svc'), 'svc')).toEqual([0, null, null, null]);
  });

  it('dead-letters a message after maxDeliveries and fails its caller at once', async () => {
    const c = await client();
    const started = Date.now();
    const reply = firstValueFrom(c.send('echo', { poison: true }));
    const id = await phantomTakesOne();
    await server({ maxDeliveries: 1 });
    const error = (await withDeadline('the dead-letter error', reply.catch((e: unknown) => e), 5_000)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.toJSON()).toMatchObject({ code: 'DEAD_LETTER', retryable: false });
    expect(Date.now() - started).toBeLessThan(5_000); // well before its 10 s deadline
    expect(probe.handled.size).toBe(0);
    const dead = await redis.xrange(keys.deadLetters('svc'), '-', '+');
    expect(dead).toHaveLength(1);
    const fields = dead[0][1];
    expect(fields[fields.indexOf('id') + 1]).toBe(id);
    expect(fields[fields.indexOf('deliveries') + 1]).toBe('2');
    expect(await redis.xpending(keys.requests('svc'), 'svc')).toEqual([0, null, null, null]);
  });

  it('keeps a slow handler’s message from being claimed while its replica lives', async () => {
    const replicas = [await server(), await server()]; // the idle one's reclaim ticks would steal an untouched message
    const c = await client();
    const reply = firstValueFrom(c.send<{ consumer: string }>('gated', {}));
    await waitFor('the handler to start', () => probe.running === 1);
    // Watch the entry's idle time: every drop is a touch. Six touches span twice claimIdleMs.
    let touches = 0;
    let lastIdle = -1;
    await waitFor(
      'six touches of the in-flight message',
      async () => {
        const [[, , idle, deliveries]] = (await redis.call('XPENDING', keys.requests('svc'), 'svc', '-', '+', 10)) as Array<[string, string, number, number]>;
        expect(deliveries).toBe(1);
        if (idle < lastIdle) touches++;
        lastIdle = idle;
        return touches >= 6;
      },
      { timeoutMs: 5_000, intervalMs: 10 },
    );
    probe.gate.open();
    expect(replicas.map((r) => r.consumer)).toContain((await reply).consumer);
    expect(probe.handled.size).toBe(1);
    expect([...probe.handled.values()]).toEqual([1]);
  });

  it('keeps per-key order across the failover of an ordering shard', async () => {
    // A phantom replica holds the lease of the key's shard and dies holding its first two messages.
    const shard = keys.shard('svc', shardOf('doc-1', 16));
    await redis.set(keys.lease('svc', shardOf('doc-1', 16)), 'phantom', 'PX', 600);
    await ensureGroup(redis, shard, 'svc');
    const c = await client();
    const calls = [0, 1].map((n) => firstValueFrom(c.send<{ n: number }>('append', ordered('doc-1', { key: 'doc-1', n }))));
    await waitFor('the keyed requests to reach the shard', async () => (await redis.xlen(shard)) === 2);
    await redis.call('XREADGROUP', 'GROUP', 'svc', 'phantom', 'COUNT', 2, 'STREAMS', shard, '>');
    calls.push(...[2, 3, 4].map((n) => firstValueFrom(c.send<{ n: number }>('append', ordered('doc-1', { key: 'doc-1', n })))));
    // The new holder waits for the lease to expire, claims the pending ones first, then reads the rest.
    await server();
    const replies = await withDeadline('all keyed requests', Promise.all(calls), 5_000);
    expect(replies.map((r) => r.n)).toEqual([0, 1, 2, 3, 4]);
    expect(probe.orderByKey.get('doc-1')).toEqual([0, 1, 2, 3, 4]);
    expect(probe.maxRunningPerKey).toBe(1);
  });

  it('skips requests whose deadline passed before a replica read them', async () => {
    const c = await client({ requestTimeoutMs: 200 });
    const late = await firstValueFrom(c.send('echo', { late: true })).catch((e: TransportError) => e.code);
    expect(late).toBe('UNAVAILABLE');
    await server();
    const c2 = await client();
    await firstValueFrom(c2.send('echo', { fresh: true }));
    expect(probe.handled.size).toBe(1);
    await waitFor('the expired request to be acknowledged and deleted', async () => (await redis.xlen(keys.requests('svc'))) === 0);
  });

  it('fails requests with UNAVAILABLE, not a hang or a raw error, when Redis is unreachable', async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    const c = new RedisStreamsClient({ ...base, redisUrl: nowhere, service: 'svc', requestTimeoutMs: 300 });
    clients.push(c);
    const started = Date.now();
    const error = (await firstValueFrom(c.send('echo', {})).catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(c.isHealthy()).toBe(false);
  });

  it('bounds memory: answered requests deleted, event streams trimmed, reply streams expiring and removed', async () => {
    const s = await server();
    const other = await server();
    expect(s.consumer).not.toBe(other.consumer); // same nodeId, distinct consumers
    const c = await client();
    await Promise.all(Array.from({ length: 200 }, (_, n) => firstValueFrom(c.send('echo', { n }))));
    await waitFor('answered requests to be deleted', async () => (await redis.xlen(keys.requests('svc'))) === 0);
    // maxLen caps a stream's backlog (for a request stream: how far a service may fall behind).
    const emitter = await client({ maxLen: 100 });
    for (let n = 0; n < 1_000; n++) void lastValueFrom(emitter.emit('nobody.listens', { n }), { defaultValue: undefined });
    await lastValueFrom(emitter.emit('nobody.listens', { last: true }), { defaultValue: undefined });
    expect(await redis.xlen(keys.events('nobody.listens'))).toBeLessThan(300);
    const replyKeys = await redis.keys(`${base.prefix}:reply:*`);
    expect(replyKeys).toHaveLength(1); // only `c` sent requests
    const ttl = await redis.pttl(replyKeys[0]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await c.close();
    expect(await redis.exists(replyKeys[0])).toBe(0);
  });
});
