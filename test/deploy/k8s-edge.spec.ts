import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnvFile } from '../../scripts/cluster/env-files';
import { healthRoutes } from './support/chorus-app';
import { PUBLIC_PATHS, renderedRouteRules, rulesReaching, type K8sObject } from './support/k8s-edge-checks';
import { validateManifests, type ManifestOptions } from './support/k8s-validate';
import { packageVersion, renderOverlay, ROOT } from './support/render';

// What surrounds the apps in the rendered overlays: routes (HTTPRoute, Ingress), NetworkPolicy, ServiceAccounts,
// ServiceMonitor/PrometheusRule/dashboard, KEDA, the polling variant. Each check also runs on a broken copy.

type Obj = K8sObject & { kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> };

const version = packageVersion();
const prodSecretKeys = [...parseEnvFile(readFileSync(join(ROOT, 'k8s/overlays/prod/secrets.env.example'), 'utf8')).keys()];
const prod: ManifestOptions = { minReplicas: 2, version, externalSecrets: { 'chorus-secrets': prodSecretKeys } };
const OVERLAYS: Record<string, ManifestOptions> = { dev: { minReplicas: 1, version }, prod, 'prod-polling': prod, 'prod-keda': prod };
const rendered = Object.fromEntries(Object.keys(OVERLAYS).map((o) => [o, renderOverlay(`k8s/overlays/${o}`) as Obj[]])) as Record<string, Obj[]>;

const copy = (objs: Obj[]): Obj[] => structuredClone(objs);
const find = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name.startsWith(name));
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};
const pod = (o: Obj) => (o.spec as { template: { spec: Record<string, unknown> } }).template.spec;

describe.each(Object.keys(OVERLAYS))('k8s/overlays/%s', (overlay) => {
  it('renders and passes every schema and cross-check, custom resources included', () => {
    expect(validateManifests(rendered[overlay], OVERLAYS[overlay])).toEqual([]);
  });

  it('routes /metrics and /health/* nowhere, and the public paths to the gateway', () => {
    const rules = renderedRouteRules(rendered[overlay]);
    expect(rules.length).toBeGreaterThan(0);
    for (const path of ['/metrics', '/metrics/', ...healthRoutes().all, '/health']) expect(rulesReaching(rules, path)).toEqual([]);
    for (const path of PUBLIC_PATHS) expect(rulesReaching(rules, path).flatMap((r) => r.backends.map((b) => `${b.service}:${b.port}`))).toEqual([expect.stringMatching(/^chorus-gateway:(80|http)$/)]);
    // The port the backends name is the gateway Service's http port, never its metrics port.
    const gatewaySvc = find(rendered[overlay], 'Service', 'chorus-gateway').spec as { ports: { name: string; port: number; targetPort: string }[] };
    const routed = new Set(rules.flatMap((r) => r.backends.map((b) => gatewaySvc.ports.find((p) => p.port === b.port || p.name === b.port)?.targetPort)));
    expect(routed).toEqual(new Set(['http']));
  });
});

describe('what the variants change', () => {
  it('prod uses the HTTPRoute, dev the ingress-nginx component; never both', () => {
    expect(rendered.prod.filter((o) => o.kind === 'Ingress')).toEqual([]);
    expect(rendered.prod.filter((o) => o.kind === 'HTTPRoute')).toHaveLength(1);
    expect(rendered.dev.filter((o) => o.kind === 'HTTPRoute')).toEqual([]);
    expect(rendered.dev.filter((o) => o.kind === 'Ingress')).toHaveLength(1);
  });

  it('polling: the transport is on and the socket rule is sticky', () => {
    expect(find(rendered['prod-polling'], 'ConfigMap', 'chorus-edge').data?.SOCKET_TRANSPORTS).toBe('websocket,polling');
    const rules = (find(rendered['prod-polling'], 'HTTPRoute', 'chorus').spec as { rules: { matches: { path: { value: string } }[]; sessionPersistence?: { type: string } }[] }).rules;
    const sockets = rules.find((r) => r.matches.some((m) => m.path.value === '/socket.io/'));
    expect(sockets?.sessionPersistence?.type).toBe('Cookie');
    expect(find(rendered.prod, 'ConfigMap', 'chorus-edge').data?.SOCKET_TRANSPORTS).toBe('websocket');
  });

  it('keda: a ScaledObject on open connections replaces the gateway HPA', () => {
    const objs = rendered['prod-keda'];
    expect(objs.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => o.metadata.name).sort()).toEqual(['chorus-conflict', 'chorus-presence', 'chorus-session']);
    const triggers = (find(objs, 'ScaledObject', 'chorus-gateway').spec as { triggers: { type: string; metadata: { query?: string } }[] }).triggers;
    expect(triggers.find((t) => t.type === 'prometheus')?.metadata.query).toContain('chorus_ws_connections');
  });

  it('the hard spread honours taints in prod', () => {
    const spreads = pod(find(rendered.prod, 'Deployment', 'chorus-gateway')).topologySpreadConstraints as { whenUnsatisfiable: string; nodeTaintsPolicy?: string }[];
    expect(spreads.filter((s) => s.whenUnsatisfiable === 'DoNotSchedule').map((s) => s.nodeTaintsPolicy)).toEqual(['Honor']);
  });
});

