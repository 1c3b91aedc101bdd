import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IIoK8sApiCoreV1Container as Container } from 'kubernetes-models/v1/Container';
import type { IIoK8sApiCoreV1PodTemplateSpec as PodTemplate } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IIoK8sApiCoreV1Probe as Probe } from 'kubernetes-models/v1/Probe';
import type { IIoK8sApimachineryPkgApisMetaV1LabelSelector as LabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import { effectiveValue, healthRoutes, MIGRATING_ROLES, migrationVariables, roleOfCommand, SERVICE_ROLES, type ServiceRole } from './chorus-app';
import { CRD_KINDS, crdSchemaProblems, edgeProblems, type Workload } from './k8s-edge-checks';
import { envProblems, type ResolvedVariable } from './env-check';

// Offline validation of a rendered kustomize overlay: every object against the Kubernetes schema
// (kubernetes-models), then Chorus's own rules. Returns problems instead of throwing, so the same function
// proves the real overlays clean and proves that deliberately broken copies are caught.

type ModelClass = new (data: never) => { validate(): void };
/** Kinds we deploy. Anything else is a problem: it would be shipped without any check. */
const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'v1/ServiceAccount': ServiceAccount,
};

export const STANDARD_LABELS = ['name', 'instance', 'component', 'part-of', 'version', 'managed-by'].map((l) => `app.kubernetes.io/${l}`);
/** ingress-nginx cuts idle proxied connections after 60 s by default: WebSockets need these raised. */
const WS_ANNOTATIONS = ['nginx.ingress.kubernetes.io/proxy-read-timeout', 'nginx.ingress.kubernetes.io/proxy-send-timeout'];
const MIN_WS_TIMEOUT_S = 3600;
/** The migration Job runs before anything else of a release (Argo CD PreSync / Helm pre-upgrade hook). */
const HOOK_ANNOTATIONS = { 'argocd.argoproj.io/hook': 'PreSync', 'helm.sh/hook': 'pre-install,pre-upgrade' };

export interface ManifestOptions {
  /** The lowest HPA floor the overlay promises (dev 1, prod 2). */
  readonly minReplicas: number;
  /** The version label of Chorus objects (package.json's). */
  readonly version: string;
  /** Secrets created outside the render (prod): name → the keys it will hold. */
  readonly externalSecrets?: Readonly<Record<string, readonly string[]>>;
}

interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const isChorusImage = (image = '') => /(^|\/)chorus(:[\w.-]+)?(@sha256:[0-9a-f]+)?$/.test(image);
const idOf = (o: K8sObject) => `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;

function selects(selector: LabelSelector | Record<string, string> | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false;
  const matchLabels = ('matchLabels' in selector || 'matchExpressions' in selector ? (selector as LabelSelector).matchLabels : selector) as Record<string, string> | undefined;
  if ((selector as LabelSelector).matchExpressions?.length) return false; // not used by Chorus: flagged as unmatched
  const entries = Object.entries(matchLabels ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** Seconds the preStop hook sleeps: the sleep action, or an exec of `sleep N`. */
function preStopSeconds(c: Container): number {
  const hook = c.lifecycle?.preStop;
  if (!hook) return 0;
  if (hook.sleep) return hook.sleep.seconds;
  const cmd = hook.exec?.command ?? [];
  const i = cmd.findIndex((a) => /(^|\/)sleep$/.test(a));
  return i >= 0 ? Number(cmd[i + 1]) || 0 : 0;
}

/** A migration container gets the variables `migrate` reads and nothing else: no Redis URL, no token secret. */
function migrationEnvProblems(where: string, env: ReadonlyMap<string, { value?: string; from: string }>): string[] {
  const { reads, required } = migrationVariables();
  const problems: string[] = [];
  for (const [name, v] of env) {
    if (!reads.includes(name)) problems.push(`${where}: gets ${name} (from ${v.from}), which \`migrate\` does not read (it reads ${reads.join(', ')})`);
  }
  for (const name of required) if (!env.has(name)) problems.push(`${where}: \`migrate\` requires ${name}, which is not set`);
  return problems;
}

