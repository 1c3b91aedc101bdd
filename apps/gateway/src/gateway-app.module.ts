import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ThrottlerModule, type ThrottlerStorage } from '@nestjs/throttler';
import type { ExecutionContext } from '@nestjs/common';
import Redis from 'ioredis';
import { Hs256Tokens, IdentityTokens } from '@chorus/auth';
import { PROTOCOL_VERSION } from '@chorus/protocol';
import { HealthModule, redisReadinessCheck, type ReadinessCheck, type Runtime } from '@chorus/runtime';
import { AccessTokenGuard, IDENTITY_TOKENS } from './http/auth';
import { AuthController, DEV_TOKEN_SETTINGS, type DevTokenSettings } from './http/auth.controller';
import { HttpErrorFilter } from './http/http-error.filter';
import { InvitesController } from './http/invites.controller';
import { SessionsController } from './http/sessions.controller';
import { HttpThrottlerGuard, STRICT_LIMIT, guessTracker } from './limits/http-throttler.guard';
import { RedisThrottlerStorage } from './limits/redis-throttler.storage';
import { SessionRouter } from './routing/session.router';

/** REST budget per client address per minute, and the strict budget of guessable endpoints (invite codes). */
const REST_LIMIT_PER_MIN = 600;
const GUESS_LIMIT_PER_MIN = 10;

function throttlerStorage(runtime: Runtime): ThrottlerStorage | undefined {
  if (runtime.redisUrl === undefined) return undefined; // the throttler's own in-memory storage
  const redis = new Redis(runtime.redisUrl, { connectionName: `${runtime.config.nodeId}:throttle`, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // surfaced by readiness; a failed increment fails the request with SERVER_ERROR
  runtime.onStop(async () => void redis.disconnect());
  return new RedisThrottlerStorage(redis, runtime.redisPrefix);
}

/** The edge: Socket.IO and REST for clients, routing to the services over the transport. */
@Module({})
export class GatewayAppModule {
  /** `extraChecks`: readiness of what this process also hosts (standalone adds its in-process apps). */
  static register(runtime: Runtime, extraChecks: ReadinessCheck[] = []): DynamicModule {
    if (runtime.jwtSecret === undefined) throw new Error('The gateway verifies tokens: set JWT_SECRET.');
    const keys = new Hs256Tokens(runtime.jwtSecret);
    const sessionClient = runtime.transport.client('session');
    runtime.onStop(() => sessionClient.close());
    const devTokens: DevTokenSettings = { enabled: runtime.config.auth.devTokens, ttlS: runtime.config.auth.accessTokenTtlS };
    const storage = throttlerStorage(runtime);
    return {
      module: GatewayAppModule,
      imports: [
        HealthModule.register({ useFactory: () => [...redisReadinessCheck(runtime), ...extraChecks] }),
        ThrottlerModule.forRoot({
          ...(storage ? { storage } : {}),
          throttlers: [
            { name: 'rest', ttl: 60_000, limit: REST_LIMIT_PER_MIN },
            {
              name: 'guess',
              ttl: 60_000,
              limit: GUESS_LIMIT_PER_MIN,
              blockDuration: 60_000,
              getTracker: guessTracker,
              skipIf: (ctx: ExecutionContext) => Reflect.getMetadata(STRICT_LIMIT, ctx.getHandler()) !== true,
            },
          ],
        }),
      ],
      controllers: [AuthController, SessionsController, InvitesController],
      providers: [
        { provide: IDENTITY_TOKENS, useValue: new IdentityTokens(keys, keys) },
        { provide: DEV_TOKEN_SETTINGS, useValue: devTokens },
        { provide: SessionRouter, useValue: new SessionRouter(sessionClient) },
        AccessTokenGuard,
        { provide: APP_GUARD, useClass: HttpThrottlerGuard },
        { provide: APP_FILTER, useClass: HttpErrorFilter },
      ],
    };
  }
}

/** App-level setup shared by the gateway's own main and the standalone process. */
export function configureGatewayApp(app: INestApplication): void {
  const http = app.getHttpAdapter().getInstance() as { disable(setting: string): void };
  http.disable('x-powered-by');
  const doc = new DocumentBuilder()
    .setTitle('Chorus API')
    .setDescription(`REST API of Chorus. WebSocket protocol version ${PROTOCOL_VERSION}: see docs/protocol.md. Errors answer {code, message, field?, retry_after_ms?}.`)
    .setVersion('1')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'api/docs-json' });
}
