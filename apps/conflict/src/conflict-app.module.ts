import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { typeOrmModuleOptions } from '@chorus/database';
import { TypedClient, type SessionApi } from '@chorus/contracts';
import { HealthModule, METRICS_REGISTRY, MetricsModule, redisReadinessCheck, transportReadinessCheck, type Runtime } from '@chorus/runtime';
import { CONFLICT_DATA_SOURCE } from './persistence/conflict.data-source';
import type { Registry } from 'prom-client';
import { ConflictHandlers } from './conflict.handlers';
import { registerConflictMetrics, registerLockExpiryMetrics, registerPurgeBackstopMetrics } from './conflict.metrics';
import { ConflictService } from './conflict.service';
import { CompactionJob } from './documents/compaction.job';
import { DEFAULT_PURGE_BACKSTOP_BATCH, PurgeBackstopJob } from './documents/purge-backstop.job';
import { LockExpiryJob } from './locks/lock-expiry.job';

/** The conflict service: shared documents merged by operational transformation, committed in Postgres. */
@Module({})
export class ConflictAppModule {
  static register(runtime: Runtime): DynamicModule {
    const url = requireDatabase(runtime);
    return {
      module: ConflictAppModule,
      imports: [
        MetricsModule.register('conflict', runtime.config.nodeId),
        TypeOrmModule.forRoot(typeOrmModuleOptions(CONFLICT_DATA_SOURCE, url, runtime.dbPoolMax)),
        HealthModule.register({
          inject: [getDataSourceToken(CONFLICT_DATA_SOURCE.app)],
          useFactory: (ds: DataSource) => [{ name: 'postgres', check: async () => void (await ds.query('SELECT 1')) }, ...redisReadinessCheck(runtime), transportReadinessCheck(runtime)],
        }),
      ],
      // The handler-facing API (one call per message handler). One instance per replica; order is decided in
      // Postgres, so any number of replicas can serve the same documents.
      controllers: [ConflictHandlers],
      providers: [
        {
          provide: ConflictService,
          inject: [getDataSourceToken(CONFLICT_DATA_SOURCE.app), METRICS_REGISTRY],
          useFactory: (ds: DataSource, registry: Registry) => {
            const service = new ConflictService(ds, { preparedStatements: runtime.preparedStatements }, runtime.logger);
            registerConflictMetrics(registry, service);
            return service;
          },
        },
        {
          provide: LockExpiryJob,
          inject: [ConflictService, METRICS_REGISTRY],
          useFactory: (documents: ConflictService, registry: Registry) => {
            // Each expiry goes to the session's audit trail (the session service, over the transport).
            const sessions = new TypedClient<SessionApi>(runtime.transport.client('session'));
            runtime.onStop(async () => void (await sessions.proxy.close()));
            const job = new LockExpiryJob(documents, runtime.fanout, runtime.config.nodeId, runtime.logger, 1_000, async (e) => {
              await sessions.call('audit.record', { session_id: e.session_id, record: { kind: 'lock_released', doc_id: e.doc_id, holder_id: e.holder_id, by: 'system', reason: 'expired' } });
            });
            registerLockExpiryMetrics(registry, () => job.counts());
            return job;
          },
        },
        {
          // Every replica schedules it; one at a time compacts (advisory lock). Retention: docs/conflict.md;
          // settings: CONFLICT_COMPACTION_* (libs/config).
          provide: CompactionJob,
          inject: [getDataSourceToken(CONFLICT_DATA_SOURCE.app)],
          useFactory: (ds: DataSource) => new CompactionJob(ds, runtime.logger, runtime.config.conflict.compaction),
        },
        {
          // Every replica schedules it; one at a time runs a pass (advisory lock). It asks the session service
          // over the transport which sessions are gone: apps never import each other. docs/conflict.md.
          provide: PurgeBackstopJob,
          inject: [getDataSourceToken(CONFLICT_DATA_SOURCE.app), ConflictService, METRICS_REGISTRY],
          useFactory: (ds: DataSource, documents: ConflictService, registry: Registry) => {
            const sessions = new TypedClient<SessionApi>(runtime.transport.client('session'));
            runtime.onStop(async () => void (await sessions.proxy.close()));
            const job = new PurgeBackstopJob(ds, documents, sessions, runtime.logger, { intervalMs: runtime.config.conflict.purgeBackstopIntervalMs, batch: DEFAULT_PURGE_BACKSTOP_BATCH });
            registerPurgeBackstopMetrics(registry, () => job.counts());
            return job;
          },
        },
      ],
      exports: [ConflictService],
    };
  }
}

function requireDatabase(runtime: Runtime): string {
  if (runtime.databaseUrl === undefined) throw new Error('The conflict service needs Postgres: set DATABASE_URL.');
  return runtime.databaseUrl;
}
