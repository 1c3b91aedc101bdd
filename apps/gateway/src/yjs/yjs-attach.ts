import type { LoggerService } from '@nestjs/common';
import type { Identity, IdentityTokens } from '@chorus/auth';
import type { SocketIoHub } from '../fanout/local-hub';
import type { SessionStreams } from '../fanout/session-streams';
import type { ConnectionRegistry } from '../limits/connection-registry';
import type { WsRateLimiter } from '../limits/ws-rate-limiter';
import type { SessionRouter } from '../routing/session.router';
import type { Edge } from '../socket/edge';
import type { WsGateway } from '../ws/ws.gateway';
import type { WsTickets } from '../ws/ws-tickets';
import { HOCUSPOCUS_PATH, HocuspocusPath } from './hocuspocus-path';
import { YJS_PATH_PREFIX, YjsPath } from './yjs-path';

export interface YjsWiring {
  readonly edge: Edge;
  readonly ws: WsGateway;
  readonly hub: SocketIoHub;
  readonly tokens: IdentityTokens;
  readonly tickets: WsTickets;
  readonly sessions: SessionRouter;
  readonly streams: SessionStreams;
  readonly limiter: WsRateLimiter;
  /** The per-user connection cap's registry (the Edge's): /yjs/ sockets count against MAX_CONNECTIONS_PER_USER. */
  readonly connections: ConnectionRegistry;
  readonly logger: LoggerService;
}

/**
 * Wires Yjs documents into the gateway: the hub hands `yjs_message` pushes to YjsDocs (for /yjs/ sockets), and the
 * /ws upgrade routing serves /yjs/ (stock y-websocket providers) and /hocuspocus (@hocuspocus/provider), closed
 * with the other transports at shutdown.
 */
export function attachYjs(w: YjsWiring): YjsPath | undefined {
  const docs = w.edge.deps.yjs;
  if (!docs) return undefined;
  w.hub.bindYjs((message) => docs.deliver(message));
  // A hole filled on this node goes to its own sockets of the document only (each node fills its own).
  docs.bindLocal((sessionId, message) => w.hub.push(sessionId, { kind: 'push', message, audience: { to: 'document', doc_id: message.doc_id }, origin_node: w.edge.deps.nodeId }));
  const deps = { docs, tokens: w.tokens, tickets: w.tickets, sessions: w.sessions, streams: w.streams, limiter: w.limiter, metrics: docs.metrics, logger: w.logger, accepting: () => !w.edge.isDraining, admit: (identity: Identity, id: string) => w.edge.admit(identity, id), connections: w.connections };
  const path = new YjsPath(deps);
  w.ws.route(YJS_PATH_PREFIX, (req, socket, head, url) => path.upgrade(req, socket, head, url), () => path.close());
  const hocuspocus = new HocuspocusPath(deps);
  w.ws.route(HOCUSPOCUS_PATH, (req, socket, head, url) => hocuspocus.upgrade(req, socket, head, url), () => hocuspocus.close());
  return path;
}
