import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

type CorsCallback = (err: Error | null, allow?: boolean) => void;

/**
 * Which browser origins may talk to this gateway: one check for REST CORS, every Socket.IO handshake (polling
 * and the websocket upgrade) and any other upgrade served on the same HTTP server.
 *
 * An origin is allowed when CORS_ORIGINS is `*`, when it is listed, or when it is this server itself (its host
 * equals the request's Host: a page served by the gateway's own host; scheme not compared, TLS may end at an
 * ingress). A request without an Origin header is allowed: browsers always send one on cross-origin requests and
 * on every WebSocket handshake, so its absence means a non-browser client (CLI, agent, server), which holds its
 * own token and cannot be driven by another site (no CSRF/CSWSH vector). `Origin: null` (sandboxed frames,
 * file://) is an origin like any other: refused unless `*`.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string> | '*';

  constructor(origins: readonly string[] | '*') {
    this.allowed = origins === '*' ? '*' : new Set(origins);
  }

  /** For the `cors` middleware (REST, Socket.IO polling): same-origin requests need no CORS headers, so only the list matters. */
  readonly corsOrigin = (origin: string | undefined, callback: CorsCallback): void => {
    callback(null, origin === undefined || this.listed(origin));
  };

  /** Why this handshake or upgrade must be refused, or undefined when its origin is allowed. */
  refusal(req: Pick<IncomingMessage, 'headers'>): string | undefined {
    const origin = req.headers.origin;
    if (origin === undefined || this.listed(origin) || sameHost(origin, req.headers.host)) return undefined;
    return `Origin ${origin.slice(0, 200)} may not connect to this server: add it to CORS_ORIGINS to allow browsers on it.`;
  }

  /**
   * For a plain WebSocket endpoint on the same server (an `upgrade` listener): refuses a disallowed origin with
   * 403 and the protocol's error body before any WebSocket is created. Returns whether the upgrade may proceed.
   */
  admitUpgrade(req: IncomingMessage, socket: Duplex): boolean {
    const message = this.refusal(req);
    if (message === undefined) return true;
    const body = JSON.stringify({ code: 'PERMISSION_DENIED', message });
    socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return false;
  }

  private listed(origin: string): boolean {
    return this.allowed === '*' || this.allowed.has(origin);
  }
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
