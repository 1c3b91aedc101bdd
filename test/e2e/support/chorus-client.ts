import { io, type Socket } from 'socket.io-client';
import { waitFor } from '@chorus/testing';
import type { ClientMessageOf, ClientMessageType, ReplyOf, ServerMessage } from '@chorus/protocol';

type Body<T extends ClientMessageType> = Omit<ClientMessageOf<T>, 'type'>;

/** A real socket.io client speaking the Chorus protocol, recording every push it receives. */
export class ChorusClient {
  readonly socket: Socket;
  readonly pushes: ServerMessage[] = [];
  /** Successful replies, in arrival order. */
  readonly replies: ServerMessage[] = [];

  private constructor(url: string, token: string) {
    this.socket = io(url, { transports: ['websocket'], auth: { token, protocol_version: 1 }, reconnection: false, forceNew: true });
    this.socket.onAny((_event: string, message: ServerMessage) => this.pushes.push(message));
  }

  static async connect(url: string, token: string): Promise<ChorusClient> {
    const client = new ChorusClient(url, token);
    await new Promise<void>((resolve, reject) => {
      client.socket.once('connect', () => resolve());
      client.socket.once('connect_error', (err: Error & { data?: unknown }) => reject(Object.assign(new Error(`connect_error: ${err.message}`), { data: err.data })));
    });
    return client;
  }

  /** Sends a request and returns its ack (the reply, or an `error` message). */
  async request<T extends ClientMessageType>(type: T, body: Body<T>, timeoutMs = 10_000): Promise<ReplyOf<T> | Extract<ServerMessage, { type: 'error' }>> {
    const reply = (await this.socket.timeout(timeoutMs).emitWithAck(type, body)) as ReplyOf<T> | Extract<ServerMessage, { type: 'error' }>;
    if (reply.type !== 'error') this.replies.push(reply as ServerMessage);
    return reply;
  }

  /** Like `request`, but fails the test on an error reply. */
  async ok<T extends ClientMessageType>(type: T, body: Body<T>): Promise<ReplyOf<T>> {
    const reply = await this.request(type, body);
    if (reply.type === 'error') throw new Error(`${type} failed: ${reply.code} ${reply.message}`);
    return reply as ReplyOf<T>;
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
    this.socket.close();
  }
}
