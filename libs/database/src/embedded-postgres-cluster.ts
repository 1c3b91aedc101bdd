import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, link, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// The on-disk side of the embedded Postgres: where its binaries are, which OS user runs them, and the data
// folder (initdb, leftovers of a killed run, folders it cannot read). The process side is embedded-postgres.ts.

/** Where a log line goes: `debug` for Postgres' routine chatter, `info` for start-up steps, `warn`/`error` for what an operator must see. */
export type EmbeddedLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface PostgresBinaries {
  /** Folder holding `postgres` and `initdb` (their lib/ and share/ are beside it). */
  readonly binDir: string;
  /** The binaries package's version, e.g. 15.18.0-beta.17. */
  readonly version: string;
  /** The Postgres major version the binaries run and initdb writes into PG_VERSION. */
  readonly major: number;
}

/** The OS user Postgres runs as when Chorus runs as root (Postgres refuses to run as root). */
export interface ServerUser {
  readonly uid: number;
  readonly gid: number;
}

/** The binaries of @embedded-postgres/<platform>-<arch> (an optional dependency: only this machine's one is installed). */
export async function locateBinaries(): Promise<PostgresBinaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    // The package is ESM and exports only its entry: resolve the file, never load it (Jest and CommonJS callers).
    entry = require.resolve(pkg);
  } catch {
    throw new Error(
      `The embedded Postgres has no binaries for ${process.platform}-${process.arch} (${pkg} is not installed). ` +
        'Run `npm ci` again, or set DATABASE_URL to a Postgres of your own.',
    );
  }
  const root = join(dirname(entry), '..');
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  return { binDir: join(root, 'native', 'bin'), version, major: Number.parseInt(version, 10) };
}

/** undefined when Chorus is not root; else the `postgres` OS user, or a clear error saying how to get one. */
export async function serverUser(): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number.parseInt(uid.out, 10), gid: Number.parseInt(gid.out, 10) };
  } catch {
    throw new Error(
      'Chorus runs as root, and Postgres refuses to run as root: the embedded Postgres runs as the OS user "postgres", which does not exist here. ' +
        'Create it (useradd --system postgres), run `npm start` as a normal user, or set DATABASE_URL.',
    );
  }
}

/**
 * The binaries as `user` can run them. A checkout in a folder only root can enter (mktemp -d is 0700) hides
 * them from the postgres user: then they are mirrored, as hard links where possible, into a root-owned folder
 * of the temp dir that everyone may read (one per binaries version, reused by later starts).
 */
export async function reachableBinaries(binaries: PostgresBinaries, user: ServerUser | undefined): Promise<string> {
  if (!user || (await canRun(binaries.binDir, user))) return binaries.binDir;
  const target = join(tmpdir(), `chorus-embedded-postgres-${binaries.version}`);
  const marker = join(target, '.complete');
  if (!(await isTrustedMirror(target, marker))) {
    const staging = await mkdtemp(`${target}.staging-`);
    await mirrorTree(dirname(binaries.binDir), staging);
    await writeFile(join(staging, '.complete'), `${binaries.version}\n`);
    await chmod(staging, 0o755);
    // Another start may have finished its own mirror meanwhile: keep the first, drop ours.
    await rename(staging, target).catch(async () => rm(staging, { recursive: true, force: true }));
    if (!(await isTrustedMirror(target, marker))) throw new Error(`${target} exists but is not a copy of the Postgres binaries made by root: remove it and start again.`);
  }
  const binDir = join(target, 'bin');
  if (!(await canRun(binDir, user))) throw new Error(`The OS user "postgres" cannot run ${binDir}: check the permissions of ${tmpdir()}.`);
  return binDir;
}

/** A mirror is trusted only if root made it and nobody else can write into it (the temp dir is shared). */
async function isTrustedMirror(dir: string, marker: string): Promise<boolean> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info?.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) return false;
  return stat(marker).then(
    () => true,
    () => false,
  );
}

async function mirrorTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await mirrorTree(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else await link(source, target).catch(() => copyFile(source, target).then(async () => chmod(target, (await stat(source)).mode & 0o777)));
  }
}

async function canRun(binDir: string, user: ServerUser): Promise<boolean> {
  return run(join(binDir, 'postgres'), ['--version'], user).then(
    () => true,
    () => false,
  );
}

/** What the data folder holds. */
export type ClusterState = 'absent' | 'ready';

/**
 * Checks `pgdata` before a start. A folder written by another Postgres (the PGlite of Chorus ≤ 0.1, or another
 * major version) is never touched: the error says how to move it aside. A postmaster.pid left by a killed run
 * is dealt with: removed when its process is gone (or the pid now belongs to another program), and a Postgres
 * orphaned by a killed Chorus is stopped first; one still owned by a running Chorus is refused.
 */
export async function inspectCluster(pgdata: string, major: number, log: EmbeddedLog): Promise<ClusterState> {
  const entries = await readdir(pgdata).catch(() => undefined);
  if (entries === undefined || entries.length === 0) return 'absent';
  const version = await readFile(join(pgdata, 'PG_VERSION'), 'utf8').then(
    (text) => Number.parseInt(text, 10),
    () => undefined,
  );
  const moveAside = `Move it aside (mv "${pgdata}" "${pgdata}.old") and start again for an empty database, or start with another --data-dir / CHORUS_DATA_DIR. Nothing was changed.`;
  if (version === undefined) throw new Error(`${pgdata} is not empty but holds no Postgres data (no PG_VERSION). ${moveAside}`);
  if (!entries.includes('postmaster.opts')) {
    // Real Postgres writes postmaster.opts on every start; PGlite (WebAssembly, in-process) never does.
    throw new Error(
      `${pgdata} holds a database written by PGlite, the in-process Postgres ${version} that earlier Chorus versions embedded; ` +
        `this version runs a real PostgreSQL ${major}, which cannot read it. ${moveAside}`,
    );
  }
  if (version !== major) throw new Error(`${pgdata} was initialised by PostgreSQL ${version}; this Chorus embeds PostgreSQL ${major}, which cannot read it. ${moveAside}`);
  await clearStalePid(pgdata, log);
  return 'ready';
}

