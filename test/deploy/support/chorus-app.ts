import 'reflect-metadata';
import { PATH_METADATA } from '@nestjs/common/constants';
import { loadMigrationConfig, VARIABLES, type AppRole, type VariableName } from '@chorus/config';
import { HealthController } from '@chorus/runtime';

// What the deployment files must agree with, read from the code at test time (never a copied list):
// the variables each role reads, which are required, how each value parses, and the health routes.

export type ServiceRole = Exclude<AppRole, 'standalone'>;
export const SERVICE_ROLES: readonly ServiceRole[] = ['gateway', 'session', 'presence', 'conflict'];
/** Apps that own tables and accept `migrate`. */
export const MIGRATING_ROLES: readonly ServiceRole[] = ['session', 'conflict'];

/** The app a container runs, from its command line: `node dist/apps/<role>/src/main.js [migrate]`. */
export function roleOfCommand(argv: readonly string[]): { role: ServiceRole; migrate: boolean } | undefined {
  const i = argv.findIndex((a) => /^(\.\/|\/app\/)?dist\/apps\/[a-z]+\/src\/main\.js$/.test(a));
  if (i < 0) return undefined;
  const role = argv[i].match(/apps\/([a-z]+)\//)?.[1] as ServiceRole;
  if (!SERVICE_ROLES.includes(role)) return undefined;
  const rest = argv.slice(i + 1);
  return { role, migrate: rest.length === 1 && rest[0] === 'migrate' };
}

const names = () => Object.keys(VARIABLES) as VariableName[];

export function readsVariable(role: ServiceRole, name: string): boolean {
  return name in VARIABLES && (VARIABLES[name as VariableName].roles as readonly AppRole[]).includes(role);
}

/** Variables the role cannot start without: those whose parser rejects "unset". */
export function requiredVariables(role: ServiceRole): VariableName[] {
  return names().filter((n) => readsVariable(role, n) && 'problem' in VARIABLES[n].parse(undefined, role));
}

/** The app's own verdict on a value, or undefined when it accepts it. */
export function valueProblem(role: ServiceRole, name: VariableName, raw: string): string | undefined {
  const parsed = VARIABLES[name].parse(raw, role);
  return 'problem' in parsed ? parsed.problem : undefined;
}

/** The value the app ends up with (its default when unset), e.g. SHUTDOWN_GRACE_MS or PORT. */
export function effectiveValue(role: ServiceRole, name: VariableName, raw: string | undefined): unknown {
  const parsed = VARIABLES[name].parse(raw, role);
  return 'value' in parsed ? parsed.value : undefined;
}

/** The health routes as Nest registers them: {live: '/health/live', ready: '/health/ready'}. */
export function healthRoutes(): { live: string; ready: string; all: string[] } {
  const base = String(Reflect.getMetadata(PATH_METADATA, HealthController) ?? '');
  const routes: Record<string, string> = {};
  const proto = HealthController.prototype as unknown as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(proto)) {
    const handler = proto[key];
    if (key === 'constructor' || typeof handler !== 'function') continue;
    const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
    if (path !== undefined) routes[key] = `/${[base, path].filter(Boolean).join('/')}`.replace(/\/+/g, '/');
  }
  if (!routes.live || !routes.ready) throw new Error(`HealthController lost its live/ready handlers: ${JSON.stringify(routes)}`);
  return { live: routes.live, ready: routes.ready, all: Object.values(routes) };
}

/**
 * The variables `node main.js migrate` reads, observed by running the app's own loader on an env that records
 * every read: a migration Job given anything else receives something it does not need (a secret, say).
 */
export function migrationVariables(): { reads: string[]; required: string[] } {
  const seen = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, key) {
      if (typeof key === 'string') seen.add(key);
      return key === 'DATABASE_URL' ? 'postgres://probe@localhost:5432/probe' : undefined;
    },
  });
  for (const role of MIGRATING_ROLES) loadMigrationConfig(role as 'session' | 'conflict', env);
  const reads = [...seen].filter((k) => k in VARIABLES);
  const required = reads.filter((n) => MIGRATING_ROLES.some((role) => 'problem' in VARIABLES[n as VariableName].parse(undefined, role)));
  return { reads, required };
}
