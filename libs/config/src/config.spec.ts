import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config';
import { VARIABLES } from './variables';

describe('loadConfig', () => {
  it('boots standalone with no environment at all, using embedded defaults', () => {
    const config = loadConfig('standalone', {});
    expect(config).toMatchObject({
      role: 'standalone',
      http: { host: '0.0.0.0', port: 3000 },
      database: { url: undefined, dataDir: '.chorus-data' },
      redis: { url: undefined, prefix: 'chorus' },
      log: { level: 'log', format: 'text' },
    });
    expect(config.nodeId).toMatch(/^standalone-/);
  });

  it('gives each app its own default port and requires its servers', () => {
    const env = { DATABASE_URL: 'postgres://127.0.0.1:5432/chorus', REDIS_URL: 'redis://127.0.0.1:6379', JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig('session', env).http.port).toBe(3001);
    expect(loadConfig('presence', env).http.port).toBe(3002);
    expect(loadConfig('conflict', env).log.format).toBe('json');
    expect(loadConfig('conflict', env).database.preparedStatements).toBe(true);
    expect(loadConfig('conflict', { ...env, DB_PREPARED_STATEMENTS: 'false' }).database.preparedStatements).toBe(false);
    expect(() => loadConfig('conflict', { ...env, DB_PREPARED_STATEMENTS: 'maybe' })).toThrow(/DB_PREPARED_STATEMENTS/);
    expect(() => loadConfig('gateway', {})).toThrow(/REDIS_URL is required when running as "gateway"/);
    expect(loadConfig('conflict', env).conflict.purgeBackstopIntervalMs).toBe(600_000);
    expect(loadConfig('conflict', { ...env, CONFLICT_PURGE_BACKSTOP_INTERVAL_MS: '5000' }).conflict.purgeBackstopIntervalMs).toBe(5_000);
    expect(() => loadConfig('conflict', { ...env, CONFLICT_PURGE_BACKSTOP_INTERVAL_MS: '10' })).toThrow(/CONFLICT_PURGE_BACKSTOP_INTERVAL_MS/);
  });

  it('reads the compaction settings, with their defaults, and refuses bad ones all at once', () => {
    const env = { DATABASE_URL: 'postgres://127.0.0.1:5432/chorus', REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(loadConfig('conflict', env).conflict.compaction).toEqual({ intervalMs: 300_000, retainVersions: 10_000, batch: 20 });
    expect(loadConfig('standalone', {}).conflict.compaction).toEqual({ intervalMs: 300_000, retainVersions: 10_000, batch: 20 });
    const set = { CONFLICT_COMPACTION_INTERVAL_MS: '60000', CONFLICT_COMPACTION_RETAIN_VERSIONS: '2500', CONFLICT_COMPACTION_BATCH: '5' };
    expect(loadConfig('conflict', { ...env, ...set }).conflict.compaction).toEqual({ intervalMs: 60_000, retainVersions: 2_500, batch: 5 });
    let error: unknown;
    try {
      loadConfig('conflict', { ...env, CONFLICT_COMPACTION_INTERVAL_MS: '10', CONFLICT_COMPACTION_RETAIN_VERSIONS: 'all', CONFLICT_COMPACTION_BATCH: '0' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable).sort()).toEqual(['CONFLICT_COMPACTION_BATCH', 'CONFLICT_COMPACTION_INTERVAL_MS', 'CONFLICT_COMPACTION_RETAIN_VERSIONS']);
    expect((error as Error).message).toMatch(/CONFLICT_COMPACTION_RETAIN_VERSIONS must be an integer from 100 to 100000000, got "all"/);
    // Only the conflict service reads them: a gateway ignores them, whatever their value.
    expect(() => loadConfig('gateway', { ...env, JWT_SECRET: 'x'.repeat(32), CONFLICT_COMPACTION_BATCH: '0' })).not.toThrow();
  });

  it('lists every bad variable at once and never echoes a URL that may hold a password', () => {
    let error: unknown;
    try {
      loadConfig('session', { PORT: 'eighty', REDIS_URL: 'http://x', DATABASE_URL: 'postgres//user:s3cret@host', LOG_LEVEL: 'loud' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.variable).sort();
    expect(problems).toEqual(['DATABASE_URL', 'JWT_SECRET', 'LOG_LEVEL', 'PORT', 'REDIS_URL']);
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('never echoes a secret, even a rejected one', () => {
    expect(() => loadConfig('gateway', { REDIS_URL: 'redis://x:6379', JWT_SECRET: 'hunter2-short' })).toThrow(/JWT_SECRET must be at least 32 characters \(got 13\)/);
    try {
      loadConfig('gateway', { REDIS_URL: 'redis://x:6379', JWT_SECRET: 'hunter2-short' });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('identity: HS256 by default; a JWKS needs issuer and audience, refuses HS algorithms and dev tokens, and lists every problem at once', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig('gateway', env).auth.access).toEqual({
      jwksUrl: undefined,
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      issuer: undefined,
      audience: undefined,
      clockSkewS: 30,
      claims: { userId: 'sub', displayName: 'name', kind: 'kind', defaultKind: 'human' },
      jwksCacheMaxAgeS: 600,
      jwksCooldownMs: 30_000,
    });
    const idp = { ...env, AUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json', AUTH_ISSUER: 'https://idp.example.com/', AUTH_AUDIENCE: 'chorus-api, chorus-agents' };
    expect(loadConfig('gateway', { ...idp, AUTH_ALGORITHMS: 'RS256,PS256', AUTH_CLAIM_KIND: 'https://chorus.example/kind' }).auth.access).toMatchObject({
      jwksUrl: idp.AUTH_JWKS_URL,
      algorithms: ['RS256', 'PS256'],
      audience: ['chorus-api', 'chorus-agents'],
      claims: { kind: 'https://chorus.example/kind' },
    });
    let error: unknown;
    try {
      loadConfig('standalone', { AUTH_JWKS_URL: 'https://idp.example.com/jwks', AUTH_ALGORITHMS: 'RS256,HS256', AUTH_CLOCK_SKEW_S: '9999', AUTH_DEFAULT_KIND: 'robot' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    // Bad values and missing companions (issuer, audience, dev tokens off) in one message.
    expect((error as ConfigError).problems.map((p) => p.variable).sort()).toEqual(['AUTH_ALGORITHMS', 'AUTH_AUDIENCE', 'AUTH_CLOCK_SKEW_S', 'AUTH_DEFAULT_KIND', 'AUTH_ISSUER', 'DEV_TOKENS']);
    expect((error as Error).message).toMatch(/AUTH_ALGORITHMS must be a comma-separated list of RS256.*HS\* and none are refused/);
    expect(() => loadConfig('gateway', { ...idp, AUTH_JWKS_URL: 'ftp://idp.example.com/jwks' })).toThrow(/AUTH_JWKS_URL must use https: or http:/);
    // The session service does not verify access tokens: it ignores AUTH_*.
    expect(() => loadConfig('session', { ...env, DATABASE_URL: 'postgres://h/db', AUTH_JWKS_URL: 'https://idp.example.com/jwks' })).not.toThrow();
  });

  it('REST limits: 600 per route and 10 invite guesses per minute by default, settable, bad values listed', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig('gateway', env).edge.restLimits).toEqual({ perRoutePerMin: 600, inviteGuessesPerMin: 10 });
    expect(loadConfig('gateway', { ...env, REST_LIMIT_PER_MIN: '1200', INVITE_GUESS_LIMIT_PER_MIN: '3' }).edge.restLimits).toEqual({ perRoutePerMin: 1200, inviteGuessesPerMin: 3 });
    expect(() => loadConfig('gateway', { ...env, REST_LIMIT_PER_MIN: '0', INVITE_GUESS_LIMIT_PER_MIN: 'lots' })).toThrow(/REST_LIMIT_PER_MIN must be an integer[\s\S]*INVITE_GUESS_LIMIT_PER_MIN must be an integer/);
  });

  it('trusts no proxy by default, and parses a hop count or a list of addresses and CIDRs', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig('gateway', env).edge.trustedProxies).toEqual({ hops: 0 });
    expect(loadConfig('gateway', { ...env, TRUSTED_PROXIES: '2' }).edge.trustedProxies).toEqual({ hops: 2 });
    expect(loadConfig('gateway', { ...env, TRUSTED_PROXIES: '10.0.0.0/8, 203.0.113.7,fd00::/8' }).edge.trustedProxies).toEqual({ addresses: ['10.0.0.0/8', '203.0.113.7', 'fd00::/8'] });
    for (const bad of ['11', '10.0.0.0/33', 'proxy.local', '10.0.0.1/8/2', 'fd00::/129']) {
      expect(() => loadConfig('gateway', { ...env, TRUSTED_PROXIES: bad })).toThrow(/TRUSTED_PROXIES/);
    }
  });

  it('serves the browser app by default in standalone only, from dist/web unless WEB_APP_DIR says otherwise', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig('standalone', {}).edge.webApp).toEqual({ enabled: true, dir: 'dist/web' });
    expect(loadConfig('gateway', env).edge.webApp).toEqual({ enabled: false, dir: 'dist/web' });
    expect(loadConfig('gateway', { ...env, WEB_APP: 'true', WEB_APP_DIR: '/srv/chorus-web' }).edge.webApp).toEqual({ enabled: true, dir: '/srv/chorus-web' });
    expect(loadConfig('standalone', { WEB_APP: 'off' }).edge.webApp.enabled).toBe(false);
    expect(() => loadConfig('gateway', { ...env, WEB_APP: 'sometimes' })).toThrow(/WEB_APP must be true or false/);
  });

  it('lets a command-line override win over the environment', () => {
    expect(loadConfig('standalone', { CHORUS_DATA_DIR: '/a' }, { CHORUS_DATA_DIR: '/b' }).database.dataDir).toBe('/b');
  });

  it('is documented: README.md has a row for every variable', () => {
    const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    for (const name of Object.keys(VARIABLES)) expect({ name, documented: readme.includes(`| \`${name}\``) }).toEqual({ name, documented: true });
  });
});
