import { VARIABLES, type AppRole, type LogLevel, type TrustedProxies, type VariableName } from './variables';

/** The typed configuration of one process. Built once at start-up by `loadConfig`, then passed around. */
export interface ChorusConfig {
  readonly role: AppRole;
  readonly nodeId: string;
  /** `adminPort` (ADMIN_PORT): where /metrics and /health/* are served instead of `port`; undefined: on `port`. */
  readonly http: { readonly host: string; readonly port: number; readonly adminPort: number | undefined };
  /** `url` undefined: standalone with an embedded Postgres under `dataDir`. */
  readonly database: { readonly url: string | undefined; readonly poolMax: number; readonly preparedStatements: boolean; readonly dataDir: string };
  /** `url` undefined: standalone with in-process equivalents of Redis. */
  readonly redis: { readonly url: string | undefined; readonly prefix: string };
  readonly log: { readonly level: LogLevel; readonly format: 'json' | 'text' };
  /** `jwtSecret` undefined: standalone generates one under the data dir. */
  readonly auth: {
    readonly jwtSecret: string | undefined;
    readonly devTokens: boolean;
    readonly accessTokenTtlS: number;
    readonly joinTokenTtlS: number;
    readonly publicUrl: string;
    /** How the edge verifies access tokens (AUTH_*; docs/identity.md). `jwksUrl` undefined: HS256 with `jwtSecret`. */
    readonly access: {
      readonly jwksUrl: string | undefined;
      readonly algorithms: string[];
      readonly issuer: string | undefined;
      readonly audience: string[] | undefined;
      readonly clockSkewS: number;
      readonly claims: { readonly userId: string; readonly displayName: string; readonly kind: string; readonly defaultKind: 'human' | 'agent' };
      readonly jwksCacheMaxAgeS: number;
      readonly jwksCooldownMs: number;
    };
  };
  readonly shutdownGraceMs: number;
  /** The edge (gateway/standalone): browser origins, trusted proxies, Socket.IO transports, connection cap. */
  readonly edge: {
    readonly corsOrigins: string[] | '*';
    readonly trustedProxies: TrustedProxies;
    readonly transports: Array<'websocket' | 'polling'>;
    readonly maxConnectionsPerUser: number;
    /** SSE_STREAMS_PER_USER: open SSE streams one user may hold across all gateways. */
    readonly sseStreamsPerUser: number;
    /** REST_LIMIT_PER_MIN / INVITE_GUESS_LIMIT_PER_MIN: the REST budget per client address, invite redemptions per user. */
    readonly restLimits: { readonly perRoutePerMin: number; readonly inviteGuessesPerMin: number };
    /** WEB_APP / WEB_APP_DIR: whether the browser app is served at /, and from where. */
    readonly webApp: { readonly enabled: boolean; readonly dir: string };
    /** The plain WebSocket endpoint /ws: heartbeat, authentication deadline, compression. */
    readonly ws: { readonly pingIntervalMs: number; readonly authTimeoutMs: number; readonly perMessageDeflate: boolean };
    /** VOICE_*: the STUN/TURN servers handed to clients (TURN with time-limited credentials from the secret). */
    readonly ice: { readonly stunUrls: string[]; readonly turnUrls: string[]; readonly turnSecret: string | undefined; readonly turnTtlS: number };
  };
  /** Session channels (gateway/standalone): the recent history each channel keeps, by count and by age. */
  readonly channels: { readonly historySize: number; readonly historyTtlMs: number };
  /** File sync (gateway/standalone): FILE_SYNC_BYTES_PER_S; the cache: FILE_CACHE_DATABASE_URL, FILE_CACHE_QUOTA_BYTES, FILE_CACHE_MAX_BLOB_BYTES. */
  readonly files: { readonly bytesPerSecond: number; readonly cache: { readonly databaseUrl: string | undefined; readonly quotaBytes: number; readonly maxBlobBytes: number } };
  /** The conflict service's periodic jobs. */
  readonly conflict: {
    readonly purgeBackstopIntervalMs: number;
    /** CONFLICT_COMPACTION_*: how often, how much history to keep, documents per transaction. */
    readonly compaction: { readonly intervalMs: number; readonly retainVersions: number; readonly batch: number };
  };
  /** The prompt queue (session service): AGENT_LEASE_MS, AGENT_MAX_ATTEMPTS, AGENT_ACTIVITY_COALESCE_MS. */
  readonly agents: { readonly leaseMs: number; readonly maxAttempts: number; readonly activityCoalesceMs: number };
  /** Presence (presence service): PRESENCE_IDLE_AFTER_MS. */
  readonly presence: { readonly idleAfterMs: number };
  /** Session management (session service): SESSION_AUDIT_RETENTION_S, SESSION_CREATE_PER_DAY, SESSION_OPEN_PER_USER. */
  readonly sessions: { readonly auditRetentionS: number; readonly createdPerDay: number; readonly openPerUser: number };
  /** Hooks for tests only (never set in a deployment): see TEST_CRASH_AFTER_CHAT_COMMIT. */
  readonly testHooks: { readonly crashAfterChatCommit: string | undefined };
}