describe('monitoring refers to metrics the code exports', () => {
  /** Metric names registered anywhere in apps/ and libs/ (prom-client `name: '…'`). */
  function exported(): Set<string> {
    const names = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory() && e.name !== 'node_modules') walk(join(dir, e.name));
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')) for (const m of readFileSync(join(dir, e.name), 'utf8').matchAll(/name: '(chorus_[a-z0-9_]+)'/g)) names.add(m[1]);
      }
    };
    walk(join(ROOT, 'apps'));
    walk(join(ROOT, 'libs'));
    return names;
  }
  it('every chorus_* series in the PrometheusRule and the Grafana dashboard exists', () => {
    const have = exported();
    const rule = JSON.stringify(find(rendered.prod, 'PrometheusRule', 'chorus').spec);
    const dashboard = readFileSync(join(ROOT, 'k8s/base/monitoring/chorus-dashboard.json'), 'utf8');
    const used = new Set([...`${rule}\n${dashboard}`.matchAll(/chorus_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')));
    expect([...used].filter((n) => !have.has(n))).toEqual([]);
    expect(used.has('chorus_ws_ack_seconds')).toBe(true);
  });

  it('the dashboard is valid JSON, shipped as a ConfigMap Grafana\'s sidecar loads', () => {
    const cm = find(rendered.prod, 'ConfigMap', 'chorus-dashboard');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    const dash = JSON.parse(cm.data?.['chorus-dashboard.json'] ?? '') as { uid: string; panels: { targets: { expr: string }[] }[] };
    expect(dash.uid).toBe('chorus-overview');
    expect(dash.panels.every((p) => p.targets.every((t) => t.expr.length > 0))).toBe(true);
  });
});

describe('the edge checks catch broken manifests', () => {
  const problemsOf = (objs: Obj[]) => validateManifests(objs, prod);

  it('a route that exposes /health and /metrics, or routes to the metrics port', () => {
    const objs = copy(rendered.prod);
    const route = find(objs, 'HTTPRoute', 'chorus').spec as { rules: { matches: { path: { type: string; value: string } }[]; backendRefs: { port: number }[] }[] };
    route.rules[1].matches.push({ path: { type: 'PathPrefix', value: '/' } });
    route.rules[0].backendRefs[0].port = 9464;
    const problems = problemsOf(objs);
    expect(problems).toContainEqual('HTTPRoute/chorus: routes /metrics to the public (must not be reachable from outside)');
    expect(problems).toContainEqual('HTTPRoute/chorus: routes /health/ready to the public (must not be reachable from outside)');
    expect(problems).toContainEqual("HTTPRoute/chorus: routes to the gateway's metrics port: /metrics would be public");
  });

  it('a socket rule without a timeout, and a schema error in a custom resource', () => {
    const objs = copy(rendered.prod);
    const rules = (find(objs, 'HTTPRoute', 'chorus').spec as { rules: { timeouts?: { request: unknown } }[] }).rules;
    delete rules[0].timeouts;
    (find(objs, 'ServiceMonitor', 'chorus').spec as { endpoints: { port: unknown }[] }).endpoints[0].port = 9464;
    const problems = problemsOf(objs);
    expect(problems).toContainEqual(expect.stringMatching(/HTTPRoute\/chorus: \/socket.io\/ carries sockets, its request timeout must be 0s .* is unset/));
    expect(problems).toContainEqual(expect.stringMatching(/ServiceMonitor\/chorus: schema: .*port must be string/));
  });

  it('NetworkPolicy: no default deny, a missing egress, too much egress', () => {
    const objs = copy(rendered.prod).filter((o) => o.metadata.name !== 'chorus-default-deny' && o.metadata.name !== 'chorus-egress-dns');
    const pg = find(objs, 'NetworkPolicy', 'chorus-egress-postgres').spec as { podSelector: { matchExpressions: { values: string[] }[] } };
    pg.podSelector.matchExpressions[0].values.push('presence');
    const problems = problemsOf(objs);
    expect(problems).toContainEqual('no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)');
    expect(problems).toContainEqual('Deployment/chorus-session: NetworkPolicy allows no egress to UDP/53, which it needs');
    expect(problems).toContainEqual('Deployment/chorus-presence: may reach Postgres (TCP/5432), which it never uses');
  });

  it("NetworkPolicy: the gateway's Postgres egress follows its file cache", () => {
    // The cache on, no egress: it could not reach file_blobs.
    const closed = copy(rendered.prod);
    const pg = find(closed, 'NetworkPolicy', 'chorus-egress-postgres').spec as { podSelector: { matchExpressions: { values: string[] }[] } };
    pg.podSelector.matchExpressions[0].values = pg.podSelector.matchExpressions[0].values.filter((v) => v !== 'gateway');
    expect(problemsOf(closed)).toContainEqual('Deployment/chorus-gateway: NetworkPolicy allows no egress to TCP/5432, which it needs');
    // The cache off (no FILE_CACHE_DATABASE_URL), the egress left open: too much.
    const off = copy(rendered.prod);
    const c = (pod(find(off, 'Deployment', 'chorus-gateway')).containers as { env: { name: string }[] }[])[0];
    c.env = c.env.filter((e) => e.name !== 'FILE_CACHE_DATABASE_URL');
    expect(problemsOf(off)).toContainEqual('Deployment/chorus-gateway: may reach Postgres (TCP/5432), which it never uses');
  });

  it('a migration Job given secrets it does not need, reading a ConfigMap, or not a hook', () => {
    const objs = copy(rendered.prod);
    const job = find(objs, 'Job', 'chorus-migrate');
    const init = (pod(job).initContainers as { env: unknown[]; envFrom?: unknown[] }[])[0];
    init.env.push({ name: 'JWT_SECRET', valueFrom: { secretKeyRef: { name: 'chorus-secrets', key: 'JWT_SECRET' } } });
    init.envFrom = [{ configMapRef: { name: find(objs, 'ConfigMap', 'chorus-common').metadata.name } }];
    delete job.metadata.annotations?.['argocd.argoproj.io/hook'];
    const problems = problemsOf(objs);
    expect(problems).toContainEqual(expect.stringMatching(/Job\/chorus-migrate container migrate-session: gets JWT_SECRET \(from Secret chorus-secrets\), which `migrate` does not read/));
    expect(problems).toContainEqual(expect.stringMatching(/Job\/chorus-migrate: reads a ConfigMap/));
    expect(problems).toContainEqual('Job/chorus-migrate: annotation argocd.argoproj.io/hook must be PreSync (migrations run before the rest of a GitOps sync)');
  });

  it('a shared or missing ServiceAccount, a missing alert, a spread ignoring taints, HPA and ScaledObject together', () => {
    const objs = copy(rendered['prod-keda']);
    pod(find(objs, 'Deployment', 'chorus-presence')).serviceAccountName = 'chorus-session';
    delete pod(find(objs, 'Deployment', 'chorus-conflict')).serviceAccountName;
    const groups = (find(objs, 'PrometheusRule', 'chorus').spec as { groups: { rules: { alert: string }[] }[] }).groups;
    for (const g of groups) g.rules = g.rules.filter((r) => r.alert !== 'ChorusAckLatencyHigh');
    for (const s of pod(find(objs, 'Deployment', 'chorus-gateway')).topologySpreadConstraints as { nodeTaintsPolicy?: string }[]) delete s.nodeTaintsPolicy;
    objs.push({ ...structuredClone(find(rendered.prod, 'HorizontalPodAutoscaler', 'chorus-gateway')) });
    const problems = problemsOf(objs);
    expect(problems).toContainEqual('Deployment/chorus-session: shares ServiceAccount chorus-session with presence');
    expect(problems).toContainEqual('Deployment/chorus-conflict: no serviceAccountName (each app gets its own ServiceAccount)');
    expect(problems).toContainEqual('PrometheusRule: alert ChorusAckLatencyHigh is missing');
    expect(problems).toContainEqual(expect.stringMatching(/Deployment\/chorus-gateway: the hard spread over kubernetes.io\/hostname must set nodeTaintsPolicy: Honor/));
    expect(problems).toContainEqual('Deployment/chorus-gateway: both a HorizontalPodAutoscaler and ScaledObject/chorus-gateway scale it (they fight)');
  });
});
