import type { LoggerService } from '@nestjs/common';
import { fileHostField } from './file-sync.handlers';
import { authorize } from '@chorus/auth';
import type { Caller, PresenceEvent } from '@chorus/contracts';
import type { ClientMessageOf, ClientMessageType, ReplyOf } from '@chorus/protocol';
import { rooms, type Connection, type GatewayDeps, type Membership } from './connection';
import { broadcastPresence, membershipOf } from './membership';
import { recordAudit } from './audit';
import { recordAgentEdit } from './agent-activity';

type Reply<T extends ClientMessageType> = Promise<Omit<ReplyOf<T>, 'id'>>;

function caller(socket: Connection, m: Membership): Caller {
  return { user_id: socket.data.identity.user_id, client_id: m.peer_id, role: m.role };
}

/** The session's path rules for this document and action (docs/files.md), after the role matrix. */
function checkFile(deps: GatewayDeps, socket: Connection, m: Membership, docId: string, action: 'read' | 'edit'): Promise<void> {
  return deps.files.authorize(m.session_id, { role: m.role, user_id: socket.data.identity.user_id }, docId, action);
}

function own<T extends PresenceEvent['type']>(events: PresenceEvent[], type: T, peerId: string): Extract<PresenceEvent, { type: T }> | undefined {
  return events.find((e): e is Extract<PresenceEvent, { type: T }> => e.type === type && e.peer_id === peerId);
}

/** Presence (presence_update, who, typing, stop_typing) and documents (open, submit, fetch, locks). */
export class LiveMessageHandlers {
  constructor(private readonly logger: LoggerService) {}

