import { Module, type DynamicModule } from '@nestjs/common';
import Redis from 'ioredis';
import { HealthModule, MetricsModule, redisReadinessCheck, transportReadinessCheck, type Runtime } from '@chorus/runtime';
import { MemoryExpiryOutbox, MemoryPresenceStore, PresenceService, RedisExpiryOutbox, RedisPresenceStore, type ExpiryOutbox, type PresenceStore } from './presence';
import { PresenceBroadcaster } from './presence-broadcaster';
import { PresenceHandlers } from './presence.handlers';
import { SelectionBatcher } from './selection-batcher';

function presenceStorage(runtime: Runtime): { store: PresenceStore; outbox: ExpiryOutbox } {
  // The store enqueues claimed expiries into the outbox itself (claim and enqueue are one atomic step).
  if (runtime.redisUrl === undefined) {
    const outbox = new MemoryExpiryOutbox();
    return { store: new MemoryPresenceStore({ outbox }), outbox };
  }
  const redis = new Redis(runtime.redisUrl, { connectionName: `${runtime.config.nodeId}:presence`, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // surfaced by readiness and by failing requests
  runtime.onStop(async () => void redis.disconnect());
  const outbox = new RedisExpiryOutbox(redis, runtime.redisPrefix);
  return { store: new RedisPresenceStore(redis, { prefix: runtime.redisPrefix, outbox }), outbox };
}

/** The presence service: who is here, where their cursors are, who is typing — leased state in Redis. */
@Module({})
export class PresenceAppModule {
  static register(runtime: Runtime): DynamicModule {
    const { store, outbox } = presenceStorage(runtime);
    const service = new PresenceService(store);
    return {
      module: PresenceAppModule,
      imports: [MetricsModule.register('presence', runtime.config.nodeId), HealthModule.register({ useFactory: () => [...redisReadinessCheck(runtime), transportReadinessCheck(runtime)] })],
      controllers: [PresenceHandlers],
      providers: [
        { provide: PresenceService, useValue: service },
        { provide: SelectionBatcher, useValue: new SelectionBatcher(service) },
        {
          provide: PresenceBroadcaster,
          useFactory: () => new PresenceBroadcaster(service, runtime.fanout, runtime.transport.client('session'), runtime.config.nodeId, runtime.logger, outbox),
        },
      ],
    };
  }
}
