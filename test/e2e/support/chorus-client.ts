import { ChorusClient as Sdk } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import type { ClientMessageOf, ClientMessageType, ErrorMessage, ReplyOf, ServerMessage } from '@chorus/protocol';

type Body<T extends ClientMessageType> = Omit<ClientMessageOf<T>, 'type'>;

/**
 * One connection to the gateway speaking the Chorus protocol, recording every message the server sends — built
 * on the SDK (@chorus/client): its Socket.IO wire, its connect / hello / request-ack / timeout code, with
 * reconnecting and the heartbeat off, so a spec sees exactly one connection and every request it sends. The
 * records come from the SDK's `message` tap. Specs that need a raw socket (engine-level packets, WebSocket
 * close codes) use support/edge-socket.ts instead.
 */
export class ChorusClient {
  /** The SDK client underneath (its `state`, `hello`, events). */
  readonly sdk: Sdk;
  /** Every message the server sent outside a reply, in arrival order: `hello`, `disconnect_notice`, `error`s, pushes. */
  readonly pushes: ServerMessage[] = [];
  /** Successful replies, in arrival order. */
  readonly replies: ServerMessage[] = [];

  private constructor(url: string, token: string) {
    this.sdk = new Sdk({ url, token, reconnect: false, heartbeat: false });
    this.sdk.on('message', (message) => this.pushes.push(message));
  }

  /** Connects and resolves at the server's `hello`; a refused handshake rejects with its `error` as `data`. */
  static async connect(url: string, token: string): Promise<ChorusClient> {
    const client = new ChorusClient(url, token);
    let refusal: ErrorMessage | undefined;
    client.sdk.once('closed', (c) => (refusal = c.error));
    try {
      await client.sdk.connect();
    } catch (err) {
      throw Object.assign(new Error(`connect_error: ${(err as Error).message}`), { data: refusal });
    }
    return client;
  }

  /** True while the one connection is up (the SDK's state `connected`). */
  get connected(): boolean {
    return this.sdk.state === 'connected';
  }

  /** Sends a request and returns its ack (the reply, or an `error` message). */
  async request<T extends ClientMessageType>(type: T, body: Body<T>, timeoutMs = 10_000): Promise<ReplyOf<T> | ErrorMessage> {
    return (await this.requestRaw(type, body, timeoutMs)) as ReplyOf<T> | ErrorMessage;
  }

  /**
   * The typed escape hatch: sends any event with any payload (shapes the typed `request` would refuse) through
   * the SDK's wire and returns the ack as the server sent it. Rejects only when no ack comes.
   */
  async requestRaw(type: string, payload: unknown, timeoutMs = 10_000): Promise<ServerMessage> {
    const reply = (await this.sdk.requestRaw(type, payload, { timeoutMs })) as ServerMessage;
    if (reply && typeof reply === 'object' && reply.type !== 'error') this.replies.push(reply);
    return reply;
  }

  /** Like `request`, but fails the test on an error reply. */
  async ok<T extends ClientMessageType>(type: T, body: Body<T>): Promise<ReplyOf<T>> {
    const reply = await this.request(type, body);
    if (reply.type === 'error') throw new Error(`${type} failed: ${reply.code} ${reply.message}`);
    return reply as ReplyOf<T>;
  }

  /** Calls `listener` on every message the server sends from now on (see `pushes`); returns a function that stops it. */
  onPush(listener: (message: ServerMessage) => void): () => void {
    return this.sdk.on('message', listener);
  }

  of<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.pushes.filter((p): p is Extract<ServerMessage, { type: T }> => p.type === type);
  }

  async waitForPush<T extends ServerMessage['type']>(type: T, predicate: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true, timeoutMs = 10_000): Promise<Extract<ServerMessage, { type: T }>> {
    return waitFor(`a ${type} push`, () => this.of(type).find(predicate), { timeoutMs });
  }

  /** Durable session events received (they carry `seq`), in arrival order. */
  durableSeqs(sessionId: string): number[] {
    return this.pushes
      .filter((p) => (p.type === 'peer_joined' || p.type === 'peer_left' || p.type === 'chat_message' || p.type === 'message_update' || p.type === 'message_delete' || p.type === 'session_event') && p.session_id === sessionId)
      .map((p) => (p as { seq: number }).seq);
  }

  /**
   * The client's `last_seq` for a session, as an SDK keeps it: the highest seq seen in durable pushes, in acks
   * of its own chat messages, and in `joined`.
   */
  lastSeq(sessionId: string): number {
    const seqs = [...this.pushes, ...this.replies]
      .filter((m) => 'seq' in m && 'session_id' in m && m.session_id === sessionId && m.type !== 'op' && m.type !== 'op_ack')
      .map((m) => (m as { seq: number }).seq);
    return Math.max(0, ...seqs);
  }

  close(): void {
    this.sdk.close();
  }
}

