import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Hs256Tokens, IdentityTokens } from '@chorus/auth';
import { typeOrmModuleOptions } from '@chorus/database';
import type { Registry } from 'prom-client';
import type { SessionEventOf } from '@chorus/contracts';
import { HealthModule, METRICS_REGISTRY, MetricsModule, redisReadinessCheck, transportReadinessCheck, type Runtime } from '@chorus/runtime';
import { SessionEventLog } from './events/event-log';
import { SessionEventPublisher } from './events/event-publisher';
import { SESSION_DATA_SOURCE } from './persistence/session.data-source';
import { FileRulesHandlers } from './files/file-rules.handlers';
import { FileRulesService } from './files/file-rules.service';
import { SessionHandlers } from './session.handlers';
import { registerSessionMetrics } from './session.metrics';
import { registerAgentMetrics } from './agents/agent.metrics';
import { DEFAULT_JANITOR_OPTIONS, SessionJanitor } from './sessions/janitor';
import { SessionService } from './sessions/session.service';
import { AgentService } from './agents/agent.service';
import { LeaseSweeper } from './agents/lease-sweeper';
import { ActivitySweeper } from './agents/activity-recorder';
import { AuditTrail } from './sessions/audit-trail';
import { SessionAdminHandlers } from './sessions/session-admin.handlers';
import { SessionAdminService } from './sessions/session-admin.service';
import { Counter } from 'prom-client';

const DATA_SOURCE = getDataSourceToken(SESSION_DATA_SOURCE.app);

/** The session service: sessions, participants, invites and the session event stream in Postgres. */
@Module({})
export class SessionAppModule {
  static register(runtime: Runtime): DynamicModule {
    const url = required(runtime.databaseUrl, 'The session service needs Postgres: set DATABASE_URL.');
    const secret = required(runtime.jwtSecret, 'The session service signs join tokens: set JWT_SECRET.');
    const auth = runtime.config.auth;
    return {
      module: SessionAppModule,
      imports: [
        MetricsModule.register('session', runtime.config.nodeId),
        TypeOrmModule.forRoot(typeOrmModuleOptions(SESSION_DATA_SOURCE, url, runtime.dbPoolMax)),
        HealthModule.register({
          inject: [DATA_SOURCE],
          useFactory: (ds: DataSource) => [{ name: 'postgres', check: async () => void (await ds.query('SELECT 1')) }, ...redisReadinessCheck(runtime), transportReadinessCheck(runtime)],
        }),
      ],
      controllers: [SessionHandlers, SessionAdminHandlers, FileRulesHandlers],
      providers: [
        {
          provide: SessionEventLog,
          inject: [DATA_SOURCE, METRICS_REGISTRY],
          useFactory: (ds: DataSource, registry: Registry) => {
            const log = new SessionEventLog(ds, { logger: runtime.logger });
            registerSessionMetrics(registry, log);
            registerAgentMetrics(registry, ds, runtime.logger);
            return log;
          },
        },
        {
          provide: FileRulesService,
          inject: [DATA_SOURCE, SessionEventLog],
          useFactory: (ds: DataSource, log: SessionEventLog) => new FileRulesService(ds, log, new SessionEventPublisher(runtime.fanout, runtime.config.nodeId, runtime.logger)),
        },
        {
          provide: SessionJanitor,
          inject: [DATA_SOURCE],
          useFactory: (ds: DataSource) => new SessionJanitor(ds, runtime.logger, { ...DEFAULT_JANITOR_OPTIONS, auditRetentionS: runtime.config.sessions.auditRetentionS }),
        },
        {
          provide: AuditTrail,
          inject: [SessionEventLog, METRICS_REGISTRY],
          useFactory: (log: SessionEventLog, registry: Registry) => {
            const audit = new AuditTrail(log, new SessionEventPublisher(runtime.fanout, runtime.config.nodeId, runtime.logger), runtime.logger);
            new Counter({
              name: 'chorus_session_audit_failures_total',
              help: 'Audit events (refusals, lock changes) this replica could not record (each logged as an error)',
              registers: [registry],
              collect() {
                this.reset();
                this.inc(audit.failures());
              },
            });
            return audit;
          },
        },
        {
          provide: SessionAdminService,
          inject: [DATA_SOURCE, SessionEventLog, AuditTrail],
          useFactory: (ds: DataSource, log: SessionEventLog, audit: AuditTrail) =>
            new SessionAdminService(ds, log, new SessionEventPublisher(runtime.fanout, runtime.config.nodeId, runtime.logger), audit),
        },
        {
          provide: AgentService,
          inject: [DATA_SOURCE, SessionEventLog],
          useFactory: (ds: DataSource, log: SessionEventLog) => {
            const tokens = new Hs256Tokens(secret);
            const agents = runtime.config.agents;
            return new AgentService(ds, log, new IdentityTokens(tokens, tokens), new SessionEventPublisher(runtime.fanout, runtime.config.nodeId, runtime.logger), {
              leaseMs: agents.leaseMs,
              maxAttempts: agents.maxAttempts,
              agentTokenTtlS: 30 * 24 * 3600,
              activity: { coalesceMs: agents.activityCoalesceMs, maxRunMs: 60_000 },
            });
          },
        },
        // A lapsed lease is found within a quarter of the lease (every replica sweeps; the release re-checks under the queue lock).
        { provide: LeaseSweeper, inject: [AgentService], useFactory: (agents: AgentService) => new LeaseSweeper(agents, runtime.logger, Math.max(100, Math.floor(runtime.config.agents.leaseMs / 4))) },
        // Paused runs of edits and due status changes are recorded within half an interval (every replica sweeps).
        { provide: ActivitySweeper, inject: [AgentService], useFactory: (agents: AgentService) => new ActivitySweeper(agents.recorder, Math.max(100, Math.floor(runtime.config.agents.activityCoalesceMs / 2)), runtime.logger) },
        {
          provide: SessionService,
          inject: [DATA_SOURCE, SessionEventLog, AuditTrail],
          useFactory: (ds: DataSource, log: SessionEventLog, audit: AuditTrail) => {
            const tokens = new Hs256Tokens(secret);
            return new SessionService(
              ds,
              log,
              new IdentityTokens(tokens, tokens),
              {
                joinTokenTtlS: auth.joinTokenTtlS,
                publicUrl: auth.publicUrl,
                defaultInviteTtlS: 7 * 24 * 3600,
                inviteTokenSecret: secret,
                afterChatCommit: crashAfterChatCommit(runtime.config.testHooks.crashAfterChatCommit),
                caps: { createdPerDay: runtime.config.sessions.createdPerDay, openPerUser: runtime.config.sessions.openPerUser },
              },
              new SessionEventPublisher(runtime.fanout, runtime.config.nodeId, runtime.logger),
              audit,
            );
          },
        },
      ],
    };
  }
}

/**
 * TEST_CRASH_AFTER_CHAT_COMMIT (tests only): die like a `kill -9` between a chat message's commit and its
 * reply, so a test can show that the redelivery and the client's resend store it once.
 */
function crashAfterChatCommit(marker: string | undefined): ((event: SessionEventOf<'chat_message'>) => void) | undefined {
  if (marker === undefined) return undefined;
  return (event) => {
    if (event.payload.message.includes(marker)) process.kill(process.pid, 'SIGKILL');
  };
}

function required<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new Error(message);
  return value;
}
