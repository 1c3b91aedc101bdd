import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { IIoK8sApiCoreV1Container as Container } from 'kubernetes-models/v1/Container';
import type { IIoK8sApiCoreV1PodTemplateSpec as PodTemplate } from 'kubernetes-models/v1/PodTemplateSpec';
import { healthRoutes } from './chorus-app';

// The checks of what surrounds the apps: routes (Ingress, HTTPRoute), NetworkPolicy, ServiceAccounts,
// monitoring (ServiceMonitor, PrometheusRule) and autoscalers that are not HPAs (KEDA). Called by
// validateManifests on a whole render; returns problems, never throws.

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

/** Custom resources, validated by their @kubernetes-models package in a child process (ESM-only packages). */
export const CRD_KINDS = ['gateway.networking.k8s.io/v1/HTTPRoute', 'monitoring.coreos.com/v1/ServiceMonitor', 'monitoring.coreos.com/v1/PrometheusRule', 'keda.sh/v1alpha1/ScaledObject'];

/** The port Prometheus scrapes (ADMIN_PORT in every app container), by name and number. */
export const METRICS_PORT = { name: 'metrics', number: 9464 };
/** The alerts the issue asks for; each must exist with a severity, a summary and a `for`. */
export const REQUIRED_ALERTS = ['ChorusDeadLettersGrowing', 'ChorusReadinessFlapping', 'ChorusAckLatencyHigh', 'ChorusSocketErrorRateHigh'];
/** Paths a client must reach, and paths no public route may reach. */
export const PUBLIC_PATHS = ['/api/v1/collaboration/sessions', '/socket.io/', '/ws'];
export const PRIVATE_PATHS = () => ['/metrics', ...healthRoutes().all];

