import type { LoggerService } from '@nestjs/common';
import type { Connection, GatewayDeps } from './connection';

/**
 * An agent's committed OT op, for the activity feed (docs/agents.md): the session service coalesces an agent's
 * consecutive ops on one document into one `document_edited` entry with the version range. Awaited before the
 * ack, so a resent op (after a lost ack) reports again; a report that fails is logged and counted, and the op is
 * acked all the same (it is committed: the document's history in the conflict service keeps it either way).
 */
export async function recordAgentEdit(deps: Pick<GatewayDeps, 'sessions' | 'metrics'>, logger: LoggerService, socket: Connection, sessionId: string, docId: string, version: number): Promise<void> {
  try {
    await deps.sessions.call('agent.edited', { actor: socket.data.identity, session_id: sessionId, doc_id: docId, version });
  } catch (err) {
    deps.metrics.agentActivityFailures.inc({ kind: 'edit' });
    logger.warn(`Edit ${docId}@${version} by ${socket.data.identity.user_id} not recorded in the activity feed: ${(err as Error).message}`, 'AgentActivity');
  }
}
