import { ChorusError, type ClientMessageOf, type ReplyOf } from '@chorus/protocol';
import { rooms, type Connection, type GatewayDeps } from '../socket/connection';
import { membershipOf } from '../socket/membership';
import type { YjsDocs, YjsSubscriber } from './yjs-docs';

type Reply<T extends 'yjs_sync' | 'yjs_leave'> = Promise<Omit<ReplyOf<T>, 'id'>>;

/**
 * `yjs_sync` and `yjs_leave` over Socket.IO and /ws (one handler table for both): the y-protocols messages as base64,
 * for members of the session. The role is the membership's, kept live (a role change applies to the next message).
 * Pushes (`yjs_message`) reach the connection through the document room, like OT ops.
 */
export class YjsMessageHandlers {
  /** Per connection, one subscriber per session (its role is that session's). */
  private readonly subscribers = new WeakMap<Connection, Map<string, YjsSubscriber>>();

  async sync(connection: Connection, m: ClientMessageOf<'yjs_sync'>, deps: GatewayDeps): Reply<'yjs_sync'> {
    const membership = membershipOf(connection, m.session_id);
    const outcome = await docsOf(deps).handle(this.subscriberOf(connection, membership.peer_id, m.session_id), m.session_id, m.doc_id, Buffer.from(m.message, 'base64'));
    return { type: 'yjs_sync_reply', session_id: m.session_id, doc_id: m.doc_id, messages: outcome.replies.map((r) => Buffer.from(r).toString('base64')), seq: outcome.seq };
  }

  async leave(connection: Connection, m: ClientMessageOf<'yjs_leave'>, deps: GatewayDeps): Reply<'yjs_leave'> {
    membershipOf(connection, m.session_id);
    const subscriber = this.subscribers.get(connection)?.get(m.session_id);
    if (subscriber) docsOf(deps).unsubscribe(subscriber, m.session_id, m.doc_id);
    await connection.leave(rooms.document(m.session_id, m.doc_id));
    return { type: 'yjs_left', session_id: m.session_id, doc_id: m.doc_id };
  }

  private subscriberOf(connection: Connection, peerId: string, sessionId: string): YjsSubscriber {
    let perSession = this.subscribers.get(connection);
    if (!perSession) this.subscribers.set(connection, (perSession = new Map()));
    let subscriber = perSession.get(sessionId);
    if (!subscriber) {
      subscriber = {
        id: connection.id,
        userId: connection.data.identity.user_id,
        clientId: peerId,
        role: () => {
          const m = connection.data.memberships.get(sessionId);
          if (!m) throw new ChorusError('PERMISSION_DENIED', `Join session ${sessionId} first (send "join").`);
          return m.role;
        },
        subscribe: async (s, docId) => void (await connection.join(rooms.document(s, docId))),
        unsubscribe: (s, docId) => void connection.leave(rooms.document(s, docId)),
      };
      perSession.set(sessionId, subscriber);
    }
    return subscriber;
  }
}

function docsOf(deps: GatewayDeps): YjsDocs {
  if (!deps.yjs) throw new ChorusError('UNAVAILABLE', 'Yjs documents are not enabled on this gateway.');
  return deps.yjs;
}
