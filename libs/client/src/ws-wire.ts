import { DISCONNECT_CODES, PROTOCOL_VERSION, WS_PATH, decodeBinaryFrame, encodeBinaryFrame, reconnectAllowed, type DisconnectNotice, type ErrorMessage, type ServerMessage, type ServerMessageOf } from '@chorus/protocol';
import { ChorusRest } from './rest';
import { isErrorMessage, type WireFactory } from './wire';

/** The events of a WebSocket the /ws transport uses (the browser's, Node's global one, or the `ws` package's). */
export interface WebSocketEventLike {
  readonly type: string;
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

/**
 * The part of the WHATWG WebSocket the SDK needs: the browser's `WebSocket`, Node 22+'s `globalThis.WebSocket`
 * and the `ws` package's class all fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  /** Text frames; a compact file chunk (`file_data`) goes as a binary frame (docs/file-sync.md). */
  send(data: string | Uint8Array): void;
  /** Set to `arraybuffer` so binary frames (file chunks) arrive as bytes, not Blobs. */
  binaryType?: string;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: WebSocketEventLike) => void): void;
}

/** A WebSocket class: `new WebSocket(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Options of the /ws transport. */
export interface WsTransportOptions {
  /**
   * The WebSocket class: the browser's (the default there), Node's global one (Node 22+), or the `ws` package's
   * (`import WebSocket from 'ws'`). Required where there is no global `WebSocket`.
   */
  WebSocket?: WebSocketConstructor;
  /**
   * How the connection authenticates — never with the access token in the URL (URLs end up in access logs):
   * `frame` (default) sends `{type: "auth", token}` as the first frame; `ticket` gets a single-use 30 s ticket
   * over REST (`POST /api/v1/auth/ws-ticket`) and opens `/ws?ticket=…`.
   */
  auth?: 'frame' | 'ticket';
  /** How long the upgrade and the `hello` may take before the attempt counts as failed (default 15 s). */
  connectTimeoutMs?: number;
  /** `fetch` for the ticket (default: the client's). */
  fetch?: typeof fetch;
}

const OPEN = 1;

/** `http(s)://host` → `ws(s)://host/ws` (a `ws(s)://…/ws` URL is kept as it is). */
export function wsEndpoint(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith(WS_PATH)) u.pathname = `${u.pathname.replace(/\/$/, '')}${WS_PATH}`;
  return u.toString();
}

/** The REST base of a gateway URL given as ws(s)://…/ws (or http(s)://…). */
function restBase(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  if (u.pathname.endsWith(WS_PATH)) u.pathname = u.pathname.slice(0, -WS_PATH.length);
  u.search = '';
  return u.toString().replace(/\/$/, '');
}

/**
 * The plain-WebSocket transport (`/ws`, docs/protocol.md "Plain WebSocket"): text frames of JSON, each request
 * with a numeric `id` answered by the one frame echoing it; frames without a known id are pushes. The close code
 * is the disconnect code; its `disconnect_notice` frame comes first (and one is derived from the code when a
 * proxy swallowed the frame), so the reconnect policy is the same as on Socket.IO.
 */
