import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { firstValueFrom } from 'rxjs';
import { uniqueRedisPrefix, waitFor, withDeadline } from '@chorus/testing';
import type { TransportStatus } from './base.server';
import { RedisStreamsClient } from './redis/streams.client';
import { Children, type ReplicaProcess, freePort, isRunning, kill } from './test/processes';
import type { WorkReply } from './test/work-replica.main';

// A Redis restart (no persistence: it comes back empty) in the middle of a run. This uses a private,
// throwaway redis-server on an OS-chosen port: the shared one on 6379 is never touched.
describe('Redis Streams: Redis restarts mid-run', () => {
  const children = new Children();
  const dir = mkdtempSync(path.join(tmpdir(), 'chorus-redis-'));
  const prefix = uniqueRedisPrefix('transport-restart');
  let port: number;
  let redisUrl: string;
  let redisServer: ChildProcess;
  let client: RedisStreamsClient | undefined;

  async function startRedis(): Promise<void> {
    redisServer = children.track(
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' }),
    );
    const probe = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    probe.on('error', () => undefined);
    try {
      await waitFor('the private redis-server to answer', async () => (await probe.ping().catch(() => undefined)) === 'PONG');
    } finally {
      probe.disconnect();
    }
  }

  beforeAll(async () => {
    port = await freePort();
    redisUrl = `redis://127.0.0.1:${port}`;
    await startRedis();
  });

  afterAll(async () => {
    await client?.close();
    await children.killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  async function round(c: RedisStreamsClient, from: number, count: number): Promise<WorkReply[]> {
    return Promise.all(Array.from({ length: count }, (_, i) => firstValueFrom(c.send<WorkReply>('work', { n: from + i }))));
  }

  it('clients and servers reconnect and carry on; no process exits', async () => {
    const env = { REDIS_URL: redisUrl, PREFIX: prefix, SERVICE: 'work', CLAIM_IDLE_MS: '1000' };
    const replicas: ReplicaProcess[] = await Promise.all([1, 2].map((i) => children.replica({ ...env, NODE_ID: `r${i}` })));
    client = new RedisStreamsClient({ redisUrl, prefix, nodeId: 'gateway', service: 'work', requestTimeoutMs: 3_000 });
    const statuses: TransportStatus[] = [];
    client.status.subscribe((s) => statuses.push(s as TransportStatus));
    await client.connect();
    expect((await round(client, 0, 50)).map((r) => r.doubled)).toEqual(Array.from({ length: 50 }, (_, n) => n * 2));

    await kill(redisServer, 'SIGKILL');
    await waitFor('the client to notice', () => !client!.isHealthy());
    // Requests during the outage settle (answered after the restart, or UNAVAILABLE at their deadline): never a hang.
    const duringOutage = round(client, 1_000, 5).then(
      () => 'answered',
      (error: { code: string }) => error.code,
    );

    await startRedis();
    await waitFor('the client to reconnect', () => client!.isHealthy(), { timeoutMs: 10_000 });
    expect(['answered', 'UNAVAILABLE']).toContain(await withDeadline('requests sent during the outage to settle', duringOutage, 10_000));
    // Redis came back empty: the servers re-create their consumer groups and serve new requests.
    const after = await withDeadline('requests after the restart', round(client, 2_000, 50), 10_000);
    expect(after.map((r) => r.doubled)).toEqual(Array.from({ length: 50 }, (_, n) => (2_000 + n) * 2));
    expect(new Set(after.map((r) => r.servedBy)).size).toBeGreaterThanOrEqual(1);
    expect(replicas.every((r) => isRunning(r.child))).toBe(true);
    expect(statuses).toEqual(expect.arrayContaining(['connected', 'reconnecting']));
    expect(statuses[statuses.length - 1]).toBe('connected');
  });
});