export function validateManifests(objects: readonly unknown[], options: ManifestOptions): string[] {
  const problems: string[] = [];
  const all = objects as K8sObject[];
  const routes = healthRoutes();

  // 1. Schema and labels of every object (custom resources: by their packages, in one child process).
  problems.push(...crdSchemaProblems(all.filter((o) => CRD_KINDS.includes(`${o.apiVersion}/${o.kind}`))));
  for (const o of all) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    const isCrd = CRD_KINDS.includes(`${o.apiVersion}/${o.kind}`);
    if (!Model && !isCrd) {
      problems.push(`${idOf(o)}: unknown kind ${o.apiVersion}/${o.kind} (add it to the validator's MODELS with its checks)`);
      continue;
    }
    if (Model) try {
      // kustomize folds long base64 values over lines; the API server's decoder ignores newlines, the schema's
      // "byte" format does not: validate what the server would see.
      const data = o.kind === 'Secret' && o.data ? { data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, v.replace(/\s+/g, '')])) } : {};
      new Model({ ...o, ...data } as never).validate();
    } catch (err) {
      problems.push(`${idOf(o)}: schema: ${(err as Error).message}`);
    }
    const labels = o.metadata?.labels ?? {};
    const missing = STANDARD_LABELS.filter((l) => !labels[l]);
    if (missing.length) problems.push(`${idOf(o)}: missing labels ${missing.join(', ')}`);
    if (labels['app.kubernetes.io/name'] === 'chorus' && labels['app.kubernetes.io/version'] !== options.version) {
      problems.push(`${idOf(o)}: app.kubernetes.io/version is ${labels['app.kubernetes.io/version']}, package.json says ${options.version}`);
    }
  }

  const ofKind = (kind: string) => all.filter((o) => o.kind === kind);
  const byName = (kind: string) => new Map(ofKind(kind).map((o) => [o.metadata?.name ?? '', o]));
  const configMaps = byName('ConfigMap');
  const secrets = byName('Secret');
  const deployments = ofKind('Deployment');
  const services = ofKind('Service');
  const hpas = ofKind('HorizontalPodAutoscaler');
  const pdbs = ofKind('PodDisruptionBudget');
  const templateOf = (o: K8sObject) => o.spec?.template as PodTemplate | undefined;

  /** Data of a ConfigMap or Secret (decoded), or the keys of an external Secret (values unknown). */
  function source(kind: 'ConfigMap' | 'Secret', name: string): Map<string, string | undefined> | undefined {
    const obj = (kind === 'ConfigMap' ? configMaps : secrets).get(name);
    if (obj) {
      const decode = (v: string) => (kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v);
      return new Map([...Object.entries(obj.data ?? {}).map(([k, v]) => [k, decode(v)] as const), ...Object.entries(obj.stringData ?? {})]);
    }
    const external = kind === 'Secret' ? options.externalSecrets?.[name] : undefined;
    return external ? new Map(external.map((k) => [k, undefined])) : undefined;
  }

  /** Every variable a container gets, with its value where the manifests hold it. */
  function resolveEnv(where: string, c: Container): Map<string, ResolvedVariable> {
    const env = new Map<string, ResolvedVariable>();
    for (const from of c.envFrom ?? []) {
      const [kind, ref] = from.configMapRef ? (['ConfigMap', from.configMapRef] as const) : (['Secret', from.secretRef] as const);
      const data = ref?.name ? source(kind, ref.name) : undefined;
      if (!data) {
        if (!ref?.optional) problems.push(`${where}: envFrom references ${kind} ${ref?.name}, which is not in the render`);
        continue;
      }
      for (const [k, value] of data) env.set(`${from.prefix ?? ''}${k}`, { value, from: `${kind} ${ref?.name}` });
    }
    for (const e of c.env ?? []) {
      const keyRef = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
      if (keyRef) {
        const kind = e.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap';
        const data = source(kind, keyRef.name ?? '');
        if (!data?.has(keyRef.key)) {
          if (!keyRef.optional) problems.push(`${where}: ${e.name} references key ${keyRef.key} of ${kind} ${keyRef.name}, which ${data ? 'lacks it' : 'is not in the render'}`);
          continue;
        }
        env.set(e.name, { value: data.get(keyRef.key), from: `${kind} ${keyRef.name}` });
      } else if (e.valueFrom) {
        env.set(e.name, { from: 'downward API' });
      } else {
        env.set(e.name, { value: e.value ?? '', from: 'env' });
      }
    }
    return env;
  }

  /** The port a probe reaches, resolved through the container's named ports. */
  function probePort(c: Container, probe: Probe): number | undefined {
    const port = probe.httpGet?.port;
    return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
  }

  function checkContainer(owner: K8sObject, c: Container, isJob: boolean, terminationGrace: number): ServiceRole | undefined {
    const where = `${idOf(owner)} container ${c.name}`;
    if (!isChorusImage(c.image)) return undefined; // postgres, redis of the dev overlay: not ours to check
    const run = roleOfCommand([...(c.command ?? []), ...(c.args ?? [])]);
    if (!run) {
      problems.push(`${where}: runs no Chorus app (expected command node dist/apps/<app>/src/main.js)`);
      return undefined;
    }
    if (run.migrate !== isJob) problems.push(`${where}: ${isJob ? 'a Job must run `migrate`' : 'a Deployment must not run `migrate` (migrations run once, in the Job)'}`);
    const env = resolveEnv(where, c);
    if (run.migrate) problems.push(...migrationEnvProblems(where, env));
    else problems.push(...envProblems(where, run.role, env));
    if (!c.resources?.requests?.cpu || !c.resources.requests.memory || !c.resources.limits?.cpu || !c.resources.limits.memory) {
      problems.push(`${where}: needs cpu and memory requests and limits`);
    }
    if (isJob) return run.role;

    const nodeId = c.env?.find((e) => e.name === 'NODE_ID');
    if (nodeId?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name') problems.push(`${where}: NODE_ID must be the pod name (fieldRef metadata.name)`);
    const port = effectiveValue(run.role, 'PORT', env.get('PORT')?.value) as number;
    if (!c.ports?.some((p) => p.containerPort === port)) problems.push(`${where}: the app listens on ${port} (PORT), no containerPort says so`);
    // With ADMIN_PORT set, /health/* is served there only (the public port answers it 404).
    const admin = effectiveValue(run.role, 'ADMIN_PORT', env.get('ADMIN_PORT')?.value) as number | undefined;
    const healthPort = admin ?? port;
    const expected = { startupProbe: routes.live, livenessProbe: routes.live, readinessProbe: routes.ready } as const;
    for (const [kind, path] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const probe = c[kind];
      if (!probe?.httpGet) {
        problems.push(`${where}: needs an HTTP ${kind}`);
        continue;
      }
      if (!routes.all.includes(probe.httpGet.path ?? '')) problems.push(`${where}: ${kind} path ${probe.httpGet.path} is not served (routes: ${routes.all.join(', ')})`);
      else if (probe.httpGet.path !== path) problems.push(`${where}: ${kind} should use ${path}, not ${probe.httpGet.path}`);
      const probed = probePort(c, probe);
      const named = typeof probe.httpGet.port === 'string' ? ` (${probed ?? 'no such container port'})` : '';
      if (probed !== healthPort) problems.push(`${where}: ${kind} targets port ${probe.httpGet.port}${named}, the app serves /health/* on ${healthPort}${admin === undefined ? ' (PORT)' : ' (ADMIN_PORT)'}`);
    }
    const graceS = (effectiveValue(run.role, 'SHUTDOWN_GRACE_MS', env.get('SHUTDOWN_GRACE_MS')?.value) as number) / 1000;
    const sleepS = preStopSeconds(c);
    if (!(terminationGrace > sleepS + graceS)) {
      problems.push(`${where}: terminationGracePeriodSeconds ${terminationGrace} must exceed preStop sleep ${sleepS} s + SHUTDOWN_GRACE_MS ${graceS} s, or the pod is killed mid-drain`);
    }
    return run.role;
  }

  // 2. Workloads: each container's role, env, probes, shutdown arithmetic.
  const deploymentsByRole = new Map<ServiceRole, K8sObject[]>();
  for (const d of deployments) {
    const pod = templateOf(d);
    if (!selects(d.spec?.selector as LabelSelector, pod?.metadata?.labels)) problems.push(`${idOf(d)}: spec.selector does not select its own pod template`);
    const grace = pod?.spec?.terminationGracePeriodSeconds ?? 30;
    const roles = new Set((pod?.spec?.containers ?? []).map((c) => checkContainer(d, c, false, grace)).filter((r): r is ServiceRole => r !== undefined));
    for (const role of roles) deploymentsByRole.set(role, [...(deploymentsByRole.get(role) ?? []), d]);
    if (roles.size === 0) continue;
    if (pod?.spec?.securityContext?.runAsNonRoot !== true) problems.push(`${idOf(d)}: pods must set runAsNonRoot`);
    if (d.spec?.replicas !== undefined) problems.push(`${idOf(d)}: sets replicas, which its HorizontalPodAutoscaler owns (every apply would reset the count)`);
    // An HPA, or a KEDA ScaledObject (which creates and owns one).
    const targets = (h: K8sObject) => {
      const ref = h.spec?.scaleTargetRef as { kind?: string; name?: string } | undefined;
      return (ref?.kind ?? 'Deployment') === 'Deployment' && ref?.name === d.metadata?.name;
    };
    const scaled = ofKind('ScaledObject').find(targets);
    const hpa = hpas.find(targets) ?? (scaled && { ...scaled, spec: { minReplicas: scaled.spec?.minReplicaCount } });
    if (hpas.some(targets) && scaled) problems.push(`${idOf(d)}: both a HorizontalPodAutoscaler and ScaledObject/${scaled.metadata?.name} scale it (they fight)`);
    const min = (hpa?.spec?.minReplicas as number | undefined) ?? 1;
    if (!hpa) problems.push(`${idOf(d)}: no HorizontalPodAutoscaler targets it`);
    else if (min < options.minReplicas) problems.push(`${idOf(hpa)}: minReplicas ${min} is below this overlay's floor of ${options.minReplicas}`);
    if (!pdbs.some((p) => selects(p.spec?.selector as LabelSelector, pod?.metadata?.labels))) problems.push(`${idOf(d)}: no PodDisruptionBudget covers its pods`);
    if (!services.some((s) => selects(s.spec?.selector as Record<string, string>, pod?.metadata?.labels))) problems.push(`${idOf(d)}: no Service selects its pods`);
  }
  for (const role of SERVICE_ROLES) {
    const n = deploymentsByRole.get(role)?.length ?? 0;
    if (n !== 1) problems.push(`expected exactly one Deployment running ${role}, found ${n}`);
  }

  // 3. The migration Job: every database owner's migrations, in order (init containers run one by one).
  const jobs = ofKind('Job');
  const migrations: ServiceRole[] = [];
  for (const j of jobs) {
    const spec = templateOf(j)?.spec;
    const init = (spec?.initContainers ?? []).map((c) => checkContainer(j, c, true, 0));
    const main = (spec?.containers ?? []).map((c) => checkContainer(j, c, true, 0)).filter(Boolean);
    if (main.length > 1) problems.push(`${idOf(j)}: ${main.join(' and ')} migrations run in parallel; make all but the last initContainers`);
    migrations.push(...[...init, ...main].filter((r): r is ServiceRole => r !== undefined));
    if (spec?.restartPolicy === 'Always' || spec?.restartPolicy === undefined) problems.push(`${idOf(j)}: restartPolicy must be Never or OnFailure`);
    for (const [k, v] of Object.entries(HOOK_ANNOTATIONS)) {
      if (j.metadata?.annotations?.[k] !== v) problems.push(`${idOf(j)}: annotation ${k} must be ${v} (migrations run before the rest of a GitOps sync)`);
    }
    if (JSON.stringify(spec).includes('"configMapRef"')) problems.push(`${idOf(j)}: reads a ConfigMap, which a PreSync hook runs before (give the few variables inline)`);
  }
  if (migrations.join(',') !== MIGRATING_ROLES.join(',')) problems.push(`migration Job must run ${MIGRATING_ROLES.join(' then ')} migrate, runs: ${migrations.join(', ') || 'nothing'}`);

  // 4. Services, HPAs, PDBs, Ingress point at things that exist.
  const pods = [...deployments, ...jobs].map((w) => templateOf(w));
  for (const s of services) {
    const selected = pods.filter((p) => selects(s.spec?.selector as Record<string, string>, p?.metadata?.labels));
    if (selected.length === 0) {
      problems.push(`${idOf(s)}: selects no pods`);
      continue;
    }
    for (const port of (s.spec?.ports as { port: number; targetPort?: number | string }[] | undefined) ?? []) {
      const target = port.targetPort ?? port.port;
      const found = selected.some((p) => p?.spec?.containers.some((c) => c.ports?.some((cp) => cp.name === target || cp.containerPort === target)));
      if (!found) problems.push(`${idOf(s)}: targetPort ${target} is no port of the selected containers`);
    }
  }
  for (const h of hpas) {
    const ref = h.spec?.scaleTargetRef as { kind?: string; name?: string };
    if (!deployments.some((d) => ref?.kind === 'Deployment' && d.metadata?.name === ref.name)) problems.push(`${idOf(h)}: scaleTargetRef ${ref?.kind}/${ref?.name} does not exist`);
    if ((h.spec?.maxReplicas as number) < ((h.spec?.minReplicas as number | undefined) ?? 1)) problems.push(`${idOf(h)}: maxReplicas is below minReplicas`);
  }
  for (const p of pdbs) {
    if (!deployments.some((d) => selects(p.spec?.selector as LabelSelector, templateOf(d)?.metadata?.labels))) problems.push(`${idOf(p)}: selects no Deployment's pods`);
  }
  const ingresses = ofKind('Ingress');
  for (const ing of ingresses) {
    for (const a of WS_ANNOTATIONS) {
      const v = Number(ing.metadata?.annotations?.[a]);
      if (!(v >= MIN_WS_TIMEOUT_S)) problems.push(`${idOf(ing)}: ${a} must be at least ${MIN_WS_TIMEOUT_S} (WebSockets), is ${ing.metadata?.annotations?.[a] ?? 'unset'}`);
    }
  }

  // 5. Routes, NetworkPolicy, ServiceAccounts, monitoring, spreads (k8s-edge-checks.ts).
  const componentOf = (w: K8sObject) => {
    const pod = templateOf(w);
    const runsChorus = [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? [])].some((c) => isChorusImage(c.image));
    return runsChorus ? pod?.metadata?.labels?.['app.kubernetes.io/component'] ?? '?' : undefined;
  };
  const workloads: Workload[] = [...deployments, ...jobs].map((w) => ({ obj: w, pod: templateOf(w), component: componentOf(w) }));
  problems.push(...edgeProblems(all, workloads));
  return problems;
}