const idOf = (o: K8sObject) => `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;

export function crdSchemaProblems(objects: readonly K8sObject[]): string[] {
  if (objects.length === 0) return [];
  const out = execFileSync(process.execPath, [join(__dirname, 'crd-validate.mjs')], { input: JSON.stringify(objects), encoding: 'utf8', timeout: 60_000 });
  const verdicts = JSON.parse(out) as (string | null)[];
  return objects.flatMap((o, i) => (verdicts[i] ? [`${idOf(o)}: schema: ${verdicts[i]}`] : []));
}

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Label selector semantics (matchLabels and In/NotIn/Exists/DoesNotExist); `{}` selects everything. */
export function selectsPod(selector: Selector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => {
    const v = labels[e.key];
    if (e.operator === 'In') return v !== undefined && (e.values ?? []).includes(v);
    if (e.operator === 'NotIn') return v === undefined || !(e.values ?? []).includes(v);
    if (e.operator === 'Exists') return v !== undefined;
    if (e.operator === 'DoesNotExist') return v === undefined;
    return false;
  });
  return byLabels && byExpressions;
}

/** Whether a route's path match would send this request path to its backend. */
function pathMatches(type: string | undefined, value: string | undefined, path: string): boolean | 'unknown' {
  const v = value ?? '/';
  if (type === 'Exact') return path === v;
  if (type === 'PathPrefix' || type === 'Prefix' || type === undefined) {
    // Element-wise prefix (both APIs): /api matches /api and /api/x, not /apix; a trailing slash is ignored.
    const prefix = v.replace(/\/+$/, '');
    return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
  }
  return 'unknown'; // RegularExpression, ImplementationSpecific: cannot be judged offline
}

interface Backend {
  service: string;
  port?: number | string;
}
export interface RouteRule {
  route: K8sObject;
  matches: { type?: string; value?: string }[];
  backends: Backend[];
  /** HTTPRoute: timeouts.request; Ingress: the proxy-read-timeout annotation, as a duration string. */
  timeout?: string;
}

function routeRules(all: readonly K8sObject[]): RouteRule[] {
  const rules: RouteRule[] = [];
  for (const r of all.filter((o) => o.kind === 'HTTPRoute')) {
    for (const rule of (r.spec?.rules as { matches?: { path?: { type?: string; value?: string } }[]; backendRefs?: { kind?: string; name: string; port?: number }[]; timeouts?: { request?: string } }[]) ?? []) {
      rules.push({
        route: r,
        matches: (rule.matches ?? [{}]).map((m) => ({ type: m.path?.type ?? 'PathPrefix', value: m.path?.value ?? '/' })),
        backends: (rule.backendRefs ?? []).map((b) => ({ service: b.kind && b.kind !== 'Service' ? `${b.kind}:${b.name}` : b.name, port: b.port })),
        timeout: rule.timeouts?.request,
      });
    }
  }
  for (const ing of all.filter((o) => o.kind === 'Ingress')) {
    const readTimeout = ing.metadata?.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout'];
    const spec = ing.spec as { defaultBackend?: { service?: { name: string; port?: { name?: string; number?: number } } }; rules?: { http?: { paths: { path?: string; pathType?: string; backend: { service?: { name: string; port?: { name?: string; number?: number } } } }[] } }[] };
    const toBackend = (s?: { name: string; port?: { name?: string; number?: number } }): Backend[] => (s ? [{ service: s.name, port: s.port?.name ?? s.port?.number }] : []);
    if (spec?.defaultBackend) rules.push({ route: ing, matches: [{ type: 'Prefix', value: '/' }], backends: toBackend(spec.defaultBackend.service) });
    for (const p of (spec?.rules ?? []).flatMap((r) => r.http?.paths ?? [])) {
      rules.push({ route: ing, matches: [{ type: p.pathType === 'Exact' ? 'Exact' : p.pathType === 'Prefix' ? 'Prefix' : p.pathType, value: p.path }], backends: toBackend(p.backend.service), timeout: readTimeout && `${readTimeout}s` });
    }
  }
  return rules;
}

const seconds = (d?: string) => {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d ?? '');
  return m ? (Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h']) : undefined;
};

/** The rules of the rendered routes that would send `path` to a backend. */
export function rulesReaching(rules: readonly RouteRule[], path: string): RouteRule[] {
  return rules.filter((r) => r.backends.length > 0 && r.matches.some((m) => pathMatches(m.type, m.value, path) === true));
}

/** Every rule of every HTTPRoute and Ingress in a render (for tests that read the routes). */
export function renderedRouteRules(all: readonly K8sObject[]): RouteRule[] {
  return routeRules(all);
}

export interface Workload {
  obj: K8sObject;
  pod: PodTemplate | undefined;
  /** gateway, session, … or migrate; undefined for pods that are not Chorus's. */
  component?: string;
}

export function edgeProblems(all: readonly K8sObject[], workloads: readonly Workload[]): string[] {
  const problems: string[] = [];
  const ofKind = (kind: string) => all.filter((o) => o.kind === kind);
  const services = ofKind('Service');
  const chorus = workloads.filter((w) => w.component !== undefined);
  const gatewayPods = chorus.filter((w) => w.component === 'gateway');
  const containerPorts = (w: Workload) => (w.pod?.spec?.containers ?? []).flatMap((c: Container) => c.ports ?? []);

  // Routes: the public paths reach the gateway's HTTP port; health and metrics reach nothing.
  const rules = routeRules(all);
  if (rules.length === 0) problems.push('no HTTPRoute or Ingress routes clients to the gateway');
  const backendPort = (b: Backend) => {
    const svc = services.find((s) => s.metadata?.name === b.service);
    const port = ((svc?.spec?.ports as { name?: string; port: number; targetPort?: number | string }[] | undefined) ?? []).find((p) => p.name === b.port || p.port === b.port);
    return { svc, port };
  };
  for (const rule of rules) {
    for (const b of rule.backends) {
      const { svc, port } = backendPort(b);
      if (!svc) problems.push(`${idOf(rule.route)}: backend Service ${b.service} does not exist`);
      else if (!port) problems.push(`${idOf(rule.route)}: Service ${b.service} has no port ${b.port}`);
      else if (!gatewayPods.some((g) => selectsPod({ matchLabels: svc.spec?.selector as Record<string, string> }, g.pod?.metadata?.labels))) problems.push(`${idOf(rule.route)}: backend Service ${b.service} does not select the gateway`);
      else {
        const target = port.targetPort ?? port.port;
        const cp = gatewayPods.flatMap(containerPorts).find((p) => p.name === target || p.containerPort === target);
        if (cp?.name === METRICS_PORT.name || cp?.containerPort === METRICS_PORT.number) problems.push(`${idOf(rule.route)}: routes to the gateway's metrics port: /metrics would be public`);
      }
    }
    for (const m of rule.matches) {
      if (pathMatches(m.type, m.value, '/') === 'unknown') problems.push(`${idOf(rule.route)}: path match ${m.type} ${m.value} cannot be checked offline (use Exact or PathPrefix)`);
    }
  }
  const reaches = (path: string) => rulesReaching(rules, path);
  for (const path of PRIVATE_PATHS()) {
    for (const r of reaches(path)) problems.push(`${idOf(r.route)}: routes ${path} to the public (must not be reachable from outside)`);
  }
  for (const path of PUBLIC_PATHS) {
    const found = reaches(path);
    if (rules.length > 0 && found.length === 0) problems.push(`no route reaches ${path}, which clients need`);
    for (const r of path === PUBLIC_PATHS[0] ? [] : found) {
      const s = r.timeout === undefined ? undefined : seconds(r.timeout);
      if (s === undefined || (s !== 0 && s < 3600)) problems.push(`${idOf(r.route)}: ${path} carries sockets, its request timeout must be 0s (none) or at least 3600s, is ${r.timeout ?? 'unset (the implementation default cuts sockets)'}`);
    }
  }

  // ServiceAccounts: one per app, existing, with no token mounted.
  const accounts = new Map(ofKind('ServiceAccount').map((s) => [s.metadata?.name ?? '', s as K8sObject & { automountServiceAccountToken?: boolean }]));
  const owners = new Map<string, string>();
  for (const w of chorus) {
    const name = w.pod?.spec?.serviceAccountName;
    if (!name) {
      problems.push(`${idOf(w.obj)}: no serviceAccountName (each app gets its own ServiceAccount)`);
      continue;
    }
    if (!accounts.has(name)) problems.push(`${idOf(w.obj)}: ServiceAccount ${name} is not in the render`);
    else if (accounts.get(name)?.automountServiceAccountToken !== false) problems.push(`ServiceAccount/${name}: must set automountServiceAccountToken: false (no app talks to the Kubernetes API)`);
    const owner = owners.get(name);
    if (owner && owner !== w.component) problems.push(`${idOf(w.obj)}: shares ServiceAccount ${name} with ${owner}`);
    owners.set(name, w.component as string);
  }

  // NetworkPolicy: default deny, then exactly what each app needs.
  const policies = ofKind('NetworkPolicy') as (K8sObject & { spec: { podSelector?: Selector; policyTypes?: string[]; ingress?: { from?: unknown[]; ports?: { port?: number | string; protocol?: string }[] }[]; egress?: { to?: unknown[]; ports?: { port?: number | string; protocol?: string }[] }[] } })[];
  const denyAll = policies.some((p) => Object.keys(p.spec.podSelector ?? {}).length === 0 && ['Ingress', 'Egress'].every((t) => p.spec.policyTypes?.includes(t)) && !p.spec.ingress?.length && !p.spec.egress?.length);
  if (!denyAll) problems.push('no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)');
  const allowed = (w: Workload, direction: 'ingress' | 'egress') => {
    const ports = new Set<string>();
    for (const p of policies.filter((x) => selectsPod(x.spec.podSelector, w.pod?.metadata?.labels))) {
      for (const rule of p.spec[direction] ?? []) {
        for (const port of rule.ports ?? [{ port: '*' }]) {
          const number = typeof port.port === 'string' && port.port !== '*' ? containerPorts(w).find((c) => c.name === port.port)?.containerPort : port.port;
          ports.add(`${port.protocol ?? 'TCP'}/${number}`);
          if (port.port === METRICS_PORT.name) ports.add('metrics');
        }
      }
    }
    return ports;
  };
  for (const w of chorus) {
    const egress = allowed(w, 'egress');
    const ingress = allowed(w, 'ingress');
    // A gateway uses Postgres only for the file sync cache (FILE_CACHE_DATABASE_URL, docs/file-sync.md).
    const usesPostgres = ['session', 'conflict', 'migrate'].includes(w.component ?? '') || (w.component === 'gateway' && ((w.pod?.spec?.containers ?? []) as Container[]).some((c) => c.env?.some((e) => e.name === 'FILE_CACHE_DATABASE_URL')));
    const needs = ['UDP/53', ...(w.component === 'migrate' ? [] : ['TCP/6379']), ...(usesPostgres ? ['TCP/5432'] : [])];
    for (const n of needs) if (!egress.has(n) && !egress.has('TCP/*')) problems.push(`${idOf(w.obj)}: NetworkPolicy allows no egress to ${n}, which it needs`);
    if (!usesPostgres && egress.has('TCP/5432')) problems.push(`${idOf(w.obj)}: may reach Postgres (TCP/5432), which it never uses`);
    if (w.component === 'migrate') continue;
    if (!containerPorts(w).some((p) => p.name === METRICS_PORT.name && p.containerPort === METRICS_PORT.number)) problems.push(`${idOf(w.obj)}: no container port ${METRICS_PORT.name} ${METRICS_PORT.number} for Prometheus`);
    if (!ingress.has(`TCP/${METRICS_PORT.number}`)) problems.push(`${idOf(w.obj)}: NetworkPolicy admits no scrape of port ${METRICS_PORT.number}`);
    // The app serves /metrics and /health/* on ADMIN_PORT only (the http port answers them 404): the container
    // must set it to the metrics port (k8s-validate.ts checks the probes go there).
    for (const c of (w.pod?.spec?.containers ?? []) as Container[]) {
      const admin = c.env?.find((e) => e.name === 'ADMIN_PORT')?.value;
      if (admin !== String(METRICS_PORT.number)) problems.push(`${idOf(w.obj)}: container ${c.name} sets ADMIN_PORT=${admin ?? '(unset)'}, not ${METRICS_PORT.number}: /metrics would be served on the public port and nothing on the scraped one`);
    }
    const http = containerPorts(w).find((p) => p.name === 'http')?.containerPort;
    if (w.component === 'gateway' && !ingress.has(`TCP/${http}`)) problems.push(`${idOf(w.obj)}: NetworkPolicy admits no client traffic to port ${http}`);
  }

  // ServiceMonitor: every app's Service has the metrics port and is selected.
  const monitors = ofKind('ServiceMonitor');
  if (monitors.length === 0) problems.push('no ServiceMonitor: nothing scrapes /metrics');
  for (const w of chorus.filter((x) => x.component !== 'migrate')) {
    const scraped = monitors.some((m) => {
      const endpoints = (m.spec?.endpoints as { port?: string }[] | undefined) ?? [];
      return services.some((s) => {
        if (!selectsPod(m.spec?.selector as Selector, s.metadata?.labels)) return false;
        if (!selectsPod({ matchLabels: s.spec?.selector as Record<string, string> }, w.pod?.metadata?.labels)) return false;
        const ports = (s.spec?.ports as { name?: string; targetPort?: string | number }[] | undefined) ?? [];
        return endpoints.some((e) => ports.some((p) => p.name === e.port && (p.targetPort === METRICS_PORT.name || p.targetPort === METRICS_PORT.number)));
      });
    });
    if (monitors.length > 0 && !scraped) problems.push(`${idOf(w.obj)}: no ServiceMonitor scrapes its metrics port`);
  }

  // PrometheusRule: the alerts asked for, well formed.
  const alerts = ofKind('PrometheusRule').flatMap((r) => ((r.spec?.groups as { rules?: { alert?: string; expr?: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[] | undefined) ?? []).flatMap((g) => g.rules ?? []));
  for (const name of REQUIRED_ALERTS) {
    const a = alerts.find((x) => x.alert === name);
    if (!a) problems.push(`PrometheusRule: alert ${name} is missing`);
    else if (!a.for || !a.labels?.severity || !a.annotations?.summary) problems.push(`PrometheusRule: alert ${name} needs for, labels.severity and annotations.summary`);
  }

  // Hard topology spreads count only nodes the pod can run on.
  for (const w of chorus) {
    for (const c of w.pod?.spec?.topologySpreadConstraints ?? []) {
      if (c.whenUnsatisfiable === 'DoNotSchedule' && c.nodeTaintsPolicy !== 'Honor') problems.push(`${idOf(w.obj)}: the hard spread over ${c.topologyKey} must set nodeTaintsPolicy: Honor (tainted nodes would block scheduling)`);
    }
  }
  return problems;
}
