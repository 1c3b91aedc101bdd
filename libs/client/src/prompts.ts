import { ChorusError, type ActivityView, type AssignedPrompt, type MessageView, type Page, type QueueUpdated, type ServerMessage, type ServerMessageOf } from '@chorus/protocol';
import { backoffDelay } from './backoff';
import type { ChorusClient } from './client';
import { TypedEmitter } from './emitter';
import { ClientClosedError } from './errors';
import { randomId } from './random-id';

/** Events of {@link SessionPrompts}. */
export interface SessionPromptsEvents {
  /** A queue changed: the newest view of that queue (`agentId` null: the shared queue). */
  queue: { agentId: string | null; queue: QueueUpdated };
  /** An agent reported what it is doing. */
  agentStatus: ServerMessageOf<'agent_status'>;
  /** An agent's partial output (ephemeral; the durable kinds arrive as session events). */
  agentOutput: ServerMessageOf<'agent_output'>;
  /**
   * The running text of an agent's response under way: the text so far a (re)join brought
   * (`agent_output_so_far`) merged with the live chunks by index — no chunk twice, whichever came first.
   */
  agentText: { messageId: string; agentId: string; text: string };
  /** Agents: a prompt the gateway claimed for this waiting agent (its last claim found nothing). */
  assigned: AssignedPrompt;
}

/** One response under way: the text up to `through` (a snapshot, or folded chunks) and the chunks after it. */
interface RunningText {
  agentId: string;
  base: string;
  through: number;
  chunks: Map<number, string>;
}

type Status = ServerMessageOf<'agent_status'>['status'];
type OutputKind = 'partial_response' | 'tool_start' | 'tool_result' | 'response' | 'error';

/**
 * The prompt queue of one session, for users (submit, cancel, watch positions) and agents (claim, report,
 * stream output, complete). docs/agents.md. Keeps, per queue, the `queue_updated` with the highest revision:
 * pushes from two session replicas may cross, and the revision says which is newer.
 */
export class SessionPrompts extends TypedEmitter<SessionPromptsEvents> {
  private readonly latest = new Map<string | null, QueueUpdated>();
  private readonly running = new Map<string, RunningText>();

  constructor(
    private readonly client: ChorusClient,
    private readonly sessionId: string,
    private readonly ready: () => Promise<void>,
  ) {
    super();
  }

  /** The newest view of every queue seen. */
  queues(): ReadonlyMap<string | null, QueueUpdated> {
    return this.latest;
  }

  /** The running text of a response under way (see the `agentText` event), or undefined. */
  textOf(messageId: string): string | undefined {
    const r = this.running.get(messageId);
    return r === undefined ? undefined : textOf(r);
  }

  /** Forget a finished response's running text (its durable `response` is in the session's events). */
  forget(messageId: string): void {
    this.running.delete(messageId);
  }

  /**
   * Queues a prompt (for `agentId`, or any agent). Idempotent: it carries a `client_msg_id` (generated unless
   * given) and is resent with the same key after UNAVAILABLE or a reconnect; the server answers a resend with
   * the stored prompt.
   */
  async submit(content: string, options: { agentId?: string; priority?: number; images?: string[]; clientMsgId?: string } = {}): Promise<ServerMessageOf<'prompt_queued'>> {
    const client_msg_id = options.clientMsgId ?? randomId(this.client.random);
    const body = {
      session_id: this.sessionId,
      content,
      client_msg_id,
      ...(options.agentId !== undefined ? { agent_id: options.agentId } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.images !== undefined ? { images: options.images } : {}),
    };
    return this.retrying(`prompt_submit ${client_msg_id}`, () => this.client.request('prompt_submit', body));
  }

  async cancel(messageId: string): Promise<void> {
    await this.retrying(`prompt_cancel ${messageId}`, () => this.client.request('prompt_cancel', { session_id: this.sessionId, message_id: messageId }));
  }

  /**
   * Agents: the next prompt under a lease (the one held already, after a reconnect), or null. With `wait`, a null
   * answer makes this connection wait: the next prompt of its queues is pushed (the `assigned` event).
   */
  async claim(options: { wait?: boolean } = {}): Promise<AssignedPrompt | null> {
    const body = { session_id: this.sessionId, ...(options.wait === true ? { wait: true } : {}) };
    return (await this.retrying('prompt_claim', () => this.client.request('prompt_claim', body))).prompt;
  }

  /** Agents: completes the prompt once (a resend answers the same seq). */
  async complete(messageId: string): Promise<number> {
    return (await this.retrying(`prompt_done ${messageId}`, () => this.client.request('prompt_done', { session_id: this.sessionId, message_id: messageId }))).seq;
  }

