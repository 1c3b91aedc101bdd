import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedData, parseEnvFile } from '../../scripts/cluster/env-files';
import { healthRoutes } from './support/chorus-app';
import { validateManifests, type ManifestOptions } from './support/k8s-validate';
import { packageVersion, renderOverlay, ROOT } from './support/render';

// The kustomize overlays, rendered offline and validated object by object (schema + Chorus rules).
// The broken-copy tests prove the validator catches what it claims to: a check that cannot fail proves nothing.

type Obj = { kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown>; data?: Record<string, string> };

const version = packageVersion();
/** The keys of the Secret prod expects the operator to create, as documented in secrets.env.example. */
const prodSecretKeys = [...parseEnvFile(readFileSync(join(ROOT, 'k8s/overlays/prod/secrets.env.example'), 'utf8')).keys()];
const OVERLAYS: Record<'dev' | 'prod', ManifestOptions> = {
  dev: { minReplicas: 1, version },
  prod: { minReplicas: 2, version, externalSecrets: { 'chorus-secrets': prodSecretKeys } },
};

const rendered = { dev: renderOverlay('k8s/overlays/dev') as Obj[], prod: renderOverlay('k8s/overlays/prod') as Obj[] };
const copy = (objs: Obj[]): Obj[] => structuredClone(objs);
const find = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name.startsWith(name));
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};
type Container = { name: string; env: { name: string; value?: string }[]; [k: string]: unknown };
const podSpec = (o: Obj) => (o.spec as { template: { spec: unknown } }).template.spec as { containers: Container[]; [k: string]: unknown };

describe.each(['dev', 'prod'] as const)('k8s/overlays/%s', (overlay) => {
  it('renders and passes every schema and cross-check', () => {
    expect(validateManifests(rendered[overlay], OVERLAYS[overlay])).toEqual([]);
  });

  it('runs each app with the HPA floor the overlay promises', () => {
    const floors = rendered[overlay].filter((o) => o.kind === 'HorizontalPodAutoscaler').map((h) => (h.spec as { minReplicas: number }).minReplicas);
    expect(floors).toHaveLength(4);
    expect(new Set(floors)).toEqual(new Set([overlay === 'dev' ? 1 : 2]));
  });
});