async function clearStalePid(pgdata: string, log: EmbeddedLog): Promise<void> {
  const pidFile = join(pgdata, 'postmaster.pid');
  const text = await readFile(pidFile, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const pid = Number.parseInt(text, 10);
  const owner = Number.isInteger(pid) && pid > 0 ? await processInfo(pid) : undefined;
  if (!owner || !owner.args.includes('postgres') || !owner.args.includes(pgdata)) {
    // Postgres itself refuses to start when the pid in the file is alive, even if it is now another program
    // (pids are reused after a reboot or in a new container): a file whose process is not our postmaster is stale.
    await rm(pidFile, { force: true });
    log('warn', `Removed a stale ${pidFile} (pid ${pid} is not a Postgres on this folder): the last run did not stop cleanly.`);
    return;
  }
  const parent = owner.ppid > 1 ? await processInfo(owner.ppid) : undefined;
  if (parent && /\bnode\b|chorus/.test(parent.args)) {
    throw new Error(`Another Chorus (pid ${owner.ppid}) is running on ${dirname(pgdata)}: stop it first, or give this one its own --data-dir.`);
  }
  log('warn', `A Postgres (pid ${pid}) left running by a Chorus that was killed holds ${pgdata}: stopping it before starting again.`);
  await stopOrphan(pid);
}

async function stopOrphan(pid: number): Promise<void> {
  // SIGINT = fast shutdown: its (orphaned) sessions are ended, the data is checkpointed.
  for (const [signal, waitMs] of [['SIGINT', 30_000], ['SIGQUIT', 10_000]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (!(await processInfo(pid))) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`The Postgres left running by an earlier Chorus (pid ${pid}) does not stop: stop it yourself (kill ${pid}) and start again.`);
}

/**
 * The parent pid and command line of a live process, or undefined when there is none. Throws when it cannot
 * tell (no /proc, no ps): a postmaster.pid is removed only when its process is known not to be our Postgres,
 * since two postmasters on one folder would corrupt it.
 */
async function processInfo(pid: number): Promise<{ ppid: number; args: string } | undefined> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' && process.platform === 'linux' ? '' : undefined));
  if (stat !== undefined) {
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (stat === '' || state === 'Z') return undefined; // gone, or a zombie waiting to be reaped: holds nothing
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    return { ppid: Number(ppid), args };
  }
  const listed = await run('ps', ['-o', 'ppid=,stat=,args=', '-p', String(pid)]).catch((err: Error & { exitCode?: number }) => {
    if (err.exitCode === 1) return undefined; // ps: no such process
    throw new Error(`Cannot tell whether pid ${pid} (in postmaster.pid) is a Postgres: ${err.message}. If no Postgres runs on this folder, remove postmaster.pid and start again.`);
  });
  const m = listed?.out.trim().match(/^(\d+)\s+(\S+)\s+(.*)$/);
  return m && !m[2].startsWith('Z') ? { ppid: Number(m[1]), args: m[3] } : undefined;
}

/**
 * Creates the cluster: initdb into a staging folder renamed into place only when complete, so a start killed
 * mid-initdb leaves no half cluster behind. The superuser password is random and kept in `passwordFile`.
 */
export async function initCluster(binDir: string, pgdata: string, passwordFile: string, user: ServerUser | undefined, log: EmbeddedLog): Promise<void> {
  const staging = `${pgdata}.initdb`;
  await rm(staging, { recursive: true, force: true }); // only ever ours: a half-made cluster of a killed start
  await mkdir(staging, { mode: 0o700 });
  const secrets = await mkdtemp(join(tmpdir(), 'chorus-initdb-'));
  try {
    const password = randomBytes(24).toString('base64url');
    const pwfile = join(secrets, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) await Promise.all([staging, secrets, pwfile].map((path) => chown(path, user.uid, user.gid)));
    const args = ['-D', staging, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale', '--no-instructions'];
    const { out } = await run(join(binDir, 'initdb'), args, user).catch((err: Error) => {
      throw new Error(`initdb failed: ${err.message}${user ? rootHint(pgdata) : ''}`);
    });
    for (const line of out.split('\n').filter(Boolean)) log('debug', line);
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    await rename(staging, pgdata);
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
}

export function rootHint(pgdata: string): string {
  return ` (Chorus runs as root, so Postgres runs as the OS user "postgres": that user must be able to enter every folder above ${pgdata}; use a --data-dir it can reach, or run as a normal user)`;
}

/** Runs a short command to completion: its stdout, or an error carrying its stderr. */
function run(command: string, args: readonly string[], user?: ServerUser): Promise<{ out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ? { uid: user.uid, gid: user.gid } : {}) });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve({ out });
      else reject(Object.assign(new Error(`${command} exited ${code}: ${err.trim() || out.trim()}`), { exitCode: code }));
    });
  });
}