  async presenceUpdate(socket: Connection, m: ClientMessageOf<'presence_update'>, deps: GatewayDeps): Reply<'presence_update'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'presence.update');
    const { type: _t, id: _i, session_id, ...patch } = m;
    const events = await deps.presence.call('presence.update', { session_id, peer_id: membership.peer_id, patch });
    broadcastPresence(deps, events);
    const mine = own(events, 'presence_update', membership.peer_id) ?? (await this.viewOf(deps, session_id, membership.peer_id));
    return mine;
  }

  async who(socket: Connection, m: ClientMessageOf<'who'>, deps: GatewayDeps): Reply<'who'> {
    membershipOf(socket, m.session_id);
    const [peers, voice] = await Promise.all([deps.presence.call('presence.who', { session_id: m.session_id }), deps.presence.call('voice.list', { session_id: m.session_id })]);
    return { type: 'presence_list', session_id: m.session_id, peers, voice, ...(await fileHostField(deps, m.session_id, peers, this.logger)) };
  }

  async typing(socket: Connection, m: ClientMessageOf<'typing'>, deps: GatewayDeps): Reply<'typing'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'presence.update');
    const docId = m.doc_id ?? null;
    const events = await deps.presence.call('presence.typing', { session_id: m.session_id, peer_id: membership.peer_id, doc_id: docId });
    broadcastPresence(deps, events);
    return { type: 'typing_start', session_id: m.session_id, peer_id: membership.peer_id, user_id: socket.data.identity.user_id, doc_id: docId };
  }

  async stopTyping(socket: Connection, m: ClientMessageOf<'stop_typing'>, deps: GatewayDeps): Reply<'stop_typing'> {
    const membership = membershipOf(socket, m.session_id);
    const events = await deps.presence.call('presence.stop_typing', { session_id: m.session_id, peer_id: membership.peer_id });
    broadcastPresence(deps, events);
    const stopped = events.find((e): e is Extract<PresenceEvent, { doc_id: string | null }> => e.type === 'typing_stop' && e.peer_id === membership.peer_id);
    return { type: 'typing_stop', session_id: m.session_id, peer_id: membership.peer_id, user_id: socket.data.identity.user_id, doc_id: stopped?.doc_id ?? null };
  }

  async openDocument(socket: Connection, m: ClientMessageOf<'open_document'>, deps: GatewayDeps): Reply<'open_document'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'document.read');
    await checkFile(deps, socket, membership, m.doc_id, 'read');
    // Join the room first: an op committed between the read and the join would otherwise be missed.
    await socket.join(rooms.document(m.session_id, m.doc_id));
    const state = await deps.conflict.call('document.open', { caller: caller(socket, membership), payload: { session_id: m.session_id, doc_id: m.doc_id } });
    return { type: 'document', session_id: m.session_id, ...state };
  }

  /**
   * One edit: committed by the conflict service (transformed to head), acked to the author, broadcast to the
   * document's room, conflicts told to the peers involved, and every cursor on the document moved through it.
   */
  async submitOp(socket: Connection, m: ClientMessageOf<'submit_op'>, deps: GatewayDeps): Reply<'submit_op'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'document.edit');
    await checkFile(deps, socket, membership, m.doc_id, 'edit');
    const room = rooms.document(m.session_id, m.doc_id);
    if (!socket.rooms.has(room)) await socket.join(room);
    const result = await deps.conflict.call('op.submit', {
      caller: caller(socket, membership),
      payload: { session_id: m.session_id, doc_id: m.doc_id, version: m.version, op: m.op, seq: m.seq },
    });
    // A duplicate re-broadcasts the original op: harmless (clients drop versions they have) and it repairs a
    // broadcast lost when the replica that committed it died.
    deps.push(m.session_id, { to: 'document', doc_id: m.doc_id }, { type: 'op', session_id: m.session_id, ...result.broadcast }, membership.peer_id);
    for (const conflict of result.conflicts) {
      deps.push(m.session_id, { to: 'peers', peer_ids: conflict.peers }, { type: 'conflict_detected', session_id: m.session_id, ...conflict });
    }
    // An agent's edit goes to the activity feed (coalesced into runs by the session service). A duplicate too:
    // the report of its first delivery may be what was lost, and the session service ignores versions it has.
    if (membership.role === 'agent') await recordAgentEdit(deps, this.logger, socket, m.session_id, m.doc_id, result.broadcast.version);
    if (!result.duplicate) {
      void deps.presence
        .emit('presence.op_committed', { session_id: m.session_id, doc_id: m.doc_id, version: result.broadcast.version, op: result.broadcast.op, author_peer_id: membership.peer_id })
        .catch((err: unknown) => {
          // Presence repairs a lost one from the conflict service's log at the next op (a version gap).
          deps.metrics.presenceEmitFailures.inc();
          this.logger.warn(`presence.op_committed for ${m.doc_id}@${result.broadcast.version} not sent: ${(err as Error).message}`, 'LiveMessageHandlers');
        });
    }
    return { type: 'op_ack', session_id: m.session_id, ...result.ack };
  }

  async fetchOps(socket: Connection, m: ClientMessageOf<'fetch_ops'>, deps: GatewayDeps): Reply<'fetch_ops'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'document.read');
    await checkFile(deps, socket, membership, m.doc_id, 'read');
    const page = await deps.conflict.call('ops.fetch', { caller: caller(socket, membership), payload: { session_id: m.session_id, doc_id: m.doc_id, from_version: m.from_version } });
    return { type: 'ops', session_id: m.session_id, ...page };
  }

  /** Who changed what (op summaries); no room join: history is read on demand, not followed. */
  async documentHistory(socket: Connection, m: ClientMessageOf<'document_history'>, deps: GatewayDeps): Reply<'document_history'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'document.read');
    const { type: _t, id: _i, ...payload } = m;
    const page = await deps.conflict.call('document.history', { caller: caller(socket, membership), payload });
    return { type: 'history', session_id: m.session_id, ...page };
  }

  /** The text at a retained past version, answered as a `document` at that version. */
  async documentAt(socket: Connection, m: ClientMessageOf<'document_at'>, deps: GatewayDeps): Reply<'document_at'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'document.read');
    const state = await deps.conflict.call('document.at', { caller: caller(socket, membership), payload: { session_id: m.session_id, doc_id: m.doc_id, version: m.version } });
    return { type: 'document', session_id: m.session_id, ...state };
  }

  async lockFile(socket: Connection, m: ClientMessageOf<'lock_file'>, deps: GatewayDeps): Reply<'lock_file'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'file.lock');
    await checkFile(deps, socket, membership, m.doc_id, 'edit');
    const locked = await deps.conflict.call('file.lock', {
      caller: caller(socket, membership),
      payload: { session_id: m.session_id, doc_id: m.doc_id, ...(m.ttl_ms !== undefined ? { ttl_ms: m.ttl_ms } : {}) },
    });
    // The audit record (durable) before the live notice (ephemeral).
    await recordAudit(deps, this.logger, m.session_id, { kind: 'lock_acquired', doc_id: locked.doc_id, holder_id: locked.holder_id, peer_id: locked.peer_id, expires_at: locked.expires_at });
    deps.push(m.session_id, { to: 'session' }, { type: 'file_locked', ...locked }, membership.peer_id);
    return { type: 'file_locked', ...locked };
  }

  async unlockFile(socket: Connection, m: ClientMessageOf<'unlock_file'>, deps: GatewayDeps): Reply<'unlock_file'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, m.force ? 'file.lock_break' : 'file.lock');
    await checkFile(deps, socket, membership, m.doc_id, 'edit');
    const unlocked = await deps.conflict.call('file.unlock', {
      caller: caller(socket, membership),
      payload: { session_id: m.session_id, doc_id: m.doc_id, ...(m.force !== undefined ? { force: m.force } : {}) },
    });
    if (unlocked === null) return { type: 'file_unlocked', session_id: m.session_id, doc_id: m.doc_id, holder_id: null, reason: 'not_locked' };
    await recordAudit(deps, this.logger, m.session_id, {
      kind: 'lock_released',
      doc_id: unlocked.doc_id,
      holder_id: unlocked.holder_id,
      by: socket.data.identity.user_id,
      reason: unlocked.reason === 'broken' ? 'broken' : 'released',
    });
    deps.push(m.session_id, { to: 'session' }, { type: 'file_unlocked', ...unlocked }, membership.peer_id);
    return { type: 'file_unlocked', ...unlocked };
  }

  private async viewOf(deps: GatewayDeps, sessionId: string, peerId: string): Promise<Extract<PresenceEvent, { type: 'presence_update' }>> {
    const peers = await deps.presence.call('presence.who', { session_id: sessionId });
    const view = peers.find((p) => p.peer_id === peerId);
    if (!view) throw new Error(`presence of ${peerId} vanished`);
    return { type: 'presence_update', ...view };
  }
}
