import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

/** The process roles Chorus runs as: the four apps, or all of them in one standalone process. */
export type AppRole = 'standalone' | 'gateway' | 'session' | 'presence' | 'conflict';
export const APP_ROLES: readonly AppRole[] = ['standalone', 'gateway', 'session', 'presence', 'conflict'];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Result of parsing one variable: a value, or a human-readable problem. */
type Parse<T> = { value: T } | { problem: string };

export interface VariableSpec<T> {
  /** What it does, its default, and why that default (rendered into the README's configuration table). */
  readonly doc: string;
  /** Roles that read it; others ignore it. */
  readonly roles: readonly AppRole[];
  parse(raw: string | undefined, role: AppRole): Parse<T>;
}

const ALL = APP_ROLES;
const DB_OWNERS: readonly AppRole[] = ['standalone', 'session', 'conflict'];
const AUTH_ROLES: readonly AppRole[] = ['standalone', 'gateway', 'session'];
const EDGE_ROLES: readonly AppRole[] = ['standalone', 'gateway'];

function int(min: number, max: number, fallback: (role: AppRole) => number) {
  return (raw: string | undefined, role: AppRole): Parse<number> => {
    if (raw === undefined || raw === '') return { value: fallback(role) };
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) return { problem: `must be an integer from ${min} to ${max}, got "${raw}"` };
    return { value: n };
  };
}

/** An optional integer: unset or empty means undefined. */
function optionalInt(min: number, max: number) {
  return (raw: string | undefined): Parse<number | undefined> => {
    if (raw === undefined || raw === '') return { value: undefined };
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) return { problem: `must be an integer from ${min} to ${max}, got "${raw}"` };
    return { value: n };
  };
}

function bool(fallback: (role: AppRole) => boolean) {
  return (raw: string | undefined, role: AppRole): Parse<boolean> => {
    if (raw === undefined || raw === '') return { value: fallback(role) };
    if (/^(true|1|yes|on)$/i.test(raw)) return { value: true };
    if (/^(false|0|no|off)$/i.test(raw)) return { value: false };
    return { problem: `must be true or false, got "${raw}"` };
  };
}

function url(protocols: readonly string[], required: (role: AppRole) => boolean) {
  return (raw: string | undefined, role: AppRole): Parse<string | undefined> => {
    if (raw === undefined || raw === '') {
      return required(role) ? { problem: `is required when running as "${role}" (e.g. ${protocols[0]}//host:port/…)` } : { value: undefined };
    }
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) return { problem: `must use ${protocols.join(' or ')}, got "${parsed.protocol}"` };
      return { value: raw };
    } catch {
      // The raw value may embed a password: never echo it.
      return { problem: 'is not a valid URL' };
    }
  };
}

function oneOf<T extends string>(values: readonly T[], fallback: (role: AppRole) => T) {
  return (raw: string | undefined, role: AppRole): Parse<T> => {
    if (raw === undefined || raw === '') return { value: fallback(role) };
    return (values as readonly string[]).includes(raw) ? { value: raw as T } : { problem: `must be one of ${values.join(', ')}, got "${raw}"` };
  };
}

function text(pattern: RegExp, hint: string, fallback: (role: AppRole) => string) {
  return (raw: string | undefined, role: AppRole): Parse<string> => {
    if (raw === undefined || raw === '') return { value: fallback(role) };
    return pattern.test(raw) ? { value: raw } : { problem: `${hint}, got "${raw}"` };
  };
}

/** A comma-separated list of URLs with one of `schemes` (ICE server URLs are `scheme:host[:port][?query]`). */
function urlList(schemes: readonly string[]) {
  return (raw: string | undefined): Parse<string[]> => {
    if (raw === undefined || raw.trim() === '') return { value: [] };
    const urls = raw.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
    for (const u of urls) {
      const scheme = /^[a-z]+:/.exec(u)?.[0];
      if (scheme === undefined || !schemes.includes(scheme) || !/^[a-z]+:[A-Za-z0-9.[\]:-]+(\?[A-Za-z0-9=&_-]+)?$/.test(u)) {
        return { problem: `"${u}" is not a ${schemes.join(' or ')} URL (e.g. ${schemes[0]}host.example.com:3478)` };
      }
    }
    return { value: urls };
  };
}