export class ConfigError extends Error {
  constructor(
    readonly role: AppRole,
    readonly problems: ReadonlyArray<{ variable: string; problem: string }>,
  ) {
    super(
      `Invalid configuration for "${role}" (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.variable} ${p.problem}`).join('\n') +
        '\nSee the configuration table in README.md.',
    );
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Validates the environment for one role and returns the typed config, or throws a ConfigError that lists
 * every bad variable at once (not just the first). `overrides` carries command-line flags.
 */
export function loadConfig(role: AppRole, env: Env = process.env, overrides: Partial<Record<VariableName, string>> = {}): ChorusConfig {
  const problems: { variable: string; problem: string }[] = [];
  const values = {} as Record<VariableName, unknown>;
  for (const name of Object.keys(VARIABLES) as VariableName[]) {
    const spec = VARIABLES[name];
    const raw = overrides[name] ?? env[name];
    if (!(spec.roles as readonly AppRole[]).includes(role)) continue;
    const parsed = spec.parse(raw, role);
    if ('problem' in parsed) problems.push({ variable: name, problem: parsed.problem });
    else values[name] = parsed.value;
  }
  if (values.AUTH_JWKS_URL !== undefined) {
    // A key set alone would accept any token the provider issued, for any application: pin issuer and audience.
    if (values.AUTH_ISSUER === undefined) problems.push({ variable: 'AUTH_ISSUER', problem: 'is required with AUTH_JWKS_URL (the `iss` of your identity provider\'s tokens)' });
    if (values.AUTH_AUDIENCE === undefined) problems.push({ variable: 'AUTH_AUDIENCE', problem: 'is required with AUTH_JWKS_URL (the `aud` your identity provider puts in tokens for Chorus)' });
    if (values.DEV_TOKENS === true) problems.push({ variable: 'DEV_TOKENS', problem: 'must be false with AUTH_JWKS_URL (dev tokens are HS256, which a JWKS verifier refuses)' });
  }
  if (typeof values.ADMIN_PORT === 'number' && values.ADMIN_PORT !== 0 && values.ADMIN_PORT === values.PORT) {
    problems.push({ variable: 'ADMIN_PORT', problem: 'must differ from PORT (it moves /metrics and /health/* off the public port)' });
  }
  // TURN without its secret would hand clients servers they cannot authenticate to.
  if (Array.isArray(values.VOICE_TURN_URLS) && values.VOICE_TURN_URLS.length > 0 && values.VOICE_TURN_SECRET === undefined) {
    problems.push({ variable: 'VOICE_TURN_SECRET', problem: 'is required when VOICE_TURN_URLS is set (the secret shared with the TURN server)' });
  }
  if (problems.length > 0) throw new ConfigError(role, problems);
  const v = values as {
    PORT: number; ADMIN_PORT?: number; HOST: string; DATABASE_URL?: string; DB_POOL_MAX?: number; DB_PREPARED_STATEMENTS?: boolean; REDIS_URL?: string; REDIS_PREFIX: string;
    CHORUS_DATA_DIR?: string; NODE_ID: string; LOG_LEVEL: LogLevel; LOG_FORMAT: 'json' | 'text'; SHUTDOWN_GRACE_MS: number;
    CORS_ORIGINS?: string[] | '*'; TRUSTED_PROXIES?: TrustedProxies; SOCKET_TRANSPORTS?: 'websocket' | 'websocket,polling'; MAX_CONNECTIONS_PER_USER?: number; REST_LIMIT_PER_MIN?: number; INVITE_GUESS_LIMIT_PER_MIN?: number; CHANNEL_HISTORY_SIZE?: number; CHANNEL_HISTORY_TTL_MS?: number; FILE_SYNC_BYTES_PER_S?: number; FILE_CACHE_DATABASE_URL?: string; FILE_CACHE_QUOTA_BYTES?: number; FILE_CACHE_MAX_BLOB_BYTES?: number; WEB_APP?: boolean; WEB_APP_DIR?: string;
    WS_PING_INTERVAL_MS?: number; WS_AUTH_TIMEOUT_MS?: number; WS_PERMESSAGE_DEFLATE?: boolean;
    AUTH_JWKS_URL?: string; AUTH_ALGORITHMS?: string[]; AUTH_ISSUER?: string; AUTH_AUDIENCE?: string[]; AUTH_CLOCK_SKEW_S?: number; AUTH_CLAIM_USER_ID?: string;
    AUTH_CLAIM_DISPLAY_NAME?: string; AUTH_CLAIM_KIND?: string; AUTH_DEFAULT_KIND?: 'human' | 'agent'; AUTH_JWKS_CACHE_MAX_AGE_S?: number; AUTH_JWKS_COOLDOWN_MS?: number;
    VOICE_STUN_URLS?: string[]; VOICE_TURN_URLS?: string[]; VOICE_TURN_SECRET?: string; VOICE_TURN_TTL_S?: number;
    JWT_SECRET?: string; DEV_TOKENS?: boolean; ACCESS_TOKEN_TTL_S?: number; JOIN_TOKEN_TTL_S?: number; PUBLIC_URL?: string;
    TEST_CRASH_AFTER_CHAT_COMMIT?: string; CONFLICT_PURGE_BACKSTOP_INTERVAL_MS?: number;
    CONFLICT_COMPACTION_INTERVAL_MS?: number; CONFLICT_COMPACTION_RETAIN_VERSIONS?: number; CONFLICT_COMPACTION_BATCH?: number;
    AGENT_LEASE_MS?: number; AGENT_MAX_ATTEMPTS?: number; AGENT_ACTIVITY_COALESCE_MS?: number; PRESENCE_IDLE_AFTER_MS?: number; SSE_STREAMS_PER_USER?: number;
    SESSION_AUDIT_RETENTION_S?: number; SESSION_CREATE_PER_DAY?: number; SESSION_OPEN_PER_USER?: number;
  };
  return {
    role,
    nodeId: v.NODE_ID,
    http: { host: v.HOST, port: v.PORT, adminPort: v.ADMIN_PORT },
    database: { url: v.DATABASE_URL, poolMax: v.DB_POOL_MAX ?? 10, preparedStatements: v.DB_PREPARED_STATEMENTS ?? true, dataDir: v.CHORUS_DATA_DIR ?? '.chorus-data' },
    redis: { url: v.REDIS_URL, prefix: v.REDIS_PREFIX },
    log: { level: v.LOG_LEVEL, format: v.LOG_FORMAT },
    auth: {
      jwtSecret: v.JWT_SECRET,
      devTokens: v.DEV_TOKENS ?? false,
      accessTokenTtlS: v.ACCESS_TOKEN_TTL_S ?? 86_400,
      joinTokenTtlS: v.JOIN_TOKEN_TTL_S ?? 300,
      publicUrl: v.PUBLIC_URL ?? `http://localhost:${v.PORT}`,
      access: {
        jwksUrl: v.AUTH_JWKS_URL,
        algorithms: v.AUTH_ALGORITHMS ?? ['RS256', 'ES256', 'EdDSA'],
        issuer: v.AUTH_ISSUER,
        audience: v.AUTH_AUDIENCE,
        clockSkewS: v.AUTH_CLOCK_SKEW_S ?? 30,
        claims: { userId: v.AUTH_CLAIM_USER_ID ?? 'sub', displayName: v.AUTH_CLAIM_DISPLAY_NAME ?? 'name', kind: v.AUTH_CLAIM_KIND ?? 'kind', defaultKind: v.AUTH_DEFAULT_KIND ?? 'human' },
        jwksCacheMaxAgeS: v.AUTH_JWKS_CACHE_MAX_AGE_S ?? 600,
        jwksCooldownMs: v.AUTH_JWKS_COOLDOWN_MS ?? 30_000,
      },
    },
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    edge: {
      corsOrigins: v.CORS_ORIGINS ?? [],
      trustedProxies: v.TRUSTED_PROXIES ?? { hops: 0 },
      transports: (v.SOCKET_TRANSPORTS ?? 'websocket').split(',') as Array<'websocket' | 'polling'>,
      maxConnectionsPerUser: v.MAX_CONNECTIONS_PER_USER ?? 20,
      sseStreamsPerUser: v.SSE_STREAMS_PER_USER ?? 8,
      restLimits: { perRoutePerMin: v.REST_LIMIT_PER_MIN ?? 600, inviteGuessesPerMin: v.INVITE_GUESS_LIMIT_PER_MIN ?? 10 },
      webApp: { enabled: v.WEB_APP ?? false, dir: v.WEB_APP_DIR ?? 'dist/web' },
      ws: { pingIntervalMs: v.WS_PING_INTERVAL_MS ?? 30_000, authTimeoutMs: v.WS_AUTH_TIMEOUT_MS ?? 10_000, perMessageDeflate: v.WS_PERMESSAGE_DEFLATE ?? false },
      ice: { stunUrls: v.VOICE_STUN_URLS ?? [], turnUrls: v.VOICE_TURN_URLS ?? [], turnSecret: v.VOICE_TURN_SECRET, turnTtlS: v.VOICE_TURN_TTL_S ?? 3_600 },
    },
    channels: { historySize: v.CHANNEL_HISTORY_SIZE ?? 100, historyTtlMs: v.CHANNEL_HISTORY_TTL_MS ?? 600_000 },
    files: {
      bytesPerSecond: v.FILE_SYNC_BYTES_PER_S ?? 64 * 1024 * 1024,
      cache: { databaseUrl: v.FILE_CACHE_DATABASE_URL, quotaBytes: v.FILE_CACHE_QUOTA_BYTES ?? 256 * 1024 * 1024, maxBlobBytes: v.FILE_CACHE_MAX_BLOB_BYTES ?? 32 * 1024 * 1024 },
    },
    conflict: {
      purgeBackstopIntervalMs: v.CONFLICT_PURGE_BACKSTOP_INTERVAL_MS ?? 600_000,
      compaction: {
        intervalMs: v.CONFLICT_COMPACTION_INTERVAL_MS ?? 300_000,
        retainVersions: v.CONFLICT_COMPACTION_RETAIN_VERSIONS ?? 10_000,
        batch: v.CONFLICT_COMPACTION_BATCH ?? 20,
      },
    },
    agents: { leaseMs: v.AGENT_LEASE_MS ?? 30_000, maxAttempts: v.AGENT_MAX_ATTEMPTS ?? 3, activityCoalesceMs: v.AGENT_ACTIVITY_COALESCE_MS ?? 2_000 },
    presence: { idleAfterMs: v.PRESENCE_IDLE_AFTER_MS ?? 60_000 },
    sessions: { auditRetentionS: v.SESSION_AUDIT_RETENTION_S ?? 90 * 24 * 3600, createdPerDay: v.SESSION_CREATE_PER_DAY ?? 100, openPerUser: v.SESSION_OPEN_PER_USER ?? 50 },
    testHooks: { crashAfterChatCommit: v.TEST_CRASH_AFTER_CHAT_COMMIT },
  };
}

/**
 * The configuration of a one-shot migration run (`node main.js migrate`): only the database and logging
 * matter, so a migration Job needs no Redis URL or token secret.
 */
export function loadMigrationConfig(role: 'session' | 'conflict', env: Env = process.env): Pick<ChorusConfig, 'role' | 'log'> & { databaseUrl: string } {
  const problems: { variable: string; problem: string }[] = [];
  const db = VARIABLES.DATABASE_URL.parse(env.DATABASE_URL, role);
  const level = VARIABLES.LOG_LEVEL.parse(env.LOG_LEVEL, role);
  const format = VARIABLES.LOG_FORMAT.parse(env.LOG_FORMAT, role);
  for (const [variable, parsed] of [['DATABASE_URL', db], ['LOG_LEVEL', level], ['LOG_FORMAT', format]] as const) {
    if ('problem' in parsed) problems.push({ variable, problem: parsed.problem });
  }
  if ('problem' in db || 'problem' in level || 'problem' in format || db.value === undefined) throw new ConfigError(role, problems);
  return { role, log: { level: level.value as LogLevel, format: format.value as 'json' | 'text' }, databaseUrl: db.value };
}

/** How this process traces (OTEL_TRACES_EXPORTER, OTEL_SERVICE_NAME): read before anything else loads, by @chorus/tracing. */
export interface TracingConfig {
  readonly exporter: 'none' | 'otlp' | 'console';
  readonly serviceName: string;
}

export function loadTracingConfig(role: AppRole, env: Env = process.env): TracingConfig {
  const exporter = VARIABLES.OTEL_TRACES_EXPORTER.parse(env.OTEL_TRACES_EXPORTER, role);
  const serviceName = VARIABLES.OTEL_SERVICE_NAME.parse(env.OTEL_SERVICE_NAME, role);
  const problems: { variable: string; problem: string }[] = [];
  if ('problem' in exporter) problems.push({ variable: 'OTEL_TRACES_EXPORTER', problem: exporter.problem });
  if ('problem' in serviceName) problems.push({ variable: 'OTEL_SERVICE_NAME', problem: serviceName.problem });
  if ('problem' in exporter || 'problem' in serviceName) throw new ConfigError(role, problems);
  const disabled = /^(true|1)$/i.test(env.OTEL_SDK_DISABLED ?? '');
  return { exporter: disabled ? 'none' : (exporter.value as TracingConfig['exporter']), serviceName: serviceName.value };
}
