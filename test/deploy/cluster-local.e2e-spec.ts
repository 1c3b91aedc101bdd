import { get } from 'node:http';
import Redis from 'ioredis';
import { Client } from 'pg';
import { startTsProcess, testPostgresUrl, testRedisUrl, uniqueRedisPrefix, uniqueSuffix, type RunningProcess } from '@chorus/testing';

// `npm run cluster:local` end to end: 2 gateways behind the proxy + 2 replicas of each service, on free
// ports, its own database (created by the script) and Redis prefix. Ready through the proxy, round robin,
// a stopped gateway costs no request, and Ctrl-C/SIGTERM stops every process with exit code 0.

const dbName = `${(process.env.CHORUS_TEST_DB_PREFIX ?? 'chorus_test').replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_cluster_${uniqueSuffix()}`.slice(0, 63);
const redisPrefix = uniqueRedisPrefix('cluster-local');
let cluster: RunningProcess;
let proxyUrl: URL;

interface Row {
  pid: number;
  state: string;
  connections: number | undefined;
}
const ROW = /\|\s+((?:gateway|session|presence|conflict)-\d+)\s+\w+\s+\d+\s+(\d+)\s+(ready|not ready|exited -?\d+)\s*(\d+|-)?\s*$/;

/** The status table printed after `fromLine` (the script prints it when ready, on SIGUSR2 and when stopped). */
function tableAfter(fromLine: number): Map<string, Row> | undefined {
  const rows = new Map<string, Row>();
  for (const line of cluster.lines.slice(fromLine)) {
    const m = line.match(ROW);
    if (m) rows.set(m[1], { pid: Number(m[2]), state: m[3], connections: m[4] === '-' || m[4] === undefined ? undefined : Number(m[4]) });
  }
  return rows.size === 8 ? rows : undefined;
}

async function snapshot(): Promise<Map<string, Row>> {
  const from = cluster.lines.length;
  cluster.child.kill('SIGUSR2');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const t = tableAfter(from);
    if (t) return t;
    if (Date.now() > deadline) throw new Error(`no status table after SIGUSR2:\n${cluster.lines.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One request on its own TCP connection (no keep-alive), so each one is a new round-robin pick. */
function getStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: proxyUrl.hostname, port: proxyUrl.port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
  });
}

beforeAll(async () => {
  cluster = startTsProcess('scripts/cluster-local.ts', {
    CLUSTER_BASE_PORT: '0',
    CLUSTER_DATABASE_URL: testPostgresUrl(dbName),
    CLUSTER_REDIS_URL: testRedisUrl(),
    CLUSTER_READY_TIMEOUT_S: '150',
    REDIS_PREFIX: redisPrefix,
  });
  const m = await cluster.waitForLine(/Chorus cluster ready at (http:\/\/\S+)/, 180_000);
  proxyUrl = new URL(m[1]);
}, 200_000);

afterAll(async () => {
  // Leftovers of a failed run: the apps are detached from the script, so kill them by pid too.
  const rows = tableAfter(0) ?? new Map<string, Row>();
  await cluster?.stop('SIGKILL');
  for (const { pid } of rows.values()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const admin = new Client({ connectionString: testPostgresUrl('postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).finally(() => admin.end());
  const redis = new Redis(testRedisUrl());
  const keys = await redis.keys(`${redisPrefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}, 60_000);

describe('npm run cluster:local', () => {
  it('created its database and ran the migrations once, before the replicas', () => {
    const out = cluster.lines.join('\n');
    expect(out).toContain(`database ${dbName}: created`);
    expect(cluster.lines.filter((l) => /^migrate-session\s+\|.*Migrations applied/.test(l))).toHaveLength(1);
    expect(cluster.lines.filter((l) => /^migrate-conflict\s+\|.*Migrations applied/.test(l))).toHaveLength(1);
  });

  it('is ready through the proxy, which alternates between the two gateways', async () => {
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push(await getStatus('/health/ready'));
    expect(statuses).toEqual(Array(10).fill(200));
    const t = await snapshot();
    expect([...t.values()].map((r) => r.state)).toEqual(Array(8).fill('ready'));
    const [g1, g2] = [t.get('gateway-1')?.connections ?? 0, t.get('gateway-2')?.connections ?? 0];
    expect(Math.min(g1, g2)).toBeGreaterThanOrEqual(5);
    expect(Math.abs(g1 - g2)).toBeLessThanOrEqual(1);
  });

  it('keeps serving through the other gateway when one stops', async () => {
    const before = await snapshot();
    process.kill(before.get('gateway-1')!.pid, 'SIGTERM');
    await cluster.waitForLine(/gateway-1 exited with code 0 while the cluster was running/, 20_000);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await getStatus('/health/live'));
    expect(statuses).toEqual(Array(6).fill(200));
    const after = await snapshot();
    expect(after.get('gateway-1')).toMatchObject({ state: 'exited 0', connections: before.get('gateway-1')?.connections });
    expect(after.get('gateway-2')?.connections).toBe((before.get('gateway-2')?.connections ?? 0) + 6);
  });

  it('stops every process on SIGTERM, each with exit code 0', async () => {
    expect(await cluster.stop('SIGTERM', 60_000)).toBe(0);
    const codes = cluster.lines.find((l) => l.includes('exit codes:'));
    expect(codes).toMatch(/gateway-1=0 gateway-2=0 session-1=0 session-2=0 presence-1=0 presence-2=0 conflict-1=0 conflict-2=0$/);
  }, 90_000);
});
