import { ChorusError, type CreateInviteBody, type CreateSessionBody, type HistoryPage, type IceServersView, type InviteCreated, type JoinGrantView, type SessionView } from '@chorus/protocol';

/** The REST calls the SDK makes (and an app needs to get started), over `fetch` (browsers and Node 18+). */
export interface RestOptions {
  /** The gateway base URL, e.g. `https://chorus.example.com` (REST lives beside the WebSocket endpoint). */
  baseUrl: string | (() => string);
  /** The access token for `Authorization: Bearer`, or a provider called on every request. */
  token?: string | (() => string | Promise<string>);
  /** A `fetch` implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Per-request deadline (default 15 s). */
  timeoutMs?: number;
}

const API = '/api/v1';

/** Typed REST client. Every failure is a ChorusError with the server's code (or UNAVAILABLE for the network). */
export class ChorusRest {
  constructor(private readonly options: RestOptions) {}

  /**
   * A development access token (`POST /api/v1/auth/dev-token`, only on servers started with DEV_TOKENS=true).
   * Static: it needs no token itself.
   */
  static async devToken(baseUrl: string, body: { user_id: string; display_name: string; kind?: 'human' | 'agent' }, fetchImpl: typeof fetch = globalThis.fetch): Promise<string> {
    const rest = new ChorusRest({ baseUrl, fetch: fetchImpl });
    const reply = await rest.call<{ access_token: string }>('POST', '/auth/dev-token', { ...body, kind: body.kind ?? 'human' }, false);
    return reply.access_token;
  }

  /** Creates a session; the caller becomes its owner. */
  createSession(body: CreateSessionBody): Promise<SessionView> {
    return this.call('POST', '/collaboration/sessions', body);
  }

  /** Creates an invite (a short code, a secret token and a link). */
  createInvite(sessionId: string, body: CreateInviteBody): Promise<InviteCreated> {
    return this.call('POST', `/collaboration/sessions/${encodeURIComponent(sessionId)}/invite`, body);
  }

  /** Redeems an invite code or token: the caller becomes a participant and gets a join token. */
  redeemInvite(codeOrToken: string, password?: string): Promise<JoinGrantView> {
    return this.call('POST', `/collaboration/invites/${encodeURIComponent(codeOrToken)}/redeem`, password === undefined ? {} : { password });
  }

  /** A fresh join token for a session the caller participates in (or a public one). */
  joinToken(sessionId: string, password?: string): Promise<JoinGrantView> {
    return this.call('POST', `/collaboration/sessions/${encodeURIComponent(sessionId)}/join`, password === undefined ? {} : { password });
  }

  /** One page of the session stream after `afterSeq` (the recovery path when `joined.recovered` is false). */
  history(sessionId: string, afterSeq: number, limit = 1_000): Promise<HistoryPage> {
    return this.call('GET', `/collaboration/sessions/${encodeURIComponent(sessionId)}/history?after_seq=${afterSeq}&limit=${limit}`);
  }

  /** This user's STUN/TURN servers for WebRTC (TURN credentials short-lived: ask before each call). */
  iceServers(): Promise<IceServersView> {
    return this.call('GET', '/voice/ice-servers');
  }

  /** A raw call under /api/v1: `path` starts with '/'. */
  async call<R>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, authenticated = true): Promise<R> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (authenticated && this.options.token !== undefined) {
      headers.authorization = `Bearer ${typeof this.options.token === 'function' ? await this.options.token() : this.options.token}`;
    }
    const base = (typeof this.options.baseUrl === 'function' ? this.options.baseUrl() : this.options.baseUrl).replace(/\/$/, '');
    const fetchImpl = this.options.fetch ?? globalThis.fetch;
    let res: Response;
    let text: string;
    try {
      res = await fetchImpl(`${base}${API}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
      text = await res.text();
    } catch (err) {
      throw new ChorusError('UNAVAILABLE', `${method} ${path}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ChorusError('SERVER_ERROR', `${method} ${path}: HTTP ${res.status} with a body that is not JSON`);
    }
    if (res.ok) return parsed as R;
    const error = ChorusError.from(parsed);
    if (error.code === 'SERVER_ERROR' && res.status === 503) throw new ChorusError('UNAVAILABLE', `${method} ${path}: HTTP 503`);
    throw error;
  }
}
