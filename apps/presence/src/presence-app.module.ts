import { Module, type DynamicModule } from '@nestjs/common';
import Redis from 'ioredis';
import { HealthModule, MetricsModule, redisReadinessCheck, transportReadinessCheck, type Runtime } from '@chorus/runtime';
import { MemoryPresenceStore, PresenceService, RedisPresenceStore, type PresenceStore } from './presence';
import { PresenceBroadcaster } from './presence-broadcaster';
import { PresenceHandlers } from './presence.handlers';
import { SelectionBatcher } from './selection-batcher';

function presenceStore(runtime: Runtime): PresenceStore {
  if (runtime.redisUrl === undefined) return new MemoryPresenceStore();
  const redis = new Redis(runtime.redisUrl, { connectionName: `${runtime.config.nodeId}:presence`, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // surfaced by readiness and by failing requests
  runtime.onStop(async () => void redis.disconnect());
  return new RedisPresenceStore(redis, { prefix: runtime.redisPrefix });
}

/** The presence service: who is here, where their cursors are, who is typing — leased state in Redis. */
@Module({})
export class PresenceAppModule {
  static register(runtime: Runtime): DynamicModule {
    const service = new PresenceService(presenceStore(runtime));
    return {
      module: PresenceAppModule,
      imports: [MetricsModule.register('presence', runtime.config.nodeId), HealthModule.register({ useFactory: () => [...redisReadinessCheck(runtime), transportReadinessCheck(runtime)] })],
      controllers: [PresenceHandlers],
      providers: [
        { provide: PresenceService, useValue: service },
        { provide: SelectionBatcher, useValue: new SelectionBatcher(service) },
        {
          provide: PresenceBroadcaster,
          useFactory: () => new PresenceBroadcaster(service, runtime.fanout, runtime.transport.client('session'), runtime.config.nodeId, runtime.logger),
        },
      ],
    };
  }
}