export function wsWire(options: WsTransportOptions = {}, defaultFetch?: typeof fetch): WireFactory {
  return (url, token, listener) => {
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    let ended = false;
    let ws: WebSocketLike | undefined;
    let hello = false;
    let notice: DisconnectNotice | undefined;
    let refusal: ErrorMessage | undefined;
    let nextId = 0;
    const pending = new Map<number, (reply: unknown) => void>();
    const end: typeof listener.end = (e) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      pending.clear();
      if (ws && ws.readyState <= OPEN) ws.close(1000, 'client');
      listener.end(e);
    };
    const timer = setTimeout(() => end({ kind: 'unreachable', message: `no hello from ${url} within ${options.connectTimeoutMs ?? 15_000} ms` }), options.connectTimeoutMs ?? 15_000);

    const onFrame = (data: unknown) => {
      let frame: (ServerMessage & { id?: unknown }) | undefined;
      if (typeof data !== 'string') {
        // A binary frame is a compact file chunk: [u32 header length][header JSON][data] → the message with `data`.
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
        const decoded = bytes ? decodeBinaryFrame(bytes) : undefined;
        if (!decoded?.ok || typeof decoded.header !== 'object' || decoded.header === null) return;
        frame = { ...(decoded.header as ServerMessage), data: decoded.data } as ServerMessage & { id?: unknown };
        return listener.push(frame);
      }
      try {
        frame = JSON.parse(data) as ServerMessage & { id?: unknown };
      } catch {
        return;
      }
      if (!frame || typeof frame !== 'object') return;
      const ack = typeof frame.id === 'number' ? pending.get(frame.id) : undefined;
      if (frame.type === 'hello' && !hello) {
        hello = true;
        clearTimeout(timer);
        if (ack && typeof frame.id === 'number') pending.delete(frame.id);
        return listener.hello(frame as ServerMessageOf<'hello'>);
      }
      if (ack && typeof frame.id === 'number') {
        pending.delete(frame.id);
        return ack(frame);
      }
      if (frame.type === 'disconnect_notice') {
        notice = frame;
        return listener.notice(frame);
      }
      if (isErrorMessage(frame)) {
        if (!hello) refusal = frame; // the refusal: a disconnect_notice and the close follow
        else listener.error(frame);
        return;
      }
      listener.push(frame);
    };

    const onClose = (code: number, reason: string) => {
      // A proxy may pass the close code but not the notice frame: the code alone carries the policy.
      const known = notice ?? noticeOf(code, reason);
      if (!hello) {
        if (refusal) return end({ kind: 'refused', error: { ...refusal, ...(known ? { disconnect: known } : {}) } as ErrorMessage & { disconnect?: DisconnectNotice } });
        if (known) return end({ kind: 'refused', error: { type: 'error', code: reconnectAllowed(code) ? 'UNAVAILABLE' : 'UNAUTHENTICATED', message: known.reason, retryable: reconnectAllowed(code), disconnect: known } as ErrorMessage & { disconnect?: DisconnectNotice } });
        return end({ kind: 'unreachable', message: `closed before hello (${code}${reason ? ` ${reason}` : ''})` });
      }
      end({ kind: 'lost', reason: `closed (${code}${reason ? ` ${reason}` : ''})`, notice: known });
    };

    const open = (endpoint: string, sendAuth: boolean) => {
      if (ended) return;
      if (!Ctor) return end({ kind: 'unreachable', message: 'no WebSocket class: pass transport { kind: "websocket", WebSocket } (e.g. the `ws` package) where there is no global WebSocket' });
      let socket: WebSocketLike;
      try {
        socket = new Ctor(endpoint);
      } catch (err) {
        return end({ kind: 'unreachable', message: (err as Error).message });
      }
      ws = socket;
      socket.binaryType = 'arraybuffer';
      socket.addEventListener('open', () => {
        if (ended) return socket.close(1000, 'client');
        if (sendAuth) socket.send(JSON.stringify({ type: 'auth', id: ++nextId, token, protocol_version: PROTOCOL_VERSION }));
      });
      socket.addEventListener('message', (event) => {
        if (!ended) onFrame(event.data);
      });
      socket.addEventListener('close', (event) => onClose(event.code ?? 1006, event.reason ?? ''));
      // An error is always followed by a close: that one ends the attempt.
      socket.addEventListener('error', () => undefined);
    };

    const endpoint = wsEndpoint(url);
    if (options.auth === 'ticket') {
      // The ticket is fetched with the token; only the ticket (single-use, 30 s) appears in the URL.
      new ChorusRest({ baseUrl: restBase(url), token, fetch: options.fetch ?? defaultFetch })
        .call<{ ticket: string }>('POST', '/auth/ws-ticket', {})
        .then(
          ({ ticket }) => open(`${endpoint}${endpoint.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}&protocol_version=${PROTOCOL_VERSION}`, false),
          (err: unknown) => {
            const error = err as ErrorMessage & { code?: string };
            if (error.code === 'UNAUTHENTICATED') end({ kind: 'refused', error: { type: 'error', code: 'UNAUTHENTICATED', message: (err as Error).message, retryable: false } as ErrorMessage });
            else end({ kind: 'unreachable', message: `ws-ticket: ${(err as Error).message}` });
          },
        );
    } else void Promise.resolve().then(() => open(endpoint, true)); // never report from inside the factory

    return {
      request(type, payload, ack) {
        if (ended || !ws || ws.readyState !== OPEN) return; // the end (already reported or coming) fails it
        const id = ++nextId;
        pending.set(id, ack);
        const data = (payload as { data?: unknown }).data;
        if (data instanceof Uint8Array) {
          // A compact file chunk: its bytes as a binary frame after the JSON header.
          const { data: _data, ...header } = payload as Record<string, unknown>;
          ws.send(encodeBinaryFrame({ ...header, type, id }, data));
        } else ws.send(JSON.stringify({ ...payload, type, id }));
      },
      close() {
        ended = true;
        clearTimeout(timer);
        pending.clear();
        if (ws && ws.readyState <= OPEN) ws.close(1000, 'client');
      },
    };
  };
}

/** The notice a close code stands for, when the notice frame itself did not arrive. */
function noticeOf(code: number, reason: string): DisconnectNotice | undefined {
  if (code < 4000 || code > 4999) return undefined;
  const name = Object.entries(DISCONNECT_CODES).find(([, spec]) => spec.code === code)?.[0] ?? (reason || `code_${code}`);
  return { type: 'disconnect_notice', code, name, reason: reason || name, reconnect: reconnectAllowed(code) };
}
