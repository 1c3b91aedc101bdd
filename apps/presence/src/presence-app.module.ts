import { Module, type DynamicModule } from '@nestjs/common';
import Redis from 'ioredis';
import { Counter, Registry } from 'prom-client';
import { TypedClient, type Caller, type ConflictApi } from '@chorus/contracts';
import { HealthModule, MetricsModule, redisReadinessCheck, transportReadinessCheck, type Runtime } from '@chorus/runtime';
import { MemoryExpiryOutbox, MemoryPresenceStore, PresenceService, RedisExpiryOutbox, RedisPresenceStore, type ExpiryOutbox, type PresenceStore } from './presence';
import { PresenceBroadcaster } from './presence-broadcaster';
import { PresenceHandlers } from './presence.handlers';
import { SelectionBatcher, type CommittedOpsSource } from './selection-batcher';
import { MemoryVoiceRoomStore, RedisVoiceRoomStore, VoiceService, type VoiceRoomStore } from './voice';

function presenceStorage(runtime: Runtime): { store: PresenceStore; outbox: ExpiryOutbox; rooms: VoiceRoomStore } {
  // The store enqueues claimed expiries into the outbox itself (claim and enqueue are one atomic step).
  if (runtime.redisUrl === undefined) {
    const outbox = new MemoryExpiryOutbox();
    return { store: new MemoryPresenceStore({ outbox }), outbox, rooms: new MemoryVoiceRoomStore() };
  }
  const redis = new Redis(runtime.redisUrl, { connectionName: `${runtime.config.nodeId}:presence`, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // surfaced by readiness and by failing requests
  runtime.onStop(async () => void redis.disconnect());
  const outbox = new RedisExpiryOutbox(redis, runtime.redisPrefix);
  return { store: new RedisPresenceStore(redis, { prefix: runtime.redisPrefix, outbox }), outbox, rooms: new RedisVoiceRoomStore(redis, runtime.redisPrefix) };
}

/**
 * The conflict service's op log, read by presence to fill a gap in the committed ops it was told about. Presence
 * reads as a service identity, never as a participant: role `viewer` is the least one that may `document.read`.
 */
function conflictOpLog(runtime: Runtime): CommittedOpsSource {
  const conflict = new TypedClient<ConflictApi>(runtime.transport.client('conflict'));
  runtime.onStop(() => conflict.proxy.close());
  const caller: Caller = { user_id: 'service:presence', client_id: `presence:${runtime.config.nodeId}`, role: 'viewer' };
  return (session_id, doc_id, from_version) => conflict.call('ops.fetch', { caller, payload: { session_id, doc_id, from_version } });
}

/** The presence service: who is here, where their cursors are, who is typing — leased state in Redis. */
@Module({})
export class PresenceAppModule {
  static register(runtime: Runtime): DynamicModule {
    const { store, outbox, rooms } = presenceStorage(runtime);
    const service = new PresenceService(store, { idleAfterMs: runtime.config.presence.idleAfterMs });
    const voice = new VoiceService(rooms, store);
    const registry = new Registry();
    const committedOps = new Counter({
      name: 'chorus_presence_committed_ops_total',
      help: 'Committed ops told to presence, by what became of them (applied, duplicate, filled, skipped, invalid, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    const selections = new SelectionBatcher(service, conflictOpLog(runtime), runtime.logger, (outcome, n) => committedOps.inc({ outcome }, n));
    runtime.onStop(async () => selections.close());
    return {
      module: PresenceAppModule,
      imports: [MetricsModule.register('presence', runtime.config.nodeId, registry), HealthModule.register({ useFactory: () => [...redisReadinessCheck(runtime), transportReadinessCheck(runtime)] })],
      controllers: [PresenceHandlers],
      providers: [
        { provide: PresenceService, useValue: service },
        { provide: SelectionBatcher, useValue: selections },
        { provide: VoiceService, useValue: voice },
        {
          provide: PresenceBroadcaster,
          useFactory: () => new PresenceBroadcaster(service, runtime.fanout, runtime.transport.client('session'), runtime.config.nodeId, runtime.logger, outbox, voice),
        },
      ],
    };
  }
}
