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
import { YjsCompactionJob } from './yjs/yjs-compaction.job';
import { YjsHandlers } from './yjs/yjs.handlers';
import { YjsService } from './yjs/yjs.service';
import { YjsVersions } from './yjs/yjs-versions';
import { YjsVersionsHandlers } from './yjs/yjs-versions.handlers';

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
      controllers: [ConflictHandlers, YjsHandlers, YjsVersionsHandlers],
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
        // Yjs documents beside OT ones (docs/yjs.md): an append log per document, folded by a compaction job that
        // every replica schedules and one at a time runs (advisory lock).
        { provide: YjsService, inject: [getDataSourceToken(CONFLICT_DATA_SOURCE.app)], useFactory: (ds: DataSource) => new YjsService(ds) },
        // Their version history (snapshots; a restore is a new update appended through YjsService).
        { provide: YjsVersions, inject: [getDataSourceToken(CONFLICT_DATA_SOURCE.app), YjsService], useFactory: (ds: DataSource, yjs: YjsService) => new YjsVersions(ds, yjs) },
        { provide: YjsCompactionJob, inject: [getDataSourceToken(CONFLICT_DATA_SOURCE.app)], useFactory: (ds: DataSource) => new YjsCompactionJob(ds, runtime.logger) },
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
