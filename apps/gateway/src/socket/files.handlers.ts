import type { LoggerService } from '@nestjs/common';
import { authorize } from '@chorus/auth';
import type { Caller } from '@chorus/contracts';
import type { ClientMessageOf, ClientMessageType, ReplyOf, ServerMessageOf } from '@chorus/protocol';
import { rooms, type Connection, type GatewayDeps, type Membership } from './connection';
import { membershipOf } from './membership';

type Reply<T extends ClientMessageType> = Promise<Omit<ReplyOf<T>, 'id'>>;

function caller(socket: Connection, m: Membership): Caller {
  return { user_id: socket.data.identity.user_id, client_id: m.peer_id, role: m.role };
}

/** Document subscriptions (close_document) and the conflict workflow (resolve_conflict): docs/files.md. */
export class FileMessageHandlers {
  constructor(private readonly logger: LoggerService) {}

  /**
   * Leaves the document's room on this gateway: no more `op` pushes of it reach this connection. Without
   * `session_id`, in every session of the connection. Reopen with `open_document` (a `submit_op` rejoins too).
   */
  async closeDocument(socket: Connection, m: ClientMessageOf<'close_document'>): Reply<'close_document'> {
    const sessionIds = m.session_id !== undefined ? [membershipOf(socket, m.session_id).session_id] : [...socket.data.memberships.keys()];
    const closed: string[] = [];
    for (const sessionId of sessionIds) {
      const room = rooms.document(sessionId, m.doc_id);
      if (!socket.rooms.has(room)) continue;
      await socket.leave(room);
      closed.push(sessionId);
    }
    return { type: 'document_closed', doc_id: m.doc_id, session_ids: closed };
  }

  /**
   * Resolves a recorded conflict: the conflict service applies the chosen text as an op of the resolver (durable),
   * the session service appends the `conflict_resolved` audit event (durable, once per conflict), then the op goes
   * to the document's room — the resolver's own connection included, since its editor has not applied it — and
   * `conflict_resolved` to the session. A retry by the same resolver with the same choice repeats the pushes and
   * commits nothing new.
   */
  async resolveConflict(socket: Connection, m: ClientMessageOf<'resolve_conflict'>, deps: GatewayDeps): Reply<'resolve_conflict'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'conflict.resolve');
    const who = caller(socket, membership);
    const conflict = await deps.conflict.call('conflict.get', { caller: who, payload: { session_id: m.session_id, conflict_id: m.conflict_id } });
    await deps.files.authorize(m.session_id, { role: membership.role, user_id: who.user_id }, conflict.doc_id, 'edit');
    const r = await deps.conflict.call('conflict.resolve', {
      caller: who,
      payload: { session_id: m.session_id, conflict_id: m.conflict_id, strategy: m.strategy, ...(m.text !== undefined ? { text: m.text } : {}) },
    });
    await deps.sessions.call('conflict.audit', { session_id: m.session_id, user_id: who.user_id, conflict_id: r.conflict_id, doc_id: r.doc_id, strategy: r.strategy, version: r.broadcast.version });
    deps.push(m.session_id, { to: 'document', doc_id: r.doc_id }, { type: 'op', session_id: m.session_id, ...r.broadcast });
    const resolved: ServerMessageOf<'conflict_resolved'> = {
      type: 'conflict_resolved',
      session_id: m.session_id,
      conflict_id: r.conflict_id,
      doc_id: r.doc_id,
      strategy: r.strategy,
      text: r.text,
      version: r.broadcast.version,
      resolved_by: r.resolved_by,
      peer_id: membership.peer_id,
      resolved_at: r.resolved_at,
    };
    deps.push(m.session_id, { to: 'session' }, resolved, membership.peer_id);
    if (!r.duplicate) {
      void deps.presence
        .emit('presence.op_committed', { session_id: m.session_id, doc_id: r.doc_id, version: r.broadcast.version, op: r.broadcast.op, author_peer_id: r.broadcast.peer_id })
        .catch((err: unknown) => {
          deps.metrics.presenceEmitFailures.inc();
          this.logger.warn(`presence.op_committed for ${r.doc_id}@${r.broadcast.version} (resolution) not sent: ${(err as Error).message}`, 'FileMessageHandlers');
        });
    }
    return resolved;
  }
}
