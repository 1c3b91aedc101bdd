import WebSocket from 'ws';
import { decodeBinaryFrame, encodeBinaryFrame, type ServerMessage } from '@chorus/protocol';
import { waitFor, withDeadline } from '@chorus/testing';

// A plain WebSocket client of /ws — the `ws` npm package, not ours — that records every frame it receives, so a
// spec can send the seed clients' frames verbatim and look at exactly what came back.

export type Frame = ServerMessage & { id?: string | number };

export interface WsOptions {
  readonly token?: string;
  readonly ticket?: string;
  readonly headers?: Record<string, string>;
  /** false: the client never answers the server's protocol pings (a frozen peer). */
  readonly autoPong?: boolean;
  readonly query?: string;
}

export function wsUrl(base: string, options: WsOptions = {}): string {
  const params = new URLSearchParams();
  if (options.ticket !== undefined) params.set('ticket', options.ticket);
  const query = [params.toString(), options.query ?? ''].filter((q) => q.length > 0).join('&');
  return `${base.replace(/^http/, 'ws')}/ws${query ? `?${query}` : ''}`;
}

export class WsClient {
  readonly frames: Frame[] = [];
  /** Resolves with the close code and reason when the connection ends. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString()) as Frame);
      else {
        // A compact file chunk: [u32 header length][header JSON][data] → the message with `data` (binary).
        const decoded = decodeBinaryFrame(data as Buffer);
        if (decoded.ok) this.frames.push({ ...(decoded.header as Frame), data: decoded.data } as Frame);
      }
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Opens /ws (resolves on the upgrade; authentication may still be pending). */
  static async open(base: string, options: WsOptions = {}): Promise<WsClient> {
    const headers = { ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers };
    const ws = new WebSocket(wsUrl(base, options), { headers, autoPong: options.autoPong ?? true });
    const client = new WsClient(ws);
    await withDeadline(
      'the /ws upgrade',
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
    );
    return client;
  }

  /** Opens /ws with a Bearer header and waits for its `hello`. */
  static async connect(base: string, token: string, options: Omit<WsOptions, 'token'> = {}): Promise<WsClient> {
    const client = await WsClient.open(base, { ...options, token });
    await client.next((f) => f.type === 'hello');
    return client;
  }

  /** Sends a frame verbatim: an object as JSON text (with binary `data`: a binary frame), a string as it is. */
  send(frame: Record<string, unknown> | string): void {
    if (typeof frame === 'object' && frame.data instanceof Uint8Array) {
      const { data, ...header } = frame;
      this.ws.send(encodeBinaryFrame(header, data), { binary: true });
      return;
    }
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a request and resolves with the reply frame echoing its id (one is added when it has none). */
  async request(frame: Record<string, unknown>, timeoutMs = 10_000): Promise<Frame> {
    const id = frame.id ?? `t-${++this.nextId}`;
    const from = this.frames.length;
    this.send({ ...frame, id });
    return waitFor(`the reply to ${String(frame.type)} ${String(id)}`, () => this.frames.slice(from).find((f) => f.id === id), { timeoutMs });
  }

  /** The first frame (received so far or later) matching. */
  next(predicate: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    return waitFor('a matching frame', () => this.frames.find(predicate), { timeoutMs });
  }

  of<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.frames.filter((f): f is Frame & Extract<ServerMessage, { type: T }> => f.type === type);
  }

  close(): void {
    this.ws.close();
  }
}