  /** Agents: what it is doing, to everyone; renews its lease. */
  async status(status: Status, detail?: string): Promise<void> {
    await this.ready();
    await this.client.request('agent_status', { session_id: this.sessionId, status, ...(detail !== undefined ? { detail } : {}) });
  }

  /** Agents: one piece of output; durable kinds are resent after a lost ack (deduplicated by `index`). */
  async output(messageId: string, kind: OutputKind, index: number, data: string): Promise<number | null> {
    const body = { session_id: this.sessionId, message_id: messageId, kind, index, data };
    if (kind === 'partial_response') {
      await this.ready();
      return (await this.client.request('agent_output', body)).seq;
    }
    return (await this.retrying(`agent_output ${messageId}#${index}`, () => this.client.request('agent_output', body))).seq;
  }

  /**
   * What the agents did (`GET …/activity`): prompts taken, finished and given back, tools run, documents edited
   * (`document_edited`: one entry per run of edits on a document, `from_version`..`to_version`, `ops`) and status
   * changes (`status_changed`: `status`, `detail`) — newest first. Entries are discriminated on `kind`.
   * Page backwards with `beforeSeq` = the previous page's `next_before_seq` (null: nothing older).
   */
  activity(options: { agentId?: string; limit?: number; beforeSeq?: number } = {}): Promise<Page<ActivityView>> {
    return this.client.rest.call('GET', `/collaboration/sessions/${encodeURIComponent(this.sessionId)}/activity${query({ agent_id: options.agentId, limit: options.limit, before_seq: options.beforeSeq })}`);
  }

  /** The conversation (`GET …/messages`): users' prompts and agents' final responses, newest first, paged like {@link activity}. */
  messages(options: { limit?: number; beforeSeq?: number } = {}): Promise<Page<MessageView>> {
    return this.client.rest.call('GET', `/collaboration/sessions/${encodeURIComponent(this.sessionId)}/messages${query({ limit: options.limit, before_seq: options.beforeSeq })}`);
  }

  /** @internal A push for this session's queue or agents. */
  handlePush(m: ServerMessage): boolean {
    switch (m.type) {
      case 'queue_updated': {
        const known = this.latest.get(m.agent_id);
        if (known !== undefined && known.revision >= m.revision) return true;
        this.latest.set(m.agent_id, m);
        this.emit('queue', { agentId: m.agent_id, queue: m });
        return true;
      }
      case 'agent_status':
        this.emit('agentStatus', m);
        return true;
      case 'agent_output': {
        this.emit('agentOutput', m);
        const r = this.running.get(m.message_id) ?? { agentId: m.agent_id, base: '', through: -1, chunks: new Map<number, string>() };
        this.running.set(m.message_id, r);
        if (m.index <= r.through || r.chunks.has(m.index)) return true; // in the text already
        r.chunks.set(m.index, m.data);
        this.emit('agentText', { messageId: m.message_id, agentId: r.agentId, text: textOf(r) });
        return true;
      }
      case 'agent_output_so_far': {
        const r = this.running.get(m.message_id);
        if (r !== undefined && r.through >= m.through_index) return true;
        const chunks = new Map([...(r?.chunks ?? [])].filter(([i]) => i > m.through_index));
        const next = { agentId: m.agent_id, base: m.text, through: m.through_index, chunks };
        this.running.set(m.message_id, next);
        this.emit('agentText', { messageId: m.message_id, agentId: m.agent_id, text: textOf(next) });
        return true;
      }
      case 'prompt_assigned':
        this.emit('assigned', m.prompt);
        return true;
      default:
        return false;
    }
  }

  private async retrying<T>(what: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.ready();
      try {
        return await send();
      } catch (err) {
        if (!(err instanceof ChorusError) || !err.retryable || err instanceof ClientClosedError || attempt >= 50) throw err;
        this.client.warn(`${what}: ${err.code}, sending again (idempotent)`, err);
        await new Promise((resolve) => setTimeout(resolve, err.details.retry_after_ms ?? backoffDelay(attempt, this.client.random, { initialDelayMs: 100, maxDelayMs: 5_000 })));
      }
    }
  }
}

function textOf(r: RunningText): string {
  return r.base + [...r.chunks].sort(([a], [b]) => a - b).map(([, data]) => data).join('');
}

function query(params: Record<string, string | number | undefined>): string {
  const qs = Object.entries(params)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join('&');
  return qs === '' ? '' : `?${qs}`;
}
