// `npm run cluster:local`: the topology of the Kubernetes manifests as local processes, for trying and
// debugging the distributed setup without a cluster. A round-robin proxy (the Service/Ingress) in front of
// N gateways, N replicas of session, presence and conflict, migrations once before them, all against the
// local Postgres and Redis with the dev overlay's configuration. Options (docs/deploy.md):
//   CLUSTER_BASE_PORT=8080  proxy port; apps on the next ports (0: free ports)   CLUSTER_REPLICAS=2
//   CLUSTER_DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_cluster (created if missing)
//   CLUSTER_REDIS_URL=redis://127.0.0.1:6379   CLUSTER_FROM_DIST=1 (run dist/ after npm run build)
//   CLUSTER_READY_TIMEOUT_S=120                any Chorus variable, e.g. LOG_FORMAT=text REDIS_PREFIX=mine
// Ctrl-C (or SIGTERM) stops everything: gateways first, then the services; exit 0 only if every app exited 0.
// SIGUSR2 prints the status table again.
import { appCommand, startApp, stopApp, type AppProcess } from './cluster/children';
import { RoundRobinProxy } from './cluster/proxy';
import { appEnv, clusterOptions, ensureDatabase, planApps, ROLES, type ClusterOptions } from './cluster/topology';

const HEALTH_READY = '/health/ready'; // libs/runtime/src/health.ts; the manifests' readinessProbe path
const log = (message: string) => process.stdout.write(`${'cluster-local'.padEnd(16)} | ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function isReady(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${HEALTH_READY}`, { signal: AbortSignal.timeout(3_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

class Cluster {
  readonly apps: AppProcess[] = [];
  /** The migration runs: stopped and killed like the apps if a signal arrives meanwhile. */
  readonly oneShots: AppProcess[] = [];
  proxy: RoundRobinProxy | undefined;
  proxyPort = 0;
  stopping = false;

  constructor(readonly options: ClusterOptions) {}

  /** Each app's own drain budget (SHUTDOWN_GRACE_MS) plus a margin before SIGKILL, like terminationGracePeriodSeconds. */
  private killAfterMs(p: AppProcess): number {
    return Number(appEnv(p.role, {}, process.env).SHUTDOWN_GRACE_MS ?? 10_000) + 5_000;
  }

  async start(): Promise<void> {
    const { options } = this;
    log(`database ${new URL(options.databaseUrl).pathname.slice(1)}: ${await ensureDatabase(options.databaseUrl)}`);
    // Migrations once, before any replica starts (the Job / the compose one-shots): session's, then conflict's.
    for (const role of ['session', 'conflict'] as const) {
      const env = appEnv(role, { NODE_ID: `migrate-${role}`, DATABASE_URL: options.databaseUrl, REDIS_URL: options.redisUrl }, process.env);
      const migrate = startApp(`migrate-${role}`, role, undefined, [...appCommand(role, options.fromDist), 'migrate'], env);
      this.oneShots.push(migrate);
      const code = await migrate.exited;
      if (code !== 0) throw new Error(`${role} migrations failed (exit ${code})`);
    }
    const plan = await planApps(options);
    for (const app of plan.apps) {
      if (this.stopping) return;
      // FILE_CACHE_DATABASE_URL: the gateways' file sync cache in the session database, as the manifests give it.
      const env = appEnv(app.role, { PORT: String(app.port), NODE_ID: app.name, DATABASE_URL: options.databaseUrl, FILE_CACHE_DATABASE_URL: options.databaseUrl, REDIS_URL: options.redisUrl, PUBLIC_URL: `http://127.0.0.1:${plan.proxyPort}` }, process.env);
      const proc = startApp(app.name, app.role, app.port, appCommand(app.role, options.fromDist), env);
      void proc.exited.then((code) => {
        if (!this.stopping) {
          log(`${app.name} exited with code ${code} while the cluster was running`);
          this.printStatus();
        }
      });
      this.apps.push(proc);
    }
    const gateways = this.apps.filter((a) => a.role === 'gateway');
    this.proxy = new RoundRobinProxy(gateways.map((g) => ({ name: g.name, host: '127.0.0.1', port: g.port ?? 0 })));
    this.proxyPort = await this.proxy.listen(plan.proxyPort, '127.0.0.1');
    await this.waitReady();
  }

  private async waitReady(): Promise<void> {
    const started = Date.now();
    const deadline = Date.now() + this.options.readyTimeoutMs;
    while (!this.stopping) {
      const dead = this.apps.find((a) => a.exitCode !== undefined);
      if (dead) throw new Error(`${dead.name} exited with code ${dead.exitCode} before it was ready`);
      await Promise.all(this.apps.filter((a) => !a.ready).map(async (a) => (a.ready = await isReady(a.port ?? 0))));
      if (this.apps.every((a) => a.ready) && (await isReady(this.proxyPort))) {
        this.printStatus();
        log(`all ${this.apps.length} apps ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        log(`Chorus cluster ready at http://127.0.0.1:${this.proxyPort} (round robin over ${this.apps.filter((a) => a.role === 'gateway').map((a) => a.name).join(', ')}); Ctrl-C stops it`);
        return;
      }
      if (Date.now() > deadline) throw new Error(`not ready after ${this.options.readyTimeoutMs / 1000} s: ${this.apps.filter((a) => !a.ready).map((a) => a.name).join(', ')}`);
      await sleep(500);
    }
  }

  printStatus(): void {
    const rows = [['NAME', 'ROLE', 'PORT', 'PID', 'STATE', 'PROXIED CONNECTIONS']];
    rows.push(['proxy', '-', String(this.proxyPort), String(process.pid), this.stopping ? 'stopped' : 'listening', '-']);
    for (const a of this.apps) {
      const state = a.exitCode !== undefined ? `exited ${a.exitCode}` : a.ready ? 'ready' : 'not ready';
      const conns = a.role === 'gateway' ? String(this.proxy?.connections.get(a.name) ?? 0) : '-';
      rows.push([a.name, a.role, String(a.port ?? '-'), String(a.child.pid ?? '-'), state, conns]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) log(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  }

  /** Stops in the order traffic flows: proxy stops accepting, gateways drain, then the services. */
  async stop(): Promise<number> {
    this.stopping = true;
    const proxyClosed = this.proxy?.close(15_000);
    await Promise.all(this.oneShots.map((m) => stopApp(m, 15_000)));
    for (const roles of [['gateway'], ROLES.filter((r) => r !== 'gateway')]) {
      await Promise.all(this.apps.filter((a) => roles.includes(a.role)).map((a) => stopApp(a, this.killAfterMs(a))));
    }
    await proxyClosed;
    this.printStatus();
    log(`exit codes: ${this.apps.map((a) => `${a.name}=${a.exitCode}`).join(' ')}`);
    log(`proxied connections: ${[...(this.proxy?.connections ?? [])].map(([n, c]) => `${n}=${c}`).join(' ')}`);
    return this.apps.every((a) => a.exitCode === 0) ? 0 : 1;
  }

  /** Last resort (second Ctrl-C, crash): detached children would outlive us otherwise. */
  killAll(): void {
    for (const a of [...this.oneShots, ...this.apps]) if (a.exitCode === undefined) a.child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const cluster = new Cluster(clusterOptions(process.env));
  let stopped: Promise<number> | undefined;
  const shutdown = (signal: string) => {
    if (stopped) {
      log(`second ${signal}: killing every app`);
      cluster.killAll();
      process.exit(1);
    }
    log(`${signal}: stopping (gateways first, then services)`);
    stopped = cluster.stop();
    void stopped.then((code) => process.exit(code));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGUSR2', () => cluster.printStatus());
  process.on('exit', () => cluster.killAll());
  try {
    await cluster.start();
  } catch (err) {
    if (stopped) return; // a signal during start-up: stop() is already under way
    log(`start-up failed: ${(err as Error).message}`);
    stopped = cluster.stop();
    await stopped;
    process.exit(1);
  }
}

void main();