describe('what each overlay contains', () => {
  it('dev turns dev tokens on; prod keeps them off, pins the image and generates no Secret', () => {
    expect(find(rendered.dev, 'ConfigMap', 'chorus-auth').data?.DEV_TOKENS).toBe('true');
    expect(find(rendered.prod, 'ConfigMap', 'chorus-auth').data?.DEV_TOKENS).toBe('false');
    expect(rendered.prod.filter((o) => o.kind === 'Secret')).toEqual([]);
    const images = rendered.prod.flatMap((o) => (o.kind === 'Deployment' || o.kind === 'Job' ? [...(podSpec(o).containers as unknown as { image: string }[]), ...((podSpec(o).initContainers as { image: string }[]) ?? [])] : []).map((c) => c.image));
    expect(new Set(images)).toEqual(new Set([`registry.example.com/chorus/chorus:${version}`]));
  });

  it("dev's generated Secret holds only placeholders marked dev-only", () => {
    const secret = find(rendered.dev, 'Secret', 'chorus-secrets');
    const values = Object.values(secret.data ?? {}).map((v) => Buffer.from(v.replace(/\s+/g, ''), 'base64').toString());
    expect(values.filter((v) => /password|secret/i.test(v)).every((v) => v.includes('dev-only'))).toBe(true);
  });

  it('cluster:local reads the same configuration that kustomize renders for dev', () => {
    const fromFiles = generatedData(join(ROOT, 'k8s/overlays/dev'));
    // Pod configuration only: the Grafana dashboard's ConfigMap is read by Grafana, not by an app.
    for (const o of rendered.dev.filter((x) => (x.kind === 'ConfigMap' || x.kind === 'Secret') && !x.metadata.labels?.grafana_dashboard)) {
      const name = o.metadata.name.replace(/-[a-z0-9]{10}$/, ''); // kustomize's content hash
      const data = Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, o.kind === 'Secret' ? Buffer.from(v.replace(/\s+/g, ''), 'base64').toString() : v]));
      expect(Object.fromEntries(fromFiles.get(name) ?? [])).toEqual(data);
    }
  });

  it("gives every overlay's gateways the file sync cache: the session database, a quota, egress to Postgres", () => {
    for (const overlay of ['dev', 'prod'] as const) {
      const gateway = find(rendered[overlay], 'Deployment', 'chorus-gateway');
      const env = (podSpec(gateway).containers as unknown as { env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[])[0].env;
      const url = env.find((e) => e.name === 'FILE_CACHE_DATABASE_URL')?.valueFrom?.secretKeyRef;
      expect({ overlay, name: url?.name.replace(/-[a-z0-9]{10}$/, ''), key: url?.key }).toEqual({ overlay, name: 'chorus-secrets', key: 'DATABASE_URL' });
      // The same secret key the session service (the owner of file_blobs) reads.
      const session = (podSpec(find(rendered[overlay], 'Deployment', 'chorus-session')).containers as unknown as { env: { name: string; valueFrom?: { secretKeyRef?: { key: string } } }[] }[])[0].env;
      expect(session.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef?.key).toBe('DATABASE_URL');
      const edge = find(rendered[overlay], 'ConfigMap', 'chorus-edge').data ?? {};
      expect(Number(edge.FILE_CACHE_QUOTA_BYTES)).toBeGreaterThan(0);
      expect(Number(edge.FILE_CACHE_MAX_BLOB_BYTES)).toBeLessThanOrEqual(Number(edge.FILE_CACHE_QUOTA_BYTES));
      const pg = find(rendered[overlay], 'NetworkPolicy', 'chorus-egress-postgres').spec as unknown as { podSelector: { matchExpressions: { values: string[] }[] } };
      expect(pg.podSelector.matchExpressions[0].values).toContain('gateway');
    }
  });

  it('the migration Job is self-contained (a PreSync hook runs before anything of the sync exists): no ConfigMap, only DATABASE_URL', () => {
    for (const overlay of ['dev', 'prod'] as const) {
      const job = find(rendered[overlay], 'Job', 'chorus-migrate');
      expect(JSON.stringify(job)).not.toContain('configMapRef');
      const keys = [...JSON.stringify(job).matchAll(/"secretKeyRef":\{"key":"([^"]+)","name":"([^"]+)"/g)].map((m) => `${m[2].replace(/-[a-z0-9]{10}$/, '')}/${m[1]}`);
      expect(new Set(keys)).toEqual(new Set(['chorus-secrets/DATABASE_URL']));
      expect(job.metadata.annotations).toMatchObject({ 'argocd.argoproj.io/hook': 'PreSync', 'helm.sh/hook': 'pre-install,pre-upgrade' });
    }
    expect(readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8')).toContain("-l 'app.kubernetes.io/component in (config,migrate)'");
  });

  it('derives the health routes from HealthController, and they match its source', () => {
    const source = readFileSync(join(ROOT, 'libs/runtime/src/health.ts'), 'utf8');
    const base = source.match(/@Controller\('([^']+)'\)/)?.[1];
    const fromSource = [...source.matchAll(/@Get\('([^']+)'\)/g)].map((m) => `/${base}/${m[1]}`);
    expect(healthRoutes().all.sort()).toEqual(fromSource.sort());
  });
});

describe('the validator catches broken manifests', () => {
  const problemsOf = (objs: Obj[]) => validateManifests(objs, OVERLAYS.dev);
  const gateway = (objs: Obj[]) => podSpec(find(objs, 'Deployment', 'chorus-gateway')).containers[0];

  it('a variable no app reads (a typo)', () => {
    const objs = copy(rendered.dev);
    gateway(objs).env.push({ name: 'DATABSE_URL', value: 'postgres://x/y' });
    expect(problemsOf(objs)).toEqual([expect.stringMatching(/chorus-gateway container gateway: sets DATABSE_URL \(from env\), which gateway does not read/)]);
  });

  it("a variable meant for another app, through the ConfigMap a container mounts", () => {
    const objs = copy(rendered.dev);
    const presence = podSpec(find(objs, 'Deployment', 'chorus-presence')).containers[0] as unknown as { envFrom: { configMapRef: { name: string } }[] };
    presence.envFrom.push({ configMapRef: { name: find(objs, 'ConfigMap', 'chorus-database').metadata.name } });
    expect(problemsOf(objs)).toEqual([expect.stringMatching(/chorus-presence container presence: sets DB_POOL_MAX \(from ConfigMap chorus-database-\w+\), which presence does not read/)]);
  });

  it('a value the app would refuse, and a required variable missing', () => {
    const objs = copy(rendered.dev);
    find(objs, 'ConfigMap', 'chorus-common').data!.SHUTDOWN_GRACE_MS = 'soon';
    const session = podSpec(find(objs, 'Deployment', 'chorus-session')).containers[0];
    session.env = session.env.filter((e) => e.name !== 'JWT_SECRET');
    const problems = problemsOf(objs);
    expect(problems).toContainEqual(expect.stringMatching(/chorus-gateway container gateway: SHUTDOWN_GRACE_MS .* must be an integer/));
    expect(problems).toContainEqual(expect.stringMatching(/chorus-session container session: session requires JWT_SECRET, which is not set/));
  });

  it('a probe on a path the app does not serve, or on the wrong port', () => {
    const objs = copy(rendered.dev);
    (gateway(objs).readinessProbe as { httpGet: { path: string } }).httpGet.path = '/healthz';
    (gateway(objs).livenessProbe as { httpGet: { port: number } }).httpGet.port = 8080;
    expect(problemsOf(objs)).toEqual([
      'Deployment/chorus-gateway container gateway: livenessProbe targets port 8080, the app serves /health/* on 9464 (ADMIN_PORT)',
      'Deployment/chorus-gateway container gateway: readinessProbe path /healthz is not served (routes: /health/live, /health/ready)',
    ]);
  });

  it('a field of the wrong type for the Kubernetes schema', () => {
    const objs = copy(rendered.dev);
    (gateway(objs).ports as { containerPort: unknown }[])[0].containerPort = '3000';
    expect(problemsOf(objs)).toContainEqual(expect.stringMatching(/Deployment\/chorus-gateway: schema: .*containerPort must be integer/));
  });

  it('a grace period shorter than preStop + SHUTDOWN_GRACE_MS', () => {
    const objs = copy(rendered.dev);
    podSpec(find(objs, 'Deployment', 'chorus-gateway')).terminationGracePeriodSeconds = 12;
    expect(problemsOf(objs)).toEqual([expect.stringMatching(/terminationGracePeriodSeconds 12 must exceed preStop sleep 5 s \+ SHUTDOWN_GRACE_MS 10 s/)]);
  });

  it('an unknown kind', () => {
    const objs = [...copy(rendered.dev), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray' }, spec: {} } as unknown as Obj];
    expect(problemsOf(objs)).toContainEqual(expect.stringMatching(/Pod\/stray: unknown kind v1\/Pod/));
  });

  it('selectors that miss: HPA target, PDB, Service, Ingress backend', () => {
    const objs = copy(rendered.dev);
    (find(objs, 'HorizontalPodAutoscaler', 'chorus-conflict').spec as unknown as { scaleTargetRef: { name: string } }).scaleTargetRef.name = 'chorus-conflicts';
    (find(objs, 'PodDisruptionBudget', 'chorus-presence').spec as unknown as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels['app.kubernetes.io/component'] = 'presense';
    (find(objs, 'Service', 'chorus-session').spec as unknown as { selector: Record<string, string> }).selector['app.kubernetes.io/instance'] = 'other';
    delete find(objs, 'Ingress', 'chorus').metadata.annotations!['nginx.ingress.kubernetes.io/proxy-read-timeout'];
    const problems = problemsOf(objs);
    for (const p of [
      /Deployment\/chorus-conflict: no HorizontalPodAutoscaler targets it/,
      /HorizontalPodAutoscaler\/chorus-conflict: scaleTargetRef Deployment\/chorus-conflicts does not exist/,
      /Deployment\/chorus-presence: no PodDisruptionBudget covers its pods/,
      /PodDisruptionBudget\/chorus-presence: selects no Deployment's pods/,
      /Service\/chorus-session: selects no pods/,
      /Ingress\/chorus: nginx.ingress.kubernetes.io\/proxy-read-timeout must be at least 3600/,
    ]) {
      expect(problems).toContainEqual(expect.stringMatching(p));
    }
  });

  it('migrations in the wrong order, or run by a Deployment', () => {
    const objs = copy(rendered.dev);
    const job = podSpec(find(objs, 'Job', 'chorus-migrate')) as unknown as { initContainers: unknown[]; containers: unknown[] };
    [job.initContainers, job.containers] = [job.containers, job.initContainers];
    (gateway(objs) as unknown as { command: string[] }).command.push('migrate');
    const problems = problemsOf(objs);
    expect(problems).toContainEqual('migration Job must run session then conflict migrate, runs: conflict, session');
    expect(problems).toContainEqual(expect.stringMatching(/chorus-gateway container gateway: a Deployment must not run `migrate`/));
  });

  it('a prod HPA floor below 2, and a Secret key the operator was never told about', () => {
    const objs = copy(rendered.prod);
    (find(objs, 'HorizontalPodAutoscaler', 'chorus-gateway').spec as unknown as { minReplicas: number }).minReplicas = 1;
    const problems = validateManifests(objs, { ...OVERLAYS.prod, externalSecrets: { 'chorus-secrets': ['REDIS_URL', 'DATABASE_URL'] } });
    expect(problems).toContainEqual(expect.stringMatching(/HorizontalPodAutoscaler\/chorus-gateway: minReplicas 1 is below this overlay's floor of 2/));
    expect(problems).toContainEqual(expect.stringMatching(/chorus-gateway container gateway: JWT_SECRET references key JWT_SECRET of Secret chorus-secrets, which lacks it/));
  });
});

describe('rendering', () => {
  it('fails with a clear message when kubectl is missing (never skips)', () => {
    expect(() => renderOverlay('k8s/overlays/dev', { ...process.env, PATH: '/nonexistent' })).toThrow(/kubectl is not installed/);
  });
});
