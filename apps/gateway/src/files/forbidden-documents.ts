import type { LoggerService } from '@nestjs/common';
import { rooms, type Connection } from '../socket/connection';
import type { FileRulesCache } from './file-rules.cache';

/**
 * After a session's path rules changed: every local connection of the session leaves the rooms of documents its
 * participant may no longer read (`none`), so a rule that hides a file also stops the op pushes of a copy already
 * open. Runs on each gateway when `file_rules_updated` reaches it (after its cache dropped the old rules). A
 * failed read of the new rules is logged; the next document action of those connections fails closed anyway.
 */
export async function leaveForbiddenDocuments(sessionId: string, connections: Iterable<Connection>, files: FileRulesCache, logger: LoggerService): Promise<number> {
  const prefix = rooms.document(sessionId, '');
  let left = 0;
  try {
    for (const connection of connections) {
      const membership = connection.data.memberships.get(sessionId);
      if (!membership) continue;
      for (const room of [...connection.rooms]) {
        if (!room.startsWith(prefix)) continue;
        const decision = await files.decide(sessionId, { role: membership.role, user_id: connection.data.identity.user_id }, room.slice(prefix.length));
        if (decision.access !== 'none') continue;
        await connection.leave(room);
        left++;
      }
    }
  } catch (err) {
    logger.warn(`Session ${sessionId}: documents hidden by the new path rules not closed on every connection: ${(err as Error).message}`, 'FileRules');
  }
  return left;
}
