import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseEnvFile } from '../../../scripts/cluster/env-files';
import { effectiveValue, healthRoutes, MIGRATING_ROLES, roleOfCommand, type ServiceRole } from './chorus-app';
import { envProblems, type ResolvedVariable } from './env-check';

// docker-compose.yml checked against the apps without Docker (no engine here): the same env cross-check as
// the manifests, health check paths and ports, stop grace vs SHUTDOWN_GRACE_MS, and start-up ordering.

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: string | (string | { path: string })[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  restart?: string;
  stop_grace_period?: string;
  volumes?: (string | { source?: string })[];
  profiles?: string[];
  ports?: (string | number)[];
}
export interface ComposeFile {
  services?: Record<string, ComposeService>;
}

export function loadCompose(path: string): ComposeFile {
  // merge: compose files share blocks with YAML anchors and `<<` merge keys.
  return parse(readFileSync(path, 'utf8'), { merge: true }) as ComposeFile;
}

/** `${NAME:-default}` / `${NAME-default}` resolve to the default (what `docker compose up` does with NAME unset). */
function interpolate(value: string): string | undefined {
  let unresolved = false;
  const out = value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, def: string | undefined) => {
    if (def === undefined) unresolved = true;
    return def ?? '';
  });
  return unresolved ? undefined : out;
}

/** "15s", "1m30s", "500ms" → seconds; Docker's default is 10 s. */
function durationSeconds(text: string | undefined): number {
  if (text === undefined) return 10;
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g)) total += Number(n) * units[unit];
  return total;
}

const argv = (cmd: ComposeService['command']) => (Array.isArray(cmd) ? cmd : (cmd ?? '').split(/\s+/).filter(Boolean));
function dependencies(s: ComposeService): Map<string, string> {
  const d = s.depends_on;
  if (Array.isArray(d)) return new Map(d.map((n) => [n, 'service_started']));
  return new Map(Object.entries(d ?? {}).map(([n, v]) => [n, v?.condition ?? 'service_started']));
}

