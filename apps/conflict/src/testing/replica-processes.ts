import Redis from 'ioredis';
import { createTestDatabase, startTsProcess, testRedisUrl, uniqueRedisPrefix, waitFor, type RunningProcess, type TestDatabase } from '@chorus/testing';
import { RedisStreamsClient, StreamKeys } from '@chorus/transport';

// Conflict replicas as separate processes (apps/conflict/src/main.ts, as deployed: one Node process each)
// against their own fresh database and a unique Redis prefix; clients reach them through the Redis Streams
// transport. Used by the multi-process e2e test and the OT benchmark's transport path.

const ENTRY = 'apps/conflict/src/main.ts';

export interface ConflictCluster {
  readonly database: TestDatabase;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly replicas: ReadonlyArray<{ readonly nodeId: string; readonly process: RunningProcess }>;
  /** A transport client of the conflict service (a "gateway"), closed by `close()`. */
  client(nodeId: string, requestTimeoutMs?: number): RedisStreamsClient;
  /**
   * The node id of the replica holding the lease of the ordering shard written to last (the document being
   * edited when only one is).
   */
  shardHolder(): Promise<string | undefined>;
  /**
   * Resolves once every ordering shard's lease is held and no live replica holds more than its fair share
   * (replicas hand shards over for a few seconds after they start: a benchmark should not measure that).
   */
  balanced(shards?: number, timeoutMs?: number): Promise<void>;
  /** A counter or gauge of every live replica's /metrics (samples without labels beyond app/node), summed. */
  metric(name: string): Promise<number>;
  /** Stops every replica and client, deletes the prefix's Redis keys and drops the database. */
  close(): Promise<void>;
}

export async function startConflictCluster(label: string, replicas: number, dbPoolMax = 8): Promise<ConflictCluster> {
  const database = await createTestDatabase(label);
  const redisUrl = testRedisUrl();
  const prefix = uniqueRedisPrefix(label);
  const env = (nodeId: string): Record<string, string> => ({
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    PORT: '0',
    NODE_ID: nodeId,
    DB_POOL_MAX: String(dbPoolMax),
  });
  const started: Array<{ nodeId: string; process: RunningProcess }> = [];
  const clients: RedisStreamsClient[] = [];
  const redis = new Redis(redisUrl, { lazyConnect: true });
  const close = async (): Promise<void> => {
    await Promise.all(started.map((r) => r.process.stop('SIGTERM', 10_000).catch(() => undefined)));
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await deleteKeys(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await database.drop();
  };
  try {
    const migrate = startTsProcess(ENTRY, env('conflict-migrate'), ['migrate']);
    const code = await migrate.exited;
    if (code !== 0) throw new Error(`conflict migrate exited with ${code}:\n${migrate.lines.slice(-20).join('\n')}`);
    for (let i = 0; i < replicas; i++) {
      const nodeId = `conflict-${i}`;
      started.push({ nodeId, process: startTsProcess(ENTRY, env(nodeId)) });
    }
    await Promise.all(started.map((r) => r.process.waitForLine(/listening on http/, 60_000)));
  } catch (err) {
    await close();
    throw err;
  }
  const keys = new StreamKeys(prefix);
  return {
    database,
    redisUrl,
    prefix,
    replicas: started,
    client(nodeId, requestTimeoutMs = 10_000) {
      const c = new RedisStreamsClient({ redisUrl, prefix, nodeId, service: 'conflict', requestTimeoutMs });
      clients.push(c);
      return c;
    },
    async shardHolder() {
      let newest: { id: string; shard: number } | undefined;
      for (const key of await scan(redis, `${prefix}:svc:conflict:req:k*`)) {
        const info = (await redis.xinfo('STREAM', key)) as unknown[];
        const id = String(info[info.indexOf('last-generated-id') + 1]);
        const shard = Number(/:k(\d+)$/.exec(key)?.[1]);
        if (!newest || compareStreamIds(id, newest.id) > 0) newest = { id, shard };
      }
      if (!newest) return undefined;
      const consumer = await redis.get(keys.lease('conflict', newest.shard));
      return consumer?.split(':')[0];
    },
    async balanced(shards = 16, timeoutMs = 30_000) {
      const live = started.filter((r) => r.process.child.exitCode === null && r.process.child.signalCode === null).length;
      await waitFor(
        'ordering shards spread over the replicas',
        async () => {
          const holders = await redis.mget(...Array.from({ length: shards }, (_, n) => keys.lease('conflict', n)));
          if (holders.some((h) => h === null)) return false;
          const perHolder = new Map<string, number>();
          for (const h of holders) perHolder.set(h as string, (perHolder.get(h as string) ?? 0) + 1);
          return perHolder.size === live && [...perHolder.values()].every((n) => n <= Math.ceil(shards / live));
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    async metric(name) {
      let sum = 0;
      for (const r of started) {
        if (r.process.child.exitCode !== null || r.process.child.signalCode !== null) continue;
        const port = /listening on http:\/\/[^\s:]+:(\d+)/.exec(r.process.lines.join('\n'))?.[1];
        if (!port) throw new Error(`${r.nodeId} has not logged its HTTP port`);
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const sample = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
        if (!sample) throw new Error(`${r.nodeId} exposes no ${name}`);
        sum += Number(sample[1]);
      }
      return sum;
    },
    close,
  };
}

function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const all = await scan(redis, `${prefix}:*`);
  for (let i = 0; i < all.length; i += 500) await redis.del(...all.slice(i, i + 500));
}
