import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { VARIABLES, type AppRole, type VariableName } from '@chorus/config';
import type { AppRoleName } from './children';
import { generatedData, REPO_ROOT } from './env-files';

/** What `npm run cluster:local` reads from its own environment (documented in docs/deploy.md). */
export interface ClusterOptions {
  /** Proxy port; the apps take the next ones. 0: every port picked free by the OS (tests). */
  readonly basePort: number;
  readonly replicas: number;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly fromDist: boolean;
  readonly readyTimeoutMs: number;
}

export function clusterOptions(env: NodeJS.ProcessEnv): ClusterOptions {
  const int = (name: string, fallback: number, min: number) => {
    const n = Number(env[name] ?? fallback);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${env[name]}"`);
    return n;
  };
  return {
    basePort: int('CLUSTER_BASE_PORT', 8080, 0),
    replicas: int('CLUSTER_REPLICAS', 2, 1),
    databaseUrl: env.CLUSTER_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/chorus_cluster',
    redisUrl: env.CLUSTER_REDIS_URL ?? 'redis://127.0.0.1:6379',
    fromDist: /^(1|true|yes)$/i.test(env.CLUSTER_FROM_DIST ?? ''),
    readyTimeoutMs: int('CLUSTER_READY_TIMEOUT_S', 120, 1) * 1000,
  };
}

/** The order matches the manifests: the edge first, then the services (and the order they stop in). */
export const ROLES: readonly AppRoleName[] = ['gateway', 'session', 'presence', 'conflict'];

export interface PlannedApp {
  readonly name: string;
  readonly role: AppRoleName;
  readonly port: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Names like the pods': gateway-1, gateway-2, session-1… Ports from basePort + 1, or free ones when 0. */
export async function planApps(options: ClusterOptions): Promise<{ proxyPort: number; apps: PlannedApp[] }> {
  let nextPort = options.basePort;
  const port = async () => (options.basePort === 0 ? freePort() : nextPort++);
  const proxyPort = await port();
  const apps: PlannedApp[] = [];
  for (const role of ROLES) for (let i = 1; i <= options.replicas; i++) apps.push({ name: `${role}-${i}`, role, port: await port() });
  return { proxyPort, apps };
}

/** Variables the cluster decides itself: never taken from the overlay or the caller's environment. */
const OWNED = new Set(['PORT', 'NODE_ID', 'DATABASE_URL', 'FILE_CACHE_DATABASE_URL', 'REDIS_URL']);

/**
 * The environment of one app: the dev overlay's ConfigMaps and Secret (k8s/overlays/dev, read from its
 * files: the same values as the manifests), then any Chorus variable set in our own environment (e.g.
 * LOG_FORMAT=text, REDIS_PREFIX=…), then this process's own PORT/NODE_ID/URLs; filtered to what the role
 * reads, exactly as the manifests give each app only its own variables.
 */
export function appEnv(role: AppRoleName, own: Record<string, string>, callerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const data of generatedData(join(REPO_ROOT, 'k8s', 'overlays', 'dev')).values()) Object.assign(merged, Object.fromEntries(data));
  merged.HOST = '127.0.0.1'; // the manifests' 0.0.0.0 is for a pod network; locally, stay off the LAN
  for (const name of Object.keys(VARIABLES)) {
    const value = callerEnv[name];
    if (value !== undefined && !OWNED.has(name)) merged[name] = value;
  }
  Object.assign(merged, own);
  const reads = (name: string) => name in VARIABLES && (VARIABLES[name as VariableName].roles as readonly AppRole[]).includes(role);
  return Object.fromEntries(Object.entries(merged).filter(([name]) => reads(name)));
}

/** Creates the cluster's database if missing (connecting to the server's `postgres` database to do it). */
export async function ensureDatabase(databaseUrl: string): Promise<'created' | 'exists'> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z0-9_]{1,63}$/.test(name)) throw new Error(`database name "${name}" must be 1-63 letters, digits or _`);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return 'exists';
    await admin.query(`CREATE DATABASE "${name}"`);
    return 'created';
  } finally {
    await admin.end();
  }
}
