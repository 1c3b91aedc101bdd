import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Hs256Tokens, IdentityTokens, type Identity } from '@chorus/auth';
import { outboundCodec, type OutboundMessage } from '@chorus/contracts';
import { dataSourceOptions } from '@chorus/database';
import { MemoryFanout } from '@chorus/fanout';
import { SessionEventLog } from '../events/event-log';
import { SessionEventPublisher } from '../events/event-publisher';
import { SESSION_DATA_SOURCE } from '../persistence/session.data-source';
import { participantsRepo } from '../sessions/session.repository';
import { SessionService } from '../sessions/session.service';
import { AgentService, type AgentServiceOptions } from '../agents/agent.service';
import { migratedSessionDatabase } from './session-db';

export const ALICE: Identity = { user_id: 'alice', display_name: 'Alice', kind: 'human' };
export const BOB: Identity = { user_id: 'bob', display_name: 'Bob', kind: 'human' };

export interface SessionReplicas {
  readonly env: Awaited<ReturnType<typeof migratedSessionDatabase>>;
  /** Independent services, each on its own pool of one migrated database: replicas of the session app. */
  readonly replicas: SessionService[];
  /** The agents and prompt queue of each replica (same databases). */
  readonly agents: AgentService[];
  /** A session owned by Alice with Bob as an editor. */
  sessionWithBob(name?: string): Promise<string>;
  close(): Promise<void>;
}

/** `count` session-service replicas over one fresh migrated database, for tests of races between replicas. */
export async function sessionReplicas(label: string, count = 3, agentOptions: AgentServiceOptions = { leaseMs: 30_000, maxAttempts: 3, agentTokenTtlS: 3600 }): Promise<SessionReplicas> {
  const env = await migratedSessionDatabase(label);
  const logger = new Logger(label);
  const tokens = new Hs256Tokens('a-test-secret-that-is-long-enough-0123456789');
  const serviceOn = (ds: DataSource) =>
    new SessionService(ds, new SessionEventLog(ds, { logger }), new IdentityTokens(tokens, tokens), { joinTokenTtlS: 60, publicUrl: 'http://localhost', defaultInviteTtlS: 3600, inviteTokenSecret: 'invite-secret-for-tests-0123456789' }, new SessionEventPublisher(new MemoryFanout<OutboundMessage>(outboundCodec, (reason) => logger.error(`fan-out drop: ${reason}`)), 'test', logger));
  const agentsOn = (ds: DataSource) =>
    new AgentService(ds, new SessionEventLog(ds, { logger }), new IdentityTokens(tokens, tokens), new SessionEventPublisher(new MemoryFanout<OutboundMessage>(outboundCodec, (reason) => logger.error(`fan-out drop: ${reason}`)), 'test', logger), agentOptions);
  const extra: DataSource[] = [];
  const replicas = [serviceOn(env.ds)];
  const agents = [agentsOn(env.ds)];
  for (let i = 1; i < count; i++) {
    const ds = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, env.db.url, 4));
    await ds.initialize();
    extra.push(ds);
    replicas.push(serviceOn(ds));
    agents.push(agentsOn(ds));
  }
  return {
    env,
    replicas,
    agents,
    async sessionWithBob(name = label) {
      const created = await replicas[0].create(ALICE, { name });
      await participantsRepo.upsert(env.ds, { session_id: created.session_id, ...BOB, role: 'editor' });
      return created.session_id;
    },
    async close() {
      await Promise.all(extra.map((ds) => ds.destroy()));
      await env.close();
    },
  };
}