export function validateCompose(compose: ComposeFile, root: string): string[] {
  const problems: string[] = [];
  const routes = healthRoutes();
  // The topology is what `docker compose up` starts: services in a profile start only when it is named.
  const services = Object.fromEntries(Object.entries(compose.services ?? {}).filter(([, s]) => !s.profiles?.length));
  const runs = new Map<string, { role: ServiceRole; migrate: boolean }>();
  for (const [name, s] of Object.entries(services)) {
    const run = roleOfCommand(argv(s.command));
    if (run) runs.set(name, run);
    else if (s.image?.startsWith('chorus') || s.build) problems.push(`service ${name}: builds the Chorus image but runs no Chorus app`);
  }
  const migrators = (role: ServiceRole) => [...runs].filter(([, r]) => r.migrate && r.role === role).map(([n]) => n);
  const withImage = (re: RegExp) => Object.entries(services).filter(([, s]) => re.test(s.image ?? '')).map(([n]) => n);
  const postgres = withImage(/^postgres:/);
  const redis = withImage(/^redis:/);
  for (const [what, names] of [['postgres', postgres], ['redis', redis]] as const) {
    if (names.length !== 1) problems.push(`expected one ${what} service, found ${names.length}`);
    for (const n of names) if (!services[n].healthcheck?.test) problems.push(`service ${n}: needs a healthcheck (others wait for service_healthy)`);
  }

  for (const [name, run] of runs) {
    const s = services[name];
    const where = `service ${name}`;
    // env_file first, `environment` overrides it (compose's precedence).
    const env = new Map<string, ResolvedVariable>();
    const files = typeof s.env_file === 'string' ? [s.env_file] : (s.env_file ?? []);
    for (const f of files.map((f) => (typeof f === 'string' ? f : f.path))) {
      if (!existsSync(join(root, f))) {
        problems.push(`${where}: env_file ${f} does not exist`);
        continue;
      }
      for (const [k, v] of parseEnvFile(readFileSync(join(root, f), 'utf8'))) env.set(k, { value: v, from: f });
    }
    const entries = Array.isArray(s.environment)
      ? s.environment.map((e) => [e.split('=')[0], e.includes('=') ? e.slice(e.indexOf('=') + 1) : null] as const)
      : Object.entries(s.environment ?? {});
    for (const [k, v] of entries) env.set(k, { value: v === null ? undefined : interpolate(String(v)), from: 'environment' });
    problems.push(...envProblems(where, run.role, env));

    const deps = dependencies(s);
    const need = (dep: string | undefined, condition: string, why: string) => {
      if (dep === undefined) return;
      if (!services[dep]) problems.push(`${where}: depends on ${dep}, which does not exist`);
      else if (deps.get(dep) !== condition) problems.push(`${where}: must depend on ${dep} with condition ${condition} (${why})`);
    };
    if (run.migrate) {
      if (s.restart !== undefined && s.restart !== 'no' && s.restart !== 'on-failure') problems.push(`${where}: a one-shot must not restart (restart: "no")`);
      need(postgres[0], 'service_healthy', 'migrations need Postgres');
      const i = MIGRATING_ROLES.indexOf(run.role);
      if (i > 0) for (const prev of migrators(MIGRATING_ROLES[i - 1])) need(prev, 'service_completed_successfully', 'migrations run in order');
      continue;
    }
    need(redis[0], 'service_healthy', 'every app needs Redis');
    if (MIGRATING_ROLES.includes(run.role)) {
      const m = migrators(run.role);
      if (m.length !== 1) problems.push(`${where}: expected one service running ${run.role} migrate, found ${m.length}`);
      for (const dep of m) need(dep, 'service_completed_successfully', 'its tables must exist first');
    }
    const port = effectiveValue(run.role, 'PORT', env.get('PORT')?.value) as number;
    const test = argv(s.healthcheck?.test).join(' ');
    const url = test.match(/https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/[^'"\s)]*)/);
    if (!url) problems.push(`${where}: needs a healthcheck fetching ${routes.ready}`);
    else {
      if (!routes.all.includes(url[2])) problems.push(`${where}: healthcheck path ${url[2]} is not served (routes: ${routes.all.join(', ')})`);
      if (Number(url[1]) !== port) problems.push(`${where}: healthcheck port ${url[1]}, the app listens on ${port}`);
    }
    const graceS = (effectiveValue(run.role, 'SHUTDOWN_GRACE_MS', env.get('SHUTDOWN_GRACE_MS')?.value) as number) / 1000;
    const stopS = durationSeconds(s.stop_grace_period);
    if (!(stopS > graceS)) problems.push(`${where}: stop_grace_period ${stopS} s must exceed SHUTDOWN_GRACE_MS ${graceS} s`);
  }

  // The edge: at least two gateways behind a load balancer that waits for them and routes to each.
  const gateways = [...runs].filter(([, r]) => r.role === 'gateway' && !r.migrate).map(([n]) => n);
  if (gateways.length < 2) problems.push(`expected at least two gateway services, found ${gateways.length}`);
  const lbs = Object.entries(services).filter(([n]) => !runs.has(n) && gateways.some((g) => dependencies(services[n]).has(g)));
  if (lbs.length !== 1) problems.push(`expected one load balancer in front of the gateways, found ${lbs.length}`);
  for (const [name, lb] of lbs) {
    const config = (lb.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : (v.source ?? ''))).find((v) => v.startsWith('./'));
    const text = config && existsSync(join(root, config)) ? readFileSync(join(root, config), 'utf8') : undefined;
    if (!text) problems.push(`service ${name}: no load balancer config file mounted from the repository`);
    for (const g of gateways) {
      if (dependencies(lb).get(g) !== 'service_healthy') problems.push(`service ${name}: must depend on ${g} with condition service_healthy`);
      if (text && !new RegExp(`\\b${g}:\\d+`).test(text)) problems.push(`service ${name}: ${config} does not route to ${g}`);
    }
    if (text && !/Upgrade \$http_upgrade/.test(text)) problems.push(`service ${name}: ${config} does not pass WebSocket upgrades`);
  }
  return problems;
}