/** Who may set X-Forwarded-For: a fixed number of proxy hops, or proxy addresses/CIDRs. `{hops: 0}` trusts none. */
export type TrustedProxies = { readonly hops: number } | { readonly addresses: readonly string[] };

/** The JWKS algorithms AUTH_ALGORITHMS may name (libs/auth's ASYMMETRIC_ALGORITHMS; config imports no lib). */
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
const CLAIM_NAME = /^[^\s]{1,128}$/;

const DEFAULT_PORTS: Record<AppRole, number> = { standalone: 3000, gateway: 3000, session: 3001, presence: 3002, conflict: 3003 };

/** Every environment variable Chorus reads. Nothing else in the code base reads `process.env`. */
export const VARIABLES = {
  PORT: {
    doc: 'HTTP port (REST, WebSocket, health, metrics). Default 3000 for standalone and gateway; 3001 session, 3002 presence, 3003 conflict, so all apps can run side by side on one machine.',
    roles: ALL,
    parse: int(0, 65535, (role) => DEFAULT_PORTS[role]),
  },
  HOST: {
    doc: 'Interface to listen on. Default 0.0.0.0 (all interfaces, as a container needs).',
    roles: ALL,
    parse: text(/^[\w.:-]+$/, 'must be a host name or address', () => '0.0.0.0'),
  },
  ADMIN_PORT: {
    doc: 'Port of the admin listener: /metrics and /health/* move there and the public PORT answers them 404, so an Ingress or HTTPRoute to PORT can never expose them (Prometheus and the kubelet probes use ADMIN_PORT). Same HOST. Default unset: /metrics and /health/* are served on PORT beside everything else, as a laptop and the tests expect. See docs/observability.md.',
    roles: ALL,
    parse: optionalInt(0, 65535),
  },
  DATABASE_URL: {
    doc: 'Postgres connection string (postgres://user:pass@host:5432/db). Required by session and conflict. Standalone without it runs an embedded PostgreSQL 15 (a child process on 127.0.0.1, data under CHORUS_DATA_DIR/postgres).',
    roles: DB_OWNERS,
    parse: url(['postgres:', 'postgresql:'], (role) => role !== 'standalone'),
  },
  DB_POOL_MAX: {
    doc: 'Postgres connections per database-owning app in a process. Default 10 (standalone runs two: session and conflict; the embedded Postgres allows 100 connections).',
    roles: DB_OWNERS,
    parse: int(1, 200, () => 10),
  },
  DB_PREPARED_STATEMENTS: {
    doc: 'Whether hot statements (the conflict service\'s commits) run as named prepared statements, planned once per connection. Default true. Set false behind a pooler that cannot carry them (PgBouncer in transaction mode before 1.21, or without max_prepared_statements). The embedded Postgres carries them like any Postgres.',
    roles: DB_OWNERS,
    parse: bool(() => true),
  },
  REDIS_URL: {
    doc: 'Redis connection string (redis://host:6379). Required by every app run as a separate service. Standalone without it uses in-process equivalents (transport, presence, rate limits, fan-out).',
    roles: ALL,
    parse: url(['redis:', 'rediss:'], (role) => role !== 'standalone'),
  },
  REDIS_PREFIX: {
    doc: 'Prefix of every Redis key and stream, so several deployments (or test runs) can share one Redis. Default "chorus".',
    roles: ALL,
    parse: text(/^[A-Za-z0-9:_-]{1,64}$/, 'must be 1-64 characters of letters, digits, ":", "_" or "-"', () => 'chorus'),
  },
  CHORUS_DATA_DIR: {
    doc: 'Standalone only: where the embedded Postgres keeps its data (DIR/postgres, its password in DIR/postgres-password) and the generated token secret. Default ./.chorus-data (also settable with `npm start -- --data-dir DIR`). As root, Postgres runs as the OS user postgres, which must be able to enter DIR.',
    roles: ['standalone'],
    parse: text(/^.+$/, 'must be a path', () => '.chorus-data'),
  },
  NODE_ID: {
    doc: 'This process\'s identity in logs, transport consumer names and metrics. Default "<role>-<hostname>-<random>", unique per process even when every container is pid 1.',
    roles: ALL,
    parse: text(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 characters of letters, digits, ".", "_", ":" or "-"', (role) => `${role}-${hostname()}-${randomBytes(3).toString('hex')}`),
  },
  LOG_LEVEL: {
    doc: `Lowest log level written: ${LOG_LEVELS.join(', ')}. Default "log".`,
    roles: ALL,
    parse: oneOf(LOG_LEVELS, () => 'log'),
  },
  LOG_FORMAT: {
    doc: 'json (one JSON object per line, for log collectors) or text (for a terminal). Default text for standalone, json for the separate apps.',
    roles: ALL,
    parse: oneOf(['json', 'text'] as const, (role) => (role === 'standalone' ? 'text' : 'json')),
  },
  OTEL_TRACES_EXPORTER: {
    doc: 'OpenTelemetry tracing: none (default: off, the SDK is not even loaded), otlp (OTLP/HTTP with JSON bodies to OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, default http://localhost:4318, with OTEL_EXPORTER_OTLP_HEADERS) or console (spans on stdout, for a try-out). The standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on), OTEL_BSP_* and OTEL_RESOURCE_ATTRIBUTES apply as the SDK defines them; OTEL_SDK_DISABLED=true turns it off. See docs/observability.md.',
    roles: ALL,
    parse: oneOf(['none', 'otlp', 'console'] as const, () => 'none'),
  },
  OTEL_SERVICE_NAME: {
    doc: 'The service.name of this process\'s spans. Default chorus-<role> (chorus-gateway, chorus-session, chorus-conflict, chorus-presence, chorus-standalone).',
    roles: ALL,
    parse: text(/^[\w.\-/]{1,128}$/, 'must be 1-128 letters, digits or ._-/', (role) => `chorus-${role}`),
  },
  JWT_SECRET: {
    doc: 'HS256 secret (at least 32 characters) that signs access and join tokens. Required by gateway and session; every replica must share it. Standalone without it generates one and keeps it in CHORUS_DATA_DIR.',
    roles: AUTH_ROLES,
    parse: (raw: string | undefined, role: AppRole): Parse<string | undefined> => {
      if (raw === undefined || raw === '') return role === 'standalone' ? { value: undefined } : { problem: `is required when running as "${role}" (at least 32 characters; generate one with: openssl rand -base64 48)` };
      // Never echo a secret, not even a bad one.
      return raw.length >= 32 ? { value: raw } : { problem: `must be at least 32 characters (got ${raw.length})` };
    },
  },
  DEV_TOKENS: {
    doc: 'Enables POST /api/v1/auth/dev-token, which mints an access token for any user id (development only). Default true in standalone (so a newcomer can try everything at once), false otherwise.',
    roles: AUTH_ROLES,
    parse: bool((role) => role === 'standalone'),
  },
  ACCESS_TOKEN_TTL_S: {
    doc: 'Lifetime of a dev access token in seconds. Default 86400 (one day). Tokens from an identity provider carry their own `exp`.',
    roles: AUTH_ROLES,
    parse: int(60, 30 * 24 * 3600, () => 86_400),
  },
  AUTH_JWKS_URL: {
    doc: 'The identity provider\'s JSON Web Key Set (https://idp.example.com/.well-known/jwks.json). Set: access tokens are verified with its keys (AUTH_ALGORITHMS; keys cached AUTH_JWKS_CACHE_MAX_AGE_S, an unknown `kid` refetches at most every AUTH_JWKS_COOLDOWN_MS) and HS256 access tokens are refused; then AUTH_ISSUER and AUTH_AUDIENCE are required and DEV_TOKENS must be off. Unset (default): access tokens are HS256 with JWT_SECRET. Join tokens are always HS256 with JWT_SECRET (our own, gateway ↔ session). See docs/identity.md.',
    roles: EDGE_ROLES,
    parse: url(['https:', 'http:'], () => false),
  },
  AUTH_ALGORITHMS: {
    doc: `Signature algorithms accepted from the JWKS, comma-separated, from ${ASYMMETRIC.join(', ')}. Default RS256,ES256,EdDSA. HS256 is not allowed here (a public key used as an HMAC secret: HS/RS confusion); \`alg: none\` never verifies.`,
    roles: EDGE_ROLES,
    parse: (raw: string | undefined): Parse<string[]> => {
      if (raw === undefined || raw.trim() === '') return { value: ['RS256', 'ES256', 'EdDSA'] };
      const algs = raw.split(',').map((a) => a.trim()).filter((a) => a.length > 0);
      const bad = algs.filter((a) => !(ASYMMETRIC as readonly string[]).includes(a));
      return bad.length === 0 && algs.length > 0 ? { value: algs } : { problem: `must be a comma-separated list of ${ASYMMETRIC.join(', ')} (HS* and none are refused), got "${raw}"` };
    },
  },
  AUTH_ISSUER: {
    doc: 'The `iss` every access token must carry (e.g. https://idp.example.com/). Required with AUTH_JWKS_URL; optional with JWT_SECRET (then dev tokens carry it too).',
    roles: EDGE_ROLES,
    parse: (raw: string | undefined): Parse<string | undefined> => (raw === undefined || raw === '' ? { value: undefined } : raw.length <= 512 ? { value: raw } : { problem: 'must be at most 512 characters' }),
  },
  AUTH_AUDIENCE: {
    doc: 'Comma-separated audiences; an access token\'s `aud` must contain one (e.g. chorus-api). Required with AUTH_JWKS_URL, so a token the provider issued for another application is refused; optional with JWT_SECRET.',
    roles: EDGE_ROLES,
    parse: (raw: string | undefined): Parse<string[] | undefined> => {
      if (raw === undefined || raw.trim() === '') return { value: undefined };
      const list = raw.split(',').map((a) => a.trim()).filter((a) => a.length > 0);
      return list.length > 0 && list.every((a) => a.length <= 256) ? { value: list } : { problem: 'must be a comma-separated list of audiences (each at most 256 characters)' };
    },
  },
  AUTH_CLOCK_SKEW_S: {
    doc: 'Leeway in seconds on an access token\'s `exp` and `nbf`, for clocks that disagree a little. Default 30.',
    roles: EDGE_ROLES,
    parse: int(0, 300, () => 30),
  },
  AUTH_CLAIM_USER_ID: {
    doc: 'The claim that carries the user id (1-128 characters). Default sub.',
    roles: EDGE_ROLES,
    parse: text(CLAIM_NAME, 'must be a claim name (1-128 characters, no spaces)', () => 'sub'),
  },
  AUTH_CLAIM_DISPLAY_NAME: {
    doc: 'The claim that carries the display name (1-100 characters; when the token has none, the user id is shown). Default name.',
    roles: EDGE_ROLES,
    parse: text(CLAIM_NAME, 'must be a claim name (1-128 characters, no spaces)', () => 'name'),
  },
  AUTH_CLAIM_KIND: {
    doc: 'The claim that says whether the caller is a "human" or an "agent" (any other value refuses the token). Default kind; a token without it is AUTH_DEFAULT_KIND.',
    roles: EDGE_ROLES,
    parse: text(CLAIM_NAME, 'must be a claim name (1-128 characters, no spaces)', () => 'kind'),
  },
  AUTH_DEFAULT_KIND: {
    doc: 'The kind (human or agent) of an access token without the AUTH_CLAIM_KIND claim. Default human.',
    roles: EDGE_ROLES,
    parse: oneOf(['human', 'agent'] as const, () => 'human'),
  },
  AUTH_JWKS_CACHE_MAX_AGE_S: {
    doc: 'How long a fetched key set is used before it is fetched again, in seconds. Default 600 (providers publish a new key well before signing with it; an unknown `kid` refetches sooner anyway).',
    roles: EDGE_ROLES,
    parse: int(1, 86_400, () => 600),
  },
  AUTH_JWKS_COOLDOWN_MS: {
    doc: 'A token with a `kid` not in the cached key set refetches it, at most once per this many milliseconds: a rotated key is picked up at once, a flood of forged `kid`s costs the provider one request per interval. Default 30000.',
    roles: EDGE_ROLES,
    parse: int(0, 3_600_000, () => 30_000),
  },
  JOIN_TOKEN_TTL_S: {
    doc: 'Lifetime of a join token in seconds: it only needs to live from the REST call to the socket `join`. Default 300.',
    roles: AUTH_ROLES,
    parse: int(10, 24 * 3600, () => 300),
  },
  PUBLIC_URL: {
    doc: 'Base URL clients reach Chorus at, used in invite links. Default http://localhost:<PORT>.',
    roles: AUTH_ROLES,
    parse: (raw: string | undefined): Parse<string | undefined> => {
      if (raw === undefined || raw === '') return { value: undefined };
      try {
        return /^https?:$/.test(new URL(raw).protocol) ? { value: raw.replace(/\/$/, '') } : { problem: 'must be an http(s) URL' };
      } catch {
        return { problem: 'is not a valid URL' };
      }
    },
  },
  CORS_ORIGINS: {
    doc: 'Origins allowed to call the REST API and open sockets from a browser: a comma-separated list (https://app.example.com,https://staging.example.com) or * for any. Default * in standalone (try it from any local app), none (same-origin only) for the gateway. Checked on every Socket.IO handshake (websocket and polling): a browser page on another origin cannot open a socket. Requests without an Origin header (CLIs, agents, servers: not browsers) are allowed.',
    roles: EDGE_ROLES,
    parse: (raw: string | undefined, role: AppRole): Parse<string[] | '*'> => {
      if (raw === undefined || raw === '') return { value: role === 'standalone' ? '*' : [] };
      if (raw.trim() === '*') return { value: '*' };
      const origins = raw.split(',').map((o) => o.trim()).filter((o) => o.length > 0);
      for (const o of origins) {
        try {
          const u = new URL(o);
          if (u.origin !== o) return { problem: `"${o}" is not an origin (scheme://host[:port], no path or trailing slash)` };
        } catch {
          return { problem: `"${o}" is not an origin (scheme://host[:port])` };
        }
      }
      return { value: origins };
    },
  },
  TRUSTED_PROXIES: {
    doc: 'Which proxies in front of the gateway may say who the client is (X-Forwarded-For), for every per-client limit (REST, invite and password guesses, WebSocket handshakes). Empty (default): none, the TCP peer address is the client, and X-Forwarded-For is ignored, since any client can send one. A number N: exactly N proxies append to X-Forwarded-For (the client is the Nth address from the right). Or a comma-separated list of proxy addresses and CIDRs (10.0.0.0/8,fd00::/8): X-Forwarded-For is read from the right, skipping trusted addresses. Express\'s `trust proxy` is set to the same, so req.ip agrees. IPv6 clients are counted by their /64 network (one host or subscriber usually holds a whole /64).',
    roles: EDGE_ROLES,
    parse: (raw: string | undefined): Parse<TrustedProxies> => {
      if (raw === undefined || raw.trim() === '') return { value: { hops: 0 } };
      if (/^\d+$/.test(raw.trim())) {
        const hops = Number(raw.trim());
        return hops <= 10 ? { value: { hops } } : { problem: `must be a hop count from 0 to 10, or a list of addresses/CIDRs, got "${raw}"` };
      }
      const entries = raw.split(',').map((e) => e.trim()).filter((e) => e.length > 0);
      for (const entry of entries) {
        const [address, bits, extra] = entry.split('/');
        const family = isIP(address ?? '');
        const maxBits = family === 4 ? 32 : 128;
        const badBits = bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits);
        if (family === 0 || badBits || extra !== undefined) return { problem: `"${entry}" is not an IP address or CIDR (e.g. 10.0.0.0/8, fd00::/8, 203.0.113.7)` };
      }
      return { value: { addresses: entries } };
    },
  },
  SOCKET_TRANSPORTS: {
    doc: 'Socket.IO transports: websocket (default: no sticky sessions needed behind a load balancer) or websocket,polling (adds HTTP long-polling for clients that cannot open WebSockets; then the load balancer MUST use sticky sessions).',
    roles: EDGE_ROLES,
    parse: oneOf(['websocket', 'websocket,polling'] as const, () => 'websocket'),
  },
  MAX_CONNECTIONS_PER_USER: {
    doc: 'Open sockets one user may hold across all gateways (tabs, devices, agents). Default 20.',
    roles: EDGE_ROLES,
    parse: int(1, 10_000, () => 20),
  },
  SSE_STREAMS_PER_USER: {
    doc: 'Open Server-Sent Events streams (GET /api/v1/collaboration/sessions/:id/stream) one user may hold across all gateways, counted apart from MAX_CONNECTIONS_PER_USER; one more is refused before it opens with HTTP 429 RATE_LIMITED and retry_after_ms. Default 8 (a few tabs and listeners; each stream holds a response open on a gateway).',
    roles: EDGE_ROLES,
    parse: int(1, 10_000, () => 8),
  },
  CHANNEL_HISTORY_SIZE: {
    doc: 'Events each session channel keeps for `subscribe` with `since` (per channel, trimmed on append). Default 100: a reconnect after a few seconds of a busy channel (an agent streaming ~20 chunks/s) still recovers; a subscriber further behind gets `recovered: false` and reloads. Larger costs Redis memory per channel (events are up to 64 KiB).',
    roles: EDGE_ROLES,
    parse: int(1, 100_000, () => 100),
  },
  CHANNEL_HISTORY_TTL_MS: {
    doc: 'How long a channel event stays recoverable, whatever CHANNEL_HISTORY_SIZE allows. Default 600000 (10 minutes: channel events describe live state — diagnostics, file changes, streamed answers — that a client reloads anyway after a longer absence).',
    roles: EDGE_ROLES,
    parse: int(1_000, 24 * 3600 * 1000, () => 600_000),
  },
  FILE_SYNC_BYTES_PER_S: {
    doc: 'File sync (docs/file-sync.md): bytes per second one connection may send as file manifests and chunks; over it RATE_LIMITED with retry_after_ms (the SDK waits and resends). Default 67108864 (64 MiB/s: a 50 MB project in about a second, while one connection cannot saturate a gateway for everyone else).',
    roles: EDGE_ROLES,
    parse: int(1_024, 10 * 1024 * 1024 * 1024, () => 64 * 1024 * 1024),
  },
  FILE_CACHE_DATABASE_URL: {
    doc: 'File sync cache (docs/file-sync.md, "The cache"): the Postgres holding `file_blobs`, a session-service table (point it at the session database; its rows go with their session). Standalone: the session database by default. Gateway: unset means no cache (file sync relays host to guests only).',
    roles: EDGE_ROLES,
    parse: url(['postgres:', 'postgresql:'], () => false),
  },
  FILE_CACHE_QUOTA_BYTES: {
    doc: 'File sync cache: bytes of file content one session may keep cached; beyond it the least recently used files are evicted. Default 268435456 (256 MiB: a typical project, many times over its source). 0 turns the cache off.',
    roles: EDGE_ROLES,
    parse: int(0, 1024 * 1024 * 1024 * 1024, () => 256 * 1024 * 1024),
  },
  FILE_CACHE_MAX_BLOB_BYTES: {
    doc: 'File sync cache: the largest file cached (bigger ones are relayed, never stored). Default 33554432 (32 MiB: a gateway puts a file together in memory before it verifies and stores it).',
    roles: EDGE_ROLES,
    parse: int(1, 256 * 1024 * 1024, () => 32 * 1024 * 1024),
  },
  REST_LIMIT_PER_MIN: {
    doc: 'REST requests per minute per route per client address (TRUSTED_PROXIES decides the address); over it: 429 RATE_LIMITED with retry_after_ms. Default 600. /health/* and /metrics are never limited.',
    roles: EDGE_ROLES,
    parse: int(1, 1_000_000, () => 600),
  },
  INVITE_GUESS_LIMIT_PER_MIN: {
    doc: 'Invite redemptions (the guessable short codes) per minute per user (per address without a token); over it the client is blocked for a minute (429). Default 10.',
    roles: EDGE_ROLES,
    parse: int(1, 10_000, () => 10),
  },
  WEB_APP: {
    doc: 'Serve the browser app (apps/web, built into WEB_APP_DIR by `npm run build`) at / with /join/<invite> and /s/<session> beside the API. Default true in standalone (`npm start` is the whole product), false for the gateway (a deployment usually serves the app from a CDN or its own host; turn it on to serve it from every gateway). When on but the build is missing, the gateway logs a warning and serves the API only.',
    roles: EDGE_ROLES,
    parse: bool((role) => role === 'standalone'),
  },
  WEB_APP_DIR: {
    doc: 'Where the built browser app is (index.html and assets/), relative to the working directory. Default dist/web, where `npm run build` writes it.',
    roles: EDGE_ROLES,
    parse: text(/^.+$/, 'must be a path', () => 'dist/web'),
  },
  WS_PING_INTERVAL_MS: {
    doc: 'Plain WebSocket (/ws): the server sends a protocol ping this often and closes a connection that has not answered the previous one, so a dead peer is gone within two intervals (its presence leaves). Default 30000 (what the seed clients expect; load balancers commonly drop idle connections after 60 s).',
    roles: EDGE_ROLES,
    parse: int(50, 600_000, () => 30_000),
  },
  WS_AUTH_TIMEOUT_MS: {
    doc: 'Plain WebSocket (/ws): how long a connection without an Authorization header or ticket may stay open before its {"type":"auth"} frame; then it is closed with 4500 (unauthenticated). Default 10000.',
    roles: EDGE_ROLES,
    parse: int(50, 120_000, () => 10_000),
  },
  WS_PERMESSAGE_DEFLATE: {
    doc: 'Plain WebSocket (/ws): negotiate permessage-deflate compression. Default false: JSON frames shrink 3–10×, but every compressing connection costs CPU per frame and keeps zlib state (tens to hundreds of KB) — at thousands of idle connections memory, not bandwidth, is the limit. Turn it on for few clients on slow links.',
    roles: EDGE_ROLES,
    parse: bool(() => false),
  },
  VOICE_STUN_URLS: {
    doc: 'STUN servers handed to clients for voice (GET /api/v1/voice/ice-servers): a comma-separated list of stun: or stuns: URLs (stun:stun.example.com:3478). Default none: a deployment names its own, so no client is sent to a third party without the operator choosing it.',
    roles: EDGE_ROLES,
    parse: urlList(['stun:', 'stuns:']),
  },
  VOICE_TURN_URLS: {
    doc: 'TURN servers handed to clients for voice, with per-user credentials: a comma-separated list of turn: or turns: URLs (turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349). Needs VOICE_TURN_SECRET. Default none (peers behind symmetric NATs then cannot connect).',
    roles: EDGE_ROLES,
    parse: urlList(['turn:', 'turns:']),
  },
  VOICE_TURN_SECRET: {
    doc: 'The secret shared with the TURN server (coturn: use-auth-secret, static-auth-secret), at least 16 characters: clients get time-limited credentials derived from it (username <expiry>:<user id>, password base64 HMAC-SHA1), nothing is stored. Required when VOICE_TURN_URLS is set. Default unset.',
    roles: EDGE_ROLES,
    parse: (raw: string | undefined): Parse<string | undefined> => {
      if (raw === undefined || raw === '') return { value: undefined };
      // Never echo a secret, not even a bad one.
      return raw.length >= 16 ? { value: raw } : { problem: `must be at least 16 characters (got ${raw.length})` };
    },
  },
  VOICE_TURN_TTL_S: {
    doc: 'How long handed-out TURN credentials stay valid, in seconds. Default 3600: long enough for a call to allocate and refresh its relay, short enough that a leaked credential is soon worthless; clients ask again for every new call.',
    roles: EDGE_ROLES,
    parse: int(60, 86_400, () => 3_600),
  },
  SHUTDOWN_GRACE_MS: {
    doc: 'On SIGTERM/SIGINT: how long in-flight work may take before the process exits anyway. Default 10000; keep it below Kubernetes terminationGracePeriodSeconds.',
    roles: ALL,
    parse: int(0, 600_000, () => 10_000),
  },
  CONFLICT_PURGE_BACKSTOP_INTERVAL_MS: {
    doc: 'How often the conflict service looks for documents of deleted or vanished sessions and purges them (the backstop behind the purge `DELETE /sessions/:id` triggers, which is not retried if it fails). One replica at a time runs a pass. Default 600000 (10 minutes: a pass asks the session service about every session with documents, and the leftovers only cost disk, so there is no hurry).',
    roles: ['standalone', 'conflict'],
    parse: int(1_000, 24 * 3600 * 1000, () => 600_000),
  },
  CONFLICT_COMPACTION_INTERVAL_MS: {
    doc: 'How often each conflict replica tries a compaction pass (dropping ops beyond CONFLICT_COMPACTION_RETAIN_VERSIONS; one replica at a time runs one, the others skip). Default 300000 (5 minutes: retention is counted in versions, not time, so a pass only has to come often enough that a busy document does not grow far past it; a pass that finds nothing due costs one query over the documents table).',
    roles: ['standalone', 'conflict'],
    parse: int(1_000, 24 * 3600 * 1000, () => 300_000),
  },
  CONFLICT_COMPACTION_RETAIN_VERSIONS: {
    doc: 'Ops of at least this many latest versions of every document are kept (fetch_ops, document_history, rebasing a late op); older ones are dropped down to the newest snapshot at or below head minus this, which stays readable by document_at. Default 10000, the conflict service\'s catch-up limit: an op based further behind is refused with RELOAD_REQUIRED anyway, so compaction never takes away a rebase a client could still do. Lower saves disk but sends clients that far behind to reload sooner; at least 100 (one snapshot interval).',
    roles: ['standalone', 'conflict'],
    parse: int(100, 100_000_000, () => 10_000),
  },
  CONFLICT_COMPACTION_BATCH: {
    doc: 'Documents compacted per transaction in a pass. Each holds its head-row lock until the transaction commits, so edits of those documents wait for it: small keeps that wait short, larger makes a pass over many documents take fewer transactions. Default 20.',
    roles: ['standalone', 'conflict'],
    parse: int(1, 1_000, () => 20),
  },
  PRESENCE_IDLE_AFTER_MS: {
    doc: 'Without activity (joining, moving, typing) for this long, a peer\'s presence shows as `idle`; gateways push the transition (and the way back) within one 5 s heartbeat. Default 60000: a person reading for a minute is still "here", one gone for coffee shows idle soon after.',
    roles: ['standalone', 'presence'],
    parse: int(1_000, 24 * 3600 * 1000, () => 60_000),
  },
  AGENT_LEASE_MS: {
    doc: 'How long an agent holds a claimed prompt without a sign of life (agent_status, agent_output) before the prompt goes back to the head of its queue. Default 30000: long enough for a slow tool call between reports, short enough that a dead agent\'s prompt is taken by another within half a minute.',
    roles: ['standalone', 'session'],
    parse: int(200, 3600 * 1000, () => 30_000),
  },
  AGENT_ACTIVITY_COALESCE_MS: {
    doc: 'The activity feed\'s coalescing (docs/agents.md): an agent\'s OT edits on one document less than this apart are one document_edited entry (a pause this long ends the run), and its status changes are recorded at most this often (the last one of an interval is recorded when it ends; repeats never). Default 2000.',
    roles: ['standalone', 'session'],
    parse: int(50, 3600 * 1000, () => 2_000),
  },
  AGENT_MAX_ATTEMPTS: {
    doc: 'A prompt given back (lapsed lease, agent disconnected) after this many attempts is parked instead of queued again: a poison prompt that kills every agent stops going round. Default 3.',
    roles: ['standalone', 'session'],
    parse: int(1, 100, () => 3),
  },
  SESSION_AUDIT_RETENTION_S: {
    doc: 'Audit retention: how long a deleted or expired session is kept, with its whole event stream (the audit trail: refusals, lock changes, role and settings changes), before the janitor removes it for good. Meanwhile the session is gone for everyone except its owners and admins, who can still export its audit (GET /sessions/:id/audit). Default 7776000 (90 days).',
    roles: ['standalone', 'session'],
    parse: int(1, 10 * 365 * 24 * 3600, () => 90 * 24 * 3600),
  },
  SESSION_CREATE_PER_DAY: {
    doc: 'Sessions one user may create in any 24 hours (deleted ones count); one more is refused with RATE_LIMITED and retry_after_ms. Default 100.',
    roles: ['standalone', 'session'],
    parse: int(1, 1_000_000, () => 100),
  },
  SESSION_OPEN_PER_USER: {
    doc: 'Open (not deleted, not expired) sessions one user may own at once; one more is refused with CONFLICT until one is deleted. Default 50.',
    roles: ['standalone', 'session'],
    parse: int(1, 1_000_000, () => 50),
  },
  TEST_CRASH_AFTER_CHAT_COMMIT: {
    doc: 'TESTS ONLY, never set in a deployment. A marker text: a session replica that has just committed a new chat message containing it kills itself (SIGKILL) before replying, so a test can crash a replica between commit and ack. Default unset (no hook).',
    roles: ['session'],
    parse: (raw) => (raw === undefined || raw === '' ? { value: undefined } : raw.length >= 8 ? { value: raw } : { problem: 'must be at least 8 characters (a marker no real message contains by chance)' }),
  },
} satisfies Record<string, VariableSpec<unknown>>;

export type VariableName = keyof typeof VARIABLES;
