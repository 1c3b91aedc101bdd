import type { Express, Request, Response } from 'express';
import { Inject, Module, type BeforeApplicationShutdown, type DynamicModule, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ThrottlerModule, type ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { AccessTokenVerifier, Hs256Tokens, IdentityTokens, type AsymmetricAlgorithm } from '@chorus/auth';
import { TypedClient, documentKey, type ConflictApi, type PresenceApi } from '@chorus/contracts';
import { ASYNCAPI_PATH, PROTOCOL_VERSION, buildAsyncApiDocument } from '@chorus/protocol';
import { HealthModule, MetricsModule, redisReadinessCheck, transportReadinessCheck, type ReadinessCheck, type Runtime } from '@chorus/runtime';
import { AgentDispatch } from './agents/agent-dispatch';
import { MemoryPartialOutputStore, type PartialOutputStore } from './agents/partial-output';
import { RedisPartialOutputStore } from './agents/redis-partial-output';
import type { ChannelHistory } from './channels/channel-history';
import { ChannelStreams, routeChannelPushes } from './channels/channel-streams';
import { MemoryChannelHistory } from './channels/memory-channel-history';
import { RedisChannelHistory } from './channels/redis-channel-history';
import { FileCache } from './files/file-cache';
import { FileCacheMetrics } from './files/file-cache.metrics';
import type { FileSyncStore } from './files/file-sync.store';
import { PostgresBlobCache } from './files/postgres-blob-cache';
import { MemoryFileSyncStore } from './files/memory-file-sync.store';
import { RedisFileSyncStore } from './files/redis-file-sync.store';
import { SocketIoHub } from './fanout/local-hub';
import { WsRooms } from './fanout/ws-rooms';
import { PresenceBatcher } from './fanout/presence-batcher';
import { FileRulesCache } from './files/file-rules.cache';
import { PeerPrincipals } from './files/file-sync-rules';
import { leaveForbiddenDocuments } from './files/forbidden-documents';
import { FilesController } from './http/files.controller';
import { SessionStreams } from './fanout/session-streams';
import { ACCESS_VERIFIER, AccessTokenGuard, IDENTITY_TOKENS } from './http/auth';
import { AgentsController } from './http/agents.controller';
import { STREAM_DEPS, StreamController, type StreamDeps } from './sse/stream.controller';
import { AuthController, DEV_TOKEN_SETTINGS, WS_TICKETS, type DevTokenSettings } from './http/auth.controller';
import { ICE_SETTINGS, VoiceController } from './http/voice.controller';
import { ClientAddresses, expressTrustProxy } from './http/client-address';
import { HttpErrorFilter, httpRefusedCounter } from './http/http-error.filter';
import { RestRefusals } from './http/rest-refusals';
import { CONFLICT_CLIENT, DocumentsController } from './http/documents.controller';
import { InvitesController } from './http/invites.controller';
import { OPENAPI_VERSION, operationId, withEdgeErrors } from './http/openapi';
import { OriginPolicy } from './http/origin-policy';
import { refuseUndecodablePath } from './http/path-encoding';
import { SessionsController } from './http/sessions.controller';
import { SessionAdminController } from './http/session-admin.controller';
import { serveWebApp } from './http/web-app';
import { MemoryAttemptBudget, RedisAttemptBudget, type AttemptBudget } from './limits/attempt-budget';
import { MemoryConnectionRegistry, RedisConnectionRegistry, type ConnectionRegistry } from './limits/connection-registry';
import { HttpThrottlerGuard, STRICT_LIMIT, guessTracker } from './limits/http-throttler.guard';
import { PasswordGuesses, type PasswordGuessLimits } from './limits/password-guesses';
import { MemoryThrottlerStorage } from './limits/memory-throttler.storage';
import { RedisThrottlerStorage } from './limits/redis-throttler.storage';
import { WsRateLimiter } from './limits/ws-rate-limiter';
import { SessionRouter } from './routing/session.router';
import { recordAudit } from './socket/audit';
import type { GatewayDeps } from './socket/connection';
import { GatewayMetrics } from './socket/gateway.metrics';
import { handlerTable } from './socket/handler-table';
import { Edge } from './socket/edge';
import { SocketGateway } from './socket/socket.gateway';
import { WsGateway } from './ws/ws.gateway';
import { YjsDocs } from './yjs/yjs-docs';
import { YjsDocumentsController } from './http/yjs-documents.controller';
import { DocumentVersionsController } from './http/document-versions.controller';
import { YjsMetrics } from './yjs/yjs.metrics';
import { attachYjs } from './yjs/yjs-attach';
import { MemoryWsTicketStore, RedisWsTicketStore, WsTickets, type WsTicketStore } from './ws/ws-tickets';

/**
 * Wrong password guesses (session and invite passwords, each one a 32 MiB scrypt): a few typos per person, and a
 * per-secret budget over an hour so many accounts or addresses together get ~720 guesses a day at one password.
 */
const PASSWORD_GUESSES: PasswordGuessLimits = { perClient: 5, perClientWindowMs: 60_000, perSecret: 30, perSecretWindowMs: 3_600_000 };

/**
 * Rate-limit counters, connection leases and /ws tickets: in Redis so limits hold (and a ticket is used once)
 * across gateways, in memory standalone.
 */
function limitStores(runtime: Runtime): { storage: ThrottlerStorage; connections: ConnectionRegistry; streamLeases: ConnectionRegistry; attempts: AttemptBudget; tickets: WsTicketStore } {
  if (runtime.redisUrl === undefined) {
    return {
      storage: new MemoryThrottlerStorage(),
      connections: new MemoryConnectionRegistry(),
      streamLeases: new MemoryConnectionRegistry(),
      attempts: new MemoryAttemptBudget(),
      tickets: new MemoryWsTicketStore(),
    };
  }
  const redis = new Redis(runtime.redisUrl, { connectionName: `${runtime.config.nodeId}:limits`, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // surfaced by readiness; a failed check fails the request with SERVER_ERROR
  runtime.onStop(async () => void redis.disconnect());
  return {
    storage: new RedisThrottlerStorage(redis, runtime.redisPrefix),
    connections: new RedisConnectionRegistry(redis, runtime.redisPrefix),
    // SSE streams are capped apart from sockets (SSE_STREAMS_PER_USER): the same leases under their own key.
    streamLeases: new RedisConnectionRegistry(redis, `${runtime.redisPrefix}:sse`),
    attempts: new RedisAttemptBudget(redis, runtime.redisPrefix),
    tickets: new RedisWsTicketStore(redis, runtime.redisPrefix),
  };
}

/** How often each channel relay asks the history whether the fan-out lost its latest events. */
const CHANNEL_POSITION_CHECK_MS = 5_000;

/** File sync's shared state (docs/file-sync.md): in Redis so every gateway sees the same host and offers. */
function fileSyncStore(runtime: Runtime): FileSyncStore {
  if (runtime.redisUrl === undefined) return new MemoryFileSyncStore();
  const redis = new Redis(runtime.redisUrl, { connectionName: `${runtime.config.nodeId}:files`, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // surfaced by readiness; a failed read or write answers SERVER_ERROR
  runtime.onStop(async () => void redis.disconnect());
  return new RedisFileSyncStore(redis, runtime.redisPrefix);
}

/**
 * The file sync cache (docs/file-sync.md, "The cache"): Postgres (FILE_CACHE_DATABASE_URL; standalone: the session
 * database) behind the BlobCache port, or none (quota 0, or a gateway without the URL). Its write-behind is flushed
 * before the pool closes.
 */
function fileCache(runtime: Runtime, registry: Registry): FileCache | undefined {
  const { cache } = runtime.config.files;
  const url = cache.databaseUrl ?? (runtime.config.role === 'standalone' ? runtime.databaseUrl : undefined);
  if (url === undefined || cache.quotaBytes === 0) return undefined;
  // Bounded waits: a lookup on a request falls back to the host rather than hang when Postgres does not answer.
  const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 2_000, query_timeout: 10_000, application_name: `${runtime.config.nodeId}:file-cache` });
  // An idle connection that dies is replaced on the next query; the failed query itself is logged and counted.
  pool.on('error', (err) => runtime.logger.warn(`File cache pool: ${err.message}`, 'FileCache'));
  runtime.onStop(() => pool.end());
  const limits = { quotaBytes: cache.quotaBytes, maxBlobBytes: Math.min(cache.maxBlobBytes, cache.quotaBytes) };
  const files = new FileCache(new PostgresBlobCache(pool, cache.quotaBytes), limits, new FileCacheMetrics(registry), runtime.config.files.bytesPerSecond, runtime.logger);
  runtime.onStop(() => files.writes.close());
  return files;
}

/** The channels' history: in Redis so every gateway reads and appends the same, in memory standalone. */
function channelHistory(runtime: Runtime): ChannelHistory {
  const limits = { size: runtime.config.channels.historySize, ttlMs: runtime.config.channels.historyTtlMs };
  if (runtime.redisUrl === undefined) return new MemoryChannelHistory(limits);
  const redis = new Redis(runtime.redisUrl, { connectionName: `${runtime.config.nodeId}:channels`, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // surfaced by readiness; a failed append or read answers UNAVAILABLE
  runtime.onStop(async () => void redis.disconnect());
  return new RedisChannelHistory(redis, runtime.redisPrefix, limits);
}

/** Agents' text so far (for joiners): in Redis so a joiner on any gateway gets it, in memory standalone. */
function partialOutput(runtime: Runtime): PartialOutputStore {
  if (runtime.redisUrl === undefined) return new MemoryPartialOutputStore();
  const redis = new Redis(runtime.redisUrl, { connectionName: `${runtime.config.nodeId}:partial`, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // surfaced by readiness; a failed append or read is logged and counted
  runtime.onStop(async () => void redis.disconnect());
  return new RedisPartialOutputStore(redis, runtime.redisPrefix);
}

/**
 * How access tokens are verified (AUTH_*, docs/identity.md): an identity provider's JWKS when AUTH_JWKS_URL is
 * set, else HS256 with JWT_SECRET. Join tokens are HS256 with JWT_SECRET either way (IdentityTokens).
 */
export function accessVerifierOf(auth: Runtime['config']['auth'], jwtSecret: string): AccessTokenVerifier {
  const a = auth.access;
  return new AccessTokenVerifier({
    source:
      a.jwksUrl === undefined
        ? { kind: 'hs256', secret: jwtSecret }
        : { kind: 'jwks', url: a.jwksUrl, algorithms: a.algorithms as AsymmetricAlgorithm[], cacheMaxAgeMs: a.jwksCacheMaxAgeS * 1000, cooldownMs: a.jwksCooldownMs, timeoutMs: 5_000 },
    issuer: a.issuer,
    audience: a.audience,
    clockSkewS: a.clockSkewS,
    claims: a.claims,
  });
}

/** Runs the edge's graceful drain (both transports) before Nest closes the HTTP server. */
class SocketLifecycle implements BeforeApplicationShutdown {
  constructor(
    @Inject(Edge) private readonly edge: Edge,
    private readonly graceMs: number,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    await this.edge.drain(this.graceMs);
  }
}

/** The edge: Socket.IO and REST for clients, routing to the services over the transport. */
@Module({})
export class GatewayAppModule {
  /** `extraChecks`: readiness of what this process also hosts (standalone adds its in-process apps). */
  static register(runtime: Runtime, extraChecks: ReadinessCheck[] = []): DynamicModule {
    if (runtime.jwtSecret === undefined) throw new Error('The gateway verifies tokens: set JWT_SECRET.');
    const { config, logger } = runtime;
    const keys = new Hs256Tokens(runtime.jwtSecret);
    const tokens = new IdentityTokens(keys, keys);
    const access = accessVerifierOf(config.auth, runtime.jwtSecret);
    const registry = new Registry();
    const metrics = new GatewayMetrics(registry);
    const observe = (pattern: string, seconds: number) => metrics.transportLatency.observe({ pattern }, seconds);

    const clients = {
      session: runtime.transport.client('session'),
      presence: runtime.transport.client('presence', { 'presence.op_committed': (d: { session_id: string; doc_id: string }) => documentKey(d.session_id, d.doc_id) }),
      conflict: runtime.transport.client('conflict', { 'op.submit': (d: { payload: { session_id: string; doc_id: string } }) => documentKey(d.payload.session_id, d.payload.doc_id) }),
    };
    for (const c of Object.values(clients)) runtime.onStop(() => c.close());
    const sessions = new SessionRouter(clients.session, observe);
    const presence = new TypedClient<PresenceApi>(clients.presence, observe);
    const conflict = new TypedClient<ConflictApi>(clients.conflict, observe);
    const wsRooms = new WsRooms();
    const hub = new SocketIoHub((type, frames) => metrics.framesOut.inc({ type }, frames), wsRooms);
    const history = channelHistory(runtime);
    const fileSync = { store: fileSyncStore(runtime), bytesPerSecond: config.files.bytesPerSecond, cache: fileCache(runtime, registry), principals: new PeerPrincipals() };
    const agentDispatch = new AgentDispatch(partialOutput(runtime), logger, () => metrics.agentDispatchFailures.inc());
    const channelCounters = { gapRead: () => metrics.channelGapReads.inc(), failed: () => metrics.channelFailures.inc() };
    const channels = new ChannelStreams(history, hub, config.nodeId, channelCounters, logger, config.channels.historySize);
    const positions = setInterval(() => void channels.checkPositions(), CHANNEL_POSITION_CHECK_MS).unref();
    runtime.onStop(async () => clearInterval(positions));
    const streams = new SessionStreams(
      runtime.fanout,
      (session_id, user_id, after_seq, limit) => sessions.call('session.events', { session_id, user_id, after_seq, limit }),
      routeChannelPushes(agentDispatch.watch(hub), channels),
      logger,
    );
    const files = new FileRulesCache(sessions, logger);
    streams.observe((event) => {
      if (event.type === 'role_changed' || event.type === 'participant_removed') fileSync.principals.invalidate(event.session_id);
      if (event.type !== 'file_rules_updated') return;
      files.invalidate(event.session_id);
      void leaveForbiddenDocuments(event.session_id, edge.liveConnections(), files, logger);
    });
    const { storage, connections, streamLeases, attempts, tickets: ticketStore } = limitStores(runtime);
    const tickets = new WsTickets(ticketStore);
    const addresses = new ClientAddresses(config.edge.trustedProxies);
    const passwordGuesses = new PasswordGuesses(attempts, PASSWORD_GUESSES, logger);
    const origins = new OriginPolicy(config.edge.corsOrigins);

    const yjsMetrics = new YjsMetrics(registry);
    const makeDeps = (): GatewayDeps => {
      const push: GatewayDeps['push'] = (sessionId, audience, message, exceptPeer) => {
        metrics.messagesOut.inc({ type: message.type });
        runtime.fanout
          .publish(sessionId, { kind: 'push', message, audience, ...(exceptPeer === undefined ? {} : { except_peer: exceptPeer }), origin_node: config.nodeId })
          .catch((err: unknown) => {
            metrics.pushFailures.inc({ type: message.type });
            logger.warn(`Push ${message.type} to session ${sessionId} not published: ${(err as Error).message}`, 'Gateway');
          });
      };
      return {
        nodeId: config.nodeId,
        sessions,
        presence,
        conflict,
        streams,
        channels,
        channelHistory: history,
        agents: agentDispatch,
        metrics,
        ice: config.edge.ice,
        fileSync,
        files,
        presenceOut: new PresenceBatcher((sessionId, peers) => push(sessionId, { to: 'session' }, { type: 'presence_batch', session_id: sessionId, peers })),
        send: (connection, message) => {
          metrics.messagesOut.inc({ type: message.type });
          connection.send(message);
        },
        push,
        yjs: new YjsDocs(conflict, push, yjsMetrics, logger, (sessionId, record) => recordAudit({ sessions, metrics }, logger, sessionId, record)),
      };
    };
    const limiter = new WsRateLimiter(storage);
    const edge = new Edge(
      { maxConnectionsPerUser: config.edge.maxConnectionsPerUser, heartbeatMs: 5_000 },
      access,
      limiter,
      connections,
      handlerTable(tokens, access, logger),
      makeDeps(),
      logger,
    );
    const sockets = new SocketGateway(
      { origins, addresses, transports: config.edge.transports, redisUrl: runtime.redisUrl, redisPrefix: runtime.redisPrefix },
      edge,
      (io) => hub.bind(io),
      logger,
    );
    const ws = new WsGateway({ origins, addresses, ...config.edge.ws }, edge, wsRooms, tickets, logger);
    attachYjs({ edge, ws, hub, tokens, tickets, sessions, streams, limiter, connections, logger });
    const accepting: ReadinessCheck = {
      name: 'accepting',
      check: async () => {
        if (!edge.accepting) throw new Error('draining or not started');
      },
    };
    // The transport answers when every service client is connected (Redis reachable, reply stream read).
    const transport: ReadinessCheck = {
      name: 'transport-clients',
      check: async () => {
        for (const [service, client] of Object.entries(clients)) {
          await client.connect();
          if ((client as { isHealthy?: () => boolean }).isHealthy?.() === false) throw new Error(`${service} client not connected`);
        }
      },
    };
    const devTokens: DevTokenSettings = { enabled: config.auth.devTokens, ttlS: config.auth.accessTokenTtlS, issuer: config.auth.access.issuer, audience: config.auth.access.audience };
    return {
      module: GatewayAppModule,
      imports: [
        HealthModule.register({ useFactory: () => [accepting, transport, transportReadinessCheck(runtime), ...redisReadinessCheck(runtime), ...extraChecks] }),
        MetricsModule.register('gateway', config.nodeId, registry),
        ThrottlerModule.forRoot({
          storage,
          throttlers: [
            // REST_LIMIT_PER_MIN per client address, and the strict budget of guessable endpoints (invite codes).
            { name: 'rest', ttl: 60_000, limit: config.edge.restLimits.perRoutePerMin },
            {
              name: 'guess',
              ttl: 60_000,
              limit: config.edge.restLimits.inviteGuessesPerMin,
              blockDuration: 60_000,
              getTracker: guessTracker(addresses),
              skipIf: (ctx: ExecutionContext) => Reflect.getMetadata(STRICT_LIMIT, ctx.getHandler()) !== true,
            },
          ],
        }),
      ],
      controllers: [AuthController, SessionsController, SessionAdminController, AgentsController, StreamController, InvitesController, DocumentsController, VoiceController, FilesController, YjsDocumentsController, DocumentVersionsController],
      providers: [
        { provide: IDENTITY_TOKENS, useValue: tokens },
        { provide: ACCESS_VERIFIER, useValue: access },
        { provide: DEV_TOKEN_SETTINGS, useValue: devTokens },
        { provide: ICE_SETTINGS, useValue: config.edge.ice },
        { provide: SessionRouter, useValue: sessions },
        { provide: CONFLICT_CLIENT, useValue: conflict },
        { provide: ClientAddresses, useValue: addresses },
        { provide: OriginPolicy, useValue: origins },
        { provide: PasswordGuesses, useValue: passwordGuesses },
        { provide: RestRefusals, useValue: new RestRefusals(sessions, files, (sessionId, record) => recordAudit({ sessions, metrics }, logger, sessionId, record), metrics.restRefusalsCollapsed) },
        { provide: WS_TICKETS, useValue: tickets },
        {
          provide: STREAM_DEPS,
          useValue: {
            sessions,
            streams,
            rooms: wsRooms,
            tickets,
            access,
            logger,
            heartbeatMs: 15_000,
            partials: agentDispatch.partials,
            streamLeases,
            maxStreamsPerUser: config.edge.sseStreamsPerUser,
            refused: metrics.sseStreamsRefused,
          } satisfies StreamDeps,
        },
        { provide: Edge, useValue: edge },
        { provide: SocketGateway, useValue: sockets },
        { provide: WsGateway, useValue: ws },
        { provide: SocketLifecycle, useFactory: () => new SocketLifecycle(edge, config.shutdownGraceMs) },
        AccessTokenGuard,
        { provide: APP_GUARD, useClass: HttpThrottlerGuard },
        { provide: APP_FILTER, useValue: new HttpErrorFilter(httpRefusedCounter(registry)) },
      ],
    };
  }
}

/** App-level setup shared by the gateway's own main and the standalone process: CORS, the browser app, sockets, OpenAPI. */
export function configureGatewayApp(app: INestApplication, runtime: Runtime): void {
  const http = app.getHttpAdapter().getInstance() as Pick<Express, 'disable' | 'set' | 'get'>;
  http.disable('x-powered-by');
  // TRUSTED_PROXIES for Express too: req.ip and req.protocol agree with every per-client limit (ClientAddresses).
  http.set('trust proxy', expressTrustProxy(runtime.config.edge.trustedProxies));
  app.use(refuseUndecodablePath);
  // The same policy as every socket handshake (OriginPolicy), so REST and sockets never disagree on an origin.
  app.enableCors({ origin: new OriginPolicy(runtime.config.edge.corsOrigins).corsOrigin, credentials: true });
  if (runtime.config.edge.webApp.enabled) serveWebApp(app, runtime.config.edge.webApp.dir, runtime.logger);
  // Socket.IO first: engine.io's upgrade listener serves /socket.io/, the /ws listener everything else.
  app.get(SocketGateway).attach(app.getHttpServer());
  app.get(WsGateway).attach(app.getHttpServer());
  const doc = new DocumentBuilder()
    .setTitle('Chorus API')
    .setDescription(`REST API of Chorus. WebSocket protocol version ${PROTOCOL_VERSION}: see docs/protocol.md. Errors answer {code, message, field?, retry_after_ms?}.`)
    .setVersion('1')
    .setOpenAPIVersion(OPENAPI_VERSION)
    .addBearerAuth()
    .build();
  SwaggerModule.setup('api/docs', app, () => withEdgeErrors(SwaggerModule.createDocument(app, doc, { operationIdFactory: operationId })), { jsonDocumentUrl: 'api/docs-json' });
  // The socket protocol, beside the REST description (generated from the same schemas that validate messages).
  const publicUrl = new URL(runtime.config.auth.publicUrl);
  const asyncApi = JSON.stringify(buildAsyncApiDocument(publicUrl.host, publicUrl.protocol === 'http:' ? 'ws' : 'wss'));
  http.get(ASYNCAPI_PATH, (_req: Request, res: Response) => void res.type('application/json').send(asyncApi));
}
