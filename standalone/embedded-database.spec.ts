import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@chorus/database';
import { standaloneDataDir, startTsProcess, waitFor, type RunningProcess } from '@chorus/testing';

// The embedded database of `npm start` (no DATABASE_URL): a real PostgreSQL child process. Its answers must
// belong to their own requests under concurrency, its transactions must be isolated per connection, and a
// killed run must never block the next start.

const running: RunningProcess[] = [];
const servers: EmbeddedPostgres[] = [];
let dataDir: string;

beforeEach(async () => {
  dataDir = await standaloneDataDir('embedded');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await rm(dataDir, { recursive: true, force: true });
});

async function start(): Promise<EmbeddedPostgres> {
  const server = await startEmbeddedPostgres(dataDir);
  servers.push(server);
  return server;
}

async function query<T>(url: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Whether `pid` is a live process (a zombie waiting to be reaped by its new parent is not). */
function alive(pid: number): boolean {
  try {
    return !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim().startsWith('Z');
  } catch {
    return false; // ps exits 1: no such process
  }
}

describe('the embedded Postgres of npm start', () => {
  it('answers every one of many concurrent mixed requests with its own result, and isolates transactions per connection', async () => {
    const proc = startTsProcess('standalone/test/embedded-concurrency.fixture.ts', {}, [dataDir]);
    running.push(proc);
    const [line] = await proc.waitForLine(/^\{"(report|error)".*\}$/, 120_000);
    const { report, error } = JSON.parse(line) as { report?: Record<string, unknown>; error?: string };
    expect(error).toBeUndefined();
    expect(report).toMatchObject({ wrong: 0, examples: [], rowLockBlocksOtherConnection: true, uncommittedRowHiddenFromOtherConnection: true });
    expect(report?.answers).toBeGreaterThan(2_000);
    expect(await proc.exited).toBe(0);
  }, 150_000);

  it('keeps its data across a restart, on 127.0.0.1 only, behind a password', async () => {
    const first = await start();
    expect(new URL(first.url).hostname).toBe('127.0.0.1');
    await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    const wrong = new URL(first.url);
    wrong.password = 'not-the-password';
    await expect(query(wrong.toString(), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    await first.stop();
    servers.splice(0);
    const second = await start();
    expect(await query(second.url, 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
  }, 60_000);

  it('after its owner was killed (SIGKILL), the next start stops the orphaned Postgres and starts on the same data', async () => {
    const holder = startTsProcess('standalone/test/embedded-holder.fixture.ts', {}, [dataDir]);
    running.push(holder);
    const [, pid, url] = await holder.waitForLine(/^up (\d+) (\S+)$/, 60_000);
    await query(url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
    // While its owner lives, a second start on the same folder is refused.
    await expect(startEmbeddedPostgres(dataDir)).rejects.toThrow(/Another Chorus \(pid \d+\) is running/);
    expect(await holder.stop('SIGKILL')).toBeNull();
    expect(alive(Number(pid))).toBe(true); // the orphan is still there
    const next = await start();
    expect(alive(Number(pid))).toBe(false);
    expect(await query(next.url, 'SELECT n FROM kept')).toEqual([{ n: 7 }]);
  }, 90_000);

  it('removes a postmaster.pid whose pid now belongs to another program (pid reuse after a crash)', async () => {
    const first = await start();
    await first.stop();
    servers.splice(0);
    await writeFile(join(dataDir, 'postgres', 'postmaster.pid'), `${process.pid}\n${join(dataDir, 'postgres')}\n`);
    const second = await start();
    expect(await query(second.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  }, 60_000);

  it('refuses a data folder of the earlier PGlite embedded database, says how to move it aside, and leaves it untouched', async () => {
    const pgdata = join(dataDir, 'postgres');
    await mkdir(join(pgdata, 'base'), { recursive: true });
    await writeFile(join(pgdata, 'PG_VERSION'), '18\n');
    await writeFile(join(pgdata, 'postgresql.conf'), '# PGlite\n');
    await expect(startEmbeddedPostgres(dataDir)).rejects.toThrow(/written by PGlite.*Move it aside \(mv ".*postgres" ".*postgres\.old"\)/s);
    expect((await readdir(pgdata)).sort()).toEqual(['PG_VERSION', 'base', 'postgresql.conf']);
  });

  it('stops its server when the owning process exits without stopping it (a fatal error)', async () => {
    const holder = startTsProcess('standalone/test/embedded-holder.fixture.ts', {}, [dataDir, 'exit']);
    running.push(holder);
    const [, pid] = await holder.waitForLine(/^up (\d+) (\S+)$/, 60_000);
    expect(await holder.exited).toBe(3);
    await waitFor('the embedded Postgres to exit with its owner', () => !alive(Number(pid)));
  }, 60_000);
});
