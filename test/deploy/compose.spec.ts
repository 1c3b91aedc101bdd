import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCompose, validateCompose, type ComposeFile } from './support/compose-validate';
import { ROOT } from './support/render';

// docker-compose.yml cannot run here (no Docker engine): it is checked against the apps' code instead.

const compose = loadCompose(join(ROOT, 'docker-compose.yml'));
type Service = NonNullable<ComposeFile['services']>[string];
const broken = (edit: (services: Record<string, Service>) => void): string[] => {
  const copy = structuredClone(compose);
  edit(copy.services ?? {});
  return validateCompose(copy, ROOT);
};

describe('docker-compose.yml', () => {
  it('passes every cross-check', () => {
    expect(validateCompose(compose, ROOT)).toEqual([]);
  });

  it('has the topology of the manifests: 2 gateways behind a load balancer, each service, migrations once', () => {
    expect(Object.keys(compose.services ?? {}).filter((n) => !compose.services?.[n].profiles?.length).sort()).toEqual(
      ['conflict', 'gateway-1', 'gateway-2', 'lb', 'migrate-conflict', 'migrate-session', 'postgres', 'presence', 'redis', 'session'].sort(),
    );
  });

  it('gives both gateways the file sync cache in the session database, after Postgres is healthy', () => {
    const session = compose.services?.session?.environment as Record<string, string>;
    for (const name of ['gateway-1', 'gateway-2']) {
      const gw = compose.services?.[name];
      expect((gw?.environment as Record<string, string>).FILE_CACHE_DATABASE_URL).toBe(session.DATABASE_URL);
      expect(gw?.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' }, session: { condition: 'service_healthy' } });
      expect(gw?.env_file).toContain('k8s/base/env/edge.env');
    }
    expect(readFileSync(join(ROOT, 'k8s/base/env/edge.env'), 'utf8')).toMatch(/^FILE_CACHE_QUOTA_BYTES=\d+$/m);
  });

  it("profile test publishes Postgres and Redis where libs/testing looks for them, on loopback only", () => {
    const test = Object.entries(compose.services ?? {}).filter(([, s]) => s.profiles?.includes('test'));
    expect(test.map(([n]) => n).sort()).toEqual(['test-postgres', 'test-redis']);
    const pg = compose.services?.['test-postgres'];
    expect(pg?.ports).toEqual(['127.0.0.1:5432:5432']);
    expect(pg?.environment).toMatchObject({ POSTGRES_HOST_AUTH_METHOD: 'trust' });
    expect(compose.services?.['test-redis']?.ports).toEqual(['127.0.0.1:6379:6379']);
    const infra = readFileSync(join(ROOT, 'libs/testing/src/infra.ts'), 'utf8');
    expect(infra).toContain("'postgres://postgres@127.0.0.1:5432/postgres'");
    expect(infra).toContain("'redis://127.0.0.1:6379'");
    for (const [, s] of test) expect(s.healthcheck?.test).toBeDefined();
  });

  describe('the validator catches', () => {
    it('a variable the app does not read, and a required one missing', () => {
      const problems = broken((s) => {
        (s.presence.environment as Record<string, string>).JWT_SECRET = 'x'.repeat(40);
        delete (s.conflict.environment as Record<string, string>).DATABASE_URL;
      });
      expect(problems).toEqual([
        'service conflict: conflict requires DATABASE_URL, which is not set',
        'service presence: sets JWT_SECRET (from environment), which presence does not read (libs/config/src/variables.ts)',
      ]);
    });

    it('a health check on a path or port the app does not serve', () => {
      const problems = broken((s) => {
        s.session.healthcheck = { test: ['CMD', 'node', '-e', "fetch('http://127.0.0.1:3001/healthz')"] };
        s.presence.healthcheck = { test: ['CMD', 'node', '-e', "fetch('http://127.0.0.1:3000/health/ready')"] };
      });
      expect(problems).toEqual([
        'service session: healthcheck path /healthz is not served (routes: /health/live, /health/ready)',
        'service presence: healthcheck port 3000, the app listens on 3002',
      ]);
    });

    it('services that start before their migrations, and a stop grace shorter than the drain', () => {
      const problems = broken((s) => {
        s.session.depends_on = { redis: { condition: 'service_healthy' } };
        s['migrate-conflict'].depends_on = { postgres: { condition: 'service_healthy' } };
        delete s['gateway-1'].stop_grace_period;
      });
      expect(problems).toEqual([
        'service migrate-conflict: must depend on migrate-session with condition service_completed_successfully (migrations run in order)',
        'service session: must depend on migrate-session with condition service_completed_successfully (its tables must exist first)',
        'service gateway-1: stop_grace_period 10 s must exceed SHUTDOWN_GRACE_MS 10 s',
      ]);
    });

    it('a load balancer that does not wait for, or route to, a gateway', () => {
      const problems = broken((s) => {
        s.lb.depends_on = { 'gateway-1': { condition: 'service_healthy' } };
        s['gateway-3'] = { ...s['gateway-2'] };
      });
      expect(problems).toContainEqual('service lb: must depend on gateway-2 with condition service_healthy');
      expect(problems).toContainEqual('service lb: ./deploy/compose/nginx.conf does not route to gateway-3');
    });
  });
});
