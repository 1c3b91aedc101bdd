import { createHash, randomUUID } from 'node:crypto';
import { Logger, type LoggerService } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { authorize, type Action, type Identity, type IdentityTokens } from '@chorus/auth';
import type { AgentOutputBody } from '@chorus/contracts';
import {
  ChorusError,
  type ActivityQuery,
  type ActivityView,
  type MessageView,
  type MessagesQuery,
  type Page,
  type AgentCreated,
  type AgentView,
  type AssignedPrompt,
  type CreateAgentBody,
  type PromptQueuedView,
  type QueueView,
  type Role,
  type SubmitPromptBody,
} from '@chorus/protocol';
import type { NewSessionEvent, SessionEventLog, StoredSessionEvent } from '../events/event-log';
import type { SessionEventPublisher } from '../events/event-publisher';
import { participantsRepo, sessionsRepo } from '../sessions/session.repository';
import { notFound, outOfScope } from '../sessions/session.service';
import { agentsRepo, promptsRepo, queueRepo, type AgentRow, type PromptRow } from './prompt.repository';
import { activityPage, messagesPage } from './feeds';
import { AgentActivityRecorder, DEFAULT_ACTIVITY_OPTIONS, type ActivityOptions, type AgentStatusValue } from './activity-recorder';
import { QueuePusher } from './queue-pusher';

export interface AgentServiceOptions {
  /** How long an agent holds a prompt without a sign of life (status, output) before it goes back. */
  readonly leaseMs: number;
  /** A prompt taken this many times and given back each time is parked (poison), not queued again. */
  readonly maxAttempts: number;
  /** Lifetime of an agent credential (revocable at any time). */
  readonly agentTokenTtlS: number;
  /** How the activity feed coalesces document edits and status changes (AGENT_ACTIVITY_COALESCE_MS). */
  readonly activity?: ActivityOptions;
}

export const DEFAULT_AGENT_OPTIONS: AgentServiceOptions = { leaseMs: 30_000, maxAttempts: 3, agentTokenTtlS: 30 * 24 * 3600, activity: DEFAULT_ACTIVITY_OPTIONS };

/**
 * `queue_updated` lists the first 100 prompts of a queue (and its full `length`): every change pushes the view
 * to every member, so a long queue must not make each push (and each change) cost its whole length.
 */
const VIEW_ITEMS = 100;

type Append = (events: NewSessionEvent[]) => Promise<StoredSessionEvent[]>;
type Touch = (agentId: string | null) => void;

/** The dedupe keys of the queue's durable events: each names the one change it records. */
const keys = {
  queued: (author: string, clientMsgId: string) => `prompt:${JSON.stringify([author, clientMsgId])}`,
  done: (id: string) => `prompt_done:${id}`,
  output: (id: string, index: number) => `output:${id}:${index}`,
  agent: (requestId: string) => `agent:${requestId}`,
};

/**
 * Agents (participants with role `agent` and their session-scoped credentials) and the durable prompt queue.
 * Every change runs in one transaction holding the session's queue lock (`queueRepo.bump`): its durable events
 * commit with it, and after the commit the changed queues are pushed (`queue_updated`, with that revision) to
 * every member through the session fan-out.
 */
export class AgentService {
  constructor(
    private readonly db: DataSource,
    private readonly events: SessionEventLog,
    private readonly tokens: IdentityTokens,
    private readonly publisher: SessionEventPublisher,
    private readonly options: AgentServiceOptions = DEFAULT_AGENT_OPTIONS,
    private readonly logger: LoggerService = new Logger('AgentService'),
  ) {
    this.pusher = new QueuePusher(
      (sessionId, agentId) => this.readView(sessionId, agentId),
      (view) => this.publisher.push(view.session_id, { type: 'queue_updated', ...view }),
      logger,
    );
    this.recorder = new AgentActivityRecorder(db, events, publisher, options.activity ?? DEFAULT_ACTIVITY_OPTIONS);
  }

  private readonly pusher: QueuePusher;
  /** Document edits and status changes as durable events for the activity feed (coalesced). */
  readonly recorder: AgentActivityRecorder;

  /** No `queue_updated` scheduled or being read (tests wait for it before closing the database). */
  get pushesIdle(): boolean {
    return this.pusher.idle;
  }

  // ---- agents ----

  async create(actor: Identity, sessionId: string, body: CreateAgentBody, requestId?: string): Promise<AgentCreated> {
    await this.role(this.db, actor, sessionId, 'agent.manage');
    // A redelivered request (same transport request id) finds the agent its first delivery created.
    const agentId = requestId !== undefined ? `agent-${createHash('sha256').update(requestId).digest('hex').slice(0, 32)}` : `agent-${randomUUID()}`;
    const capabilities = body.capabilities ?? [];
    await this.mutate(sessionId, async (tx, append) => {
      const created = await agentsRepo.insert(tx, { agent_id: agentId, session_id: sessionId, name: body.name, capabilities, created_by: actor.user_id, request_key: requestId ?? null });
      if (!created) return;
      await participantsRepo.upsert(tx, { session_id: sessionId, user_id: agentId, display_name: body.name, kind: 'agent', role: 'agent' });
      await append([
        { type: 'agent_added', actor: actor.user_id, payload: { agent_id: agentId, name: body.name, capabilities }, ...(requestId !== undefined ? { dedupe_key: keys.agent(requestId) } : {}) },
        { type: 'participant_added', actor: actor.user_id, payload: { user_id: agentId, role: 'agent', display_name: body.name, kind: 'agent' } },
      ]);
    });
    const row = await agentsRepo.find(this.db, sessionId, agentId);
    if (!row) throw notFound(sessionId);
    const ttl = this.options.agentTokenTtlS;
    const access_token = this.tokens.mintAccess({ user_id: agentId, display_name: row.name, kind: 'agent', session_scope: sessionId }, ttl);
    return { ...agentView(row), access_token, token_type: 'Bearer', expires_in_s: ttl };
  }

  async list(actor: Identity, sessionId: string): Promise<AgentView[]> {
    await this.role(this.db, actor, sessionId, 'participant.list');
    return (await agentsRepo.list(this.db, sessionId)).map(agentView);
  }

  /**
   * Revokes an agent's credential at once: its participant row goes (every REST call and join checks it), its
   * live sockets are disconnected by the `participant_removed` event, and its prompts go back to the queue.
   */
  async revoke(actor: Identity, sessionId: string, agentId: string): Promise<void> {
    await this.role(this.db, actor, sessionId, 'agent.manage');
    await this.mutate(sessionId, async (tx, append, touch) => {
      if (!(await agentsRepo.revoke(tx, sessionId, agentId))) {
        // Revoked already (a redelivery, or a second click): the same outcome, nothing more to record.
        if ((await agentsRepo.find(tx, sessionId, agentId))?.revoked_at) return;
        throw new ChorusError('NOT_FOUND', `Agent ${agentId} does not exist in this session.`);
      }
      await participantsRepo.remove(tx, sessionId, agentId);
      await this.giveBackAll(tx, append, touch, sessionId, agentId, 'revoked', false);
      await append([
        { type: 'agent_revoked', actor: actor.user_id, payload: { agent_id: agentId } },
        { type: 'participant_removed', actor: actor.user_id, payload: { user_id: agentId } },
      ]);
    });
  }

  // ---- the queue (users) ----

  /**
   * The hot path, without the queue lock: one statement stores the prompt (`promptsRepo.enqueue`: ranks drawn
   * in commit order), the `prompt_queued` event goes through the session stream's group commit (many submits
   * share one transaction), one statement reads its position, and the queue's view is pushed coalesced. Durable
   * before the answer; idempotent by `client_msg_id`: a resend or a transport redelivery finds the prompt, and
   * its append (keyed) answers the stored event — or stores it, when the first delivery died between the
   * two commits, so a prompt never stays without its event once anyone retries.
   */
  async submit(actor: Identity, sessionId: string, body: SubmitPromptBody): Promise<PromptQueuedView> {
    const target = body.agent_id ?? null;
    const [, agent] = await Promise.all([this.role(this.db, actor, sessionId, 'agent.prompt'), target === null ? undefined : agentsRepo.find(this.db, sessionId, target)]);
    if (target !== null && (!agent || agent.revoked_at !== null)) throw new ChorusError('NOT_FOUND', `Agent ${target} is not an agent of this session.`, { field: 'agent_id' });
    const stored =
      (await promptsRepo.enqueue(this.db, {
        session_id: sessionId,
        author_id: actor.user_id,
        author_name: actor.display_name,
        agent_id: target,
        content: body.content,
        images: body.images ?? [],
        priority: body.priority ?? 0,
        client_msg_id: body.client_msg_id,
      })) ?? (await promptsRepo.findByClientKey(this.db, sessionId, actor.user_id, body.client_msg_id));
    if (!stored) throw new ChorusError('SERVER_ERROR', 'The prompt was neither stored nor found; retry with the same client_msg_id.');
    // The event carries what was stored first (a resend with other content does not rewrite it).
    const [appended, now] = await Promise.all([
      this.events.appendOnce(sessionId, {
        type: 'prompt_queued',
        actor: actor.user_id,
        payload: { message_id: stored.id, user_id: stored.author_id, display_name: stored.author_name, agent_id: stored.agent_id, content: stored.content, priority: stored.priority, images: stored.images },
        dedupe_key: keys.queued(actor.user_id, body.client_msg_id),
      }),
      // Read again (a resend's prompt may have moved since it was stored): position and busy in one snapshot.
      promptsRepo.submitted(this.db, sessionId, actor.user_id, body.client_msg_id),
    ]);
    if (!appended.replayed) {
      await this.publisher.publish([appended.event]);
      this.pusher.changed(sessionId, stored.agent_id);
    }
    const prompt = now ?? { ...stored, position: 0, busy: false };
    return {
      session_id: sessionId,
      message_id: prompt.id,
      agent_id: prompt.agent_id,
      queued_at: prompt.queued_at.toISOString(),
      queue_position: prompt.position,
      agent_busy: prompt.busy,
    };
  }

  async cancel(actor: Identity, sessionId: string, messageId: string): Promise<void> {
    const role = await this.role(this.db, actor, sessionId, 'session.read');
    await this.mutate(sessionId, async (tx, append, touch) => {
      const prompt = await promptsRepo.find(tx, sessionId, messageId);
      if (!prompt) throw new ChorusError('NOT_FOUND', `Prompt ${messageId} does not exist in this session.`);
      if (prompt.author_id !== actor.user_id) authorize(role, 'prompt.cancel_any');
      else authorize(role, 'agent.prompt');
      // A redelivered (or resent) cancel of a cancelled prompt has nothing left to do.
      if (prompt.status === 'cancelled') return;
      if (!(await promptsRepo.cancel(tx, sessionId, messageId))) throw new ChorusError('CONFLICT', `Prompt ${messageId} is no longer queued (${prompt.status}); only a queued prompt can be cancelled.`);
      await append([{ type: 'prompt_cancelled', actor: actor.user_id, payload: { message_id: messageId, by: actor.user_id } }]);
      touch(prompt.agent_id);
    });
  }

  /** Moves a queued prompt to `position` of its queue (clamped to its length). */
  async reorder(actor: Identity, sessionId: string, messageId: string, position: number): Promise<QueueView> {
    await this.role(this.db, actor, sessionId, 'prompt.reorder');
    return this.mutate(sessionId, async (tx, _append, touch, revision) => {
      const prompt = await promptsRepo.find(tx, sessionId, messageId);
      if (!prompt) throw new ChorusError('NOT_FOUND', `Prompt ${messageId} does not exist in this session.`);
      if (prompt.status !== 'queued') throw new ChorusError('CONFLICT', `Prompt ${messageId} is no longer queued (${prompt.status}).`);
      // The whole queue: its ranks are handed out again, and one left out could end up before one moved (rare,
      // owner/admin only, so the full read is affordable).
      const queue = await promptsRepo.queued(tx, sessionId, prompt.agent_id, Number.MAX_SAFE_INTEGER);
      const ranks = queue.map((p) => BigInt(p.rank)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const rest = queue.filter((p) => p.id !== messageId);
      const at = Math.min(position, queue.length) - 1;
      const order = [...rest.slice(0, at), prompt, ...rest.slice(at)];
      // The moved prompt takes the priority of the one it now precedes (or follows, when last), so the order
      // by (priority, rank) is exactly `order`; the queue's ranks are handed out again in that order.
      const neighbour = order[at + 1] ?? order[at - 1] ?? prompt;
      for (const [i, p] of order.entries()) {
        await promptsRepo.setOrder(tx, p.id, p.id === messageId ? neighbour.priority : p.priority, ranks[i].toString());
      }
      touch(prompt.agent_id);
      return this.view(tx, sessionId, prompt.agent_id, revision);
    });
  }

  async queues(actor: Identity, sessionId: string): Promise<QueueView[]> {
    await this.role(this.db, actor, sessionId, 'session.read');
    // Each view in one statement (its revision and items of one snapshot), so it compares with the pushed ones.
    const targets = await promptsRepo.queueTargets(this.db, sessionId);
    return Promise.all(targets.map(async (t) => this.viewOf(sessionId, t, await promptsRepo.view(this.db, sessionId, t, VIEW_ITEMS))));
  }

  /** The conversation (prompts and final responses), newest first: the seed's `/join` shows it. */
  async messages(actor: Identity, sessionId: string, query: MessagesQuery): Promise<Page<MessageView>> {
    await this.role(this.db, actor, sessionId, 'history.read');
    return messagesPage(this.db, sessionId, query, this.logger);
  }

  /** What the agents (or one) did, newest first. */
  async activity(actor: Identity, sessionId: string, query: ActivityQuery): Promise<Page<ActivityView>> {
    await this.role(this.db, actor, sessionId, 'history.read');
    return activityPage(this.db, sessionId, query, this.logger);
  }

  // ---- the queue (agents) ----

  /** The agent's current prompt if it has one (a claim after a reconnect), else the head of its queues. */
  async claim(actor: Identity, sessionId: string): Promise<AssignedPrompt | null> {
    await this.role(this.db, actor, sessionId, 'agent.work');
    return this.mutate(sessionId, async (tx, append, touch) => {
      const [current] = await promptsRepo.assignedTo(tx, sessionId, actor.user_id);
      if (current) {
        // Not a new attempt: the same prompt, its lease renewed.
        await promptsRepo.renew(tx, sessionId, actor.user_id, this.options.leaseMs);
        const renewed = await promptsRepo.find(tx, sessionId, current.id);
        return assigned(renewed ?? current);
      }
      const head = await promptsRepo.head(tx, sessionId, actor.user_id);
      if (!head) return null;
      // The agent's run of edits ends before what it does next (the feed shows them in that order).
      await this.recorder.closeRunIn(tx, sessionId, actor.user_id, append);
      const taken = await promptsRepo.assign(tx, head.id, actor.user_id, this.options.leaseMs);
      await append([{ type: 'prompt_assigned', actor: actor.user_id, payload: { message_id: taken.id, agent_id: actor.user_id, attempt: taken.attempts } }]);
      touch(taken.agent_id);
      return assigned(taken);
    });
  }

  /** Completes the agent's prompt, once: a repeat answers the stored event's seq; a lost lease is CONFLICT. */
  async done(actor: Identity, sessionId: string, messageId: string): Promise<{ seq: number }> {
    await this.role(this.db, actor, sessionId, 'agent.work');
    return this.mutate(sessionId, async (tx, append, touch) => {
      const prompt = await promptsRepo.find(tx, sessionId, messageId);
      if (!prompt) throw new ChorusError('NOT_FOUND', `Prompt ${messageId} does not exist in this session.`);
      const completed = await promptsRepo.complete(tx, sessionId, messageId, actor.user_id);
      if (!completed && !(prompt.status === 'done' && prompt.assigned_to === actor.user_id)) {
        throw new ChorusError('CONFLICT', `Prompt ${messageId} is not assigned to you (${prompt.status}): its lease lapsed and it went back to the queue. Claim again.`);
      }
      await this.recorder.closeRunIn(tx, sessionId, actor.user_id, append);
      const [event] = await append([{ type: 'prompt_completed', actor: actor.user_id, payload: { message_id: messageId, agent_id: actor.user_id }, dedupe_key: keys.done(messageId) }]);
      touch(prompt.agent_id);
      return { seq: event.seq };
    });
  }

  async renew(actor: Identity, sessionId: string): Promise<number> {
    outOfScope(actor, sessionId);
    return promptsRepo.renew(this.db, sessionId, actor.user_id, this.options.leaseMs);
  }

  /** A durable output of the agent's assigned prompt (deduped by index); it also renews the lease. */
  async output(actor: Identity, sessionId: string, body: AgentOutputBody): Promise<{ seq: number }> {
    await this.role(this.db, actor, sessionId, 'agent.work');
    if (body.kind === 'partial_response') throw ChorusError.validation('kind', 'Partial output is not stored; the gateway pushes it.');
    const kind = body.kind;
    const prompt = await promptsRepo.find(this.db, sessionId, body.message_id);
    if (!prompt || prompt.assigned_to !== actor.user_id || (prompt.status !== 'assigned' && prompt.status !== 'done')) {
      throw new ChorusError('CONFLICT', `Prompt ${body.message_id} is not assigned to you; its output is refused.`);
    }
    await this.recorder.closeRun(sessionId, actor.user_id);
    const event = await this.events.append(sessionId, {
      type: 'agent_output',
      actor: actor.user_id,
      payload: { message_id: body.message_id, agent_id: actor.user_id, kind, index: body.index, data: body.data },
      dedupe_key: keys.output(body.message_id, body.index),
    });
    await this.publisher.publish([event]);
    await promptsRepo.renew(this.db, sessionId, actor.user_id, this.options.leaseMs);
    return { seq: event.seq };
  }

  /**
   * The agent reported its status: a transition is recorded for the activity feed (coalesced, see
   * AgentActivityRecorder.status), and it is a sign of life that renews its lease.
   */
  async status(actor: Identity, sessionId: string, status: AgentStatusValue, detail: string | null): Promise<{ renewed: number; recorded: boolean }> {
    await this.role(this.db, actor, sessionId, 'agent.work');
    const recorded = await this.recorder.status(sessionId, actor.user_id, status, detail ?? null);
    return { recorded, renewed: await promptsRepo.renew(this.db, sessionId, actor.user_id, this.options.leaseMs) };
  }

  /** One committed OT op of the agent (the gateway reports it after the conflict service's ack): the feed's runs of edits. */
  async edited(actor: Identity, sessionId: string, docId: string, version: number): Promise<void> {
    await this.role(this.db, actor, sessionId, 'document.edit');
    await this.recorder.edited(sessionId, actor.user_id, docId, version);
  }

  /** The agent's last connection closed: its prompts go back to the head of their queues. */
  async release(sessionId: string, agentId: string): Promise<number> {
    return this.mutate(sessionId, (tx, append, touch) => this.giveBackAll(tx, append, touch, sessionId, agentId, 'disconnected', false));
  }

  /** The sweep (every replica, any interval): prompts whose lease lapsed go back. Returns how many. */
  async sweepExpired(limit = 100): Promise<number> {
    let released = 0;
    for (const { session_id, assigned_to } of await promptsRepo.expired(this.db, limit)) {
      released += await this.mutate(session_id, (tx, append, touch) => this.giveBackAll(tx, append, touch, session_id, assigned_to, 'lease_expired', true));
    }
    return released;
  }

  // ---- internals ----

  private async giveBackAll(tx: EntityManager, append: Append, touch: Touch, sessionId: string, agentId: string, reason: 'lease_expired' | 'disconnected' | 'revoked', onlyExpired: boolean): Promise<number> {
    const held = await promptsRepo.assignedTo(tx, sessionId, agentId, onlyExpired);
    if (held.length > 0) await this.recorder.closeRunIn(tx, sessionId, agentId, append);
    for (const p of held) {
      const parked = p.attempts >= this.options.maxAttempts;
      await promptsRepo.giveBack(tx, p, parked);
      await append([{ type: 'prompt_released', actor: 'system', payload: { message_id: p.id, agent_id: agentId, reason, parked } }]);
      touch(p.agent_id);
    }
    return held.length;
  }

  /**
   * One queue change: a transaction holding the session's queue lock (the new revision), durable events
   * appended in it, and after the commit the events published and every touched queue pushed as it was at
   * the commit (read inside the transaction, under the lock).
   */
  private async mutate<T>(sessionId: string, work: (tx: EntityManager, append: Append, touch: Touch, revision: number) => Promise<T>): Promise<T> {
    const appended: StoredSessionEvent[] = [];
    const touched = new Set<string | null>();
    const result = await this.db.transaction(async (tx) => {
      if (!(await queueRepo.live(tx, sessionId))) throw notFound(sessionId);
      const revision = await queueRepo.bump(tx, sessionId);
      const value = await work(
        tx,
        async (events) => {
          const stored = await this.events.appendInTransaction(tx, sessionId, events);
          appended.push(...stored);
          return stored;
        },
        (agentId) => touched.add(agentId),
        revision,
      );
      return value;
    });
    // Durable first: the events, then the ephemeral positions (read after the commit, coalesced).
    await this.publisher.publish(appended);
    for (const target of touched) this.pusher.changed(sessionId, target);
    return result;
  }

  /**
   * A queue as everyone sees it now, for `queue_updated`: the revision bumped (one autocommit statement), then
   * the view read in one statement, outside any queue change. The bump is what numbers an enqueue (which takes
   * no queue lock): every change has committed before the bump that follows it, and a view read after a bump
   * sees it — so the view with the highest revision is always the newest, whichever replica read it.
   */
  private async readView(sessionId: string, agentId: string | null): Promise<QueueView> {
    await queueRepo.bump(this.db, sessionId);
    return this.viewOf(sessionId, agentId, await promptsRepo.view(this.db, sessionId, agentId, VIEW_ITEMS));
  }

  private viewOf(sessionId: string, agentId: string | null, v: Awaited<ReturnType<typeof promptsRepo.view>>): QueueView {
    return {
      session_id: sessionId,
      agent_id: agentId,
      revision: v.revision,
      length: v.length,
      items: v.items.map((p, i) => ({ message_id: p.id, position: i + 1, author: p.author_id, priority: p.priority })),
    };
  }

  /** A queue as everyone sees it: its length, and its first VIEW_ITEMS prompts with their positions. */
  private async view(tx: EntityManager, sessionId: string, agentId: string | null, revision: number): Promise<QueueView> {
    const queue = await promptsRepo.queued(tx, sessionId, agentId, VIEW_ITEMS);
    return {
      session_id: sessionId,
      agent_id: agentId,
      revision,
      length: queue.length < VIEW_ITEMS ? queue.length : await promptsRepo.queueLength(tx, sessionId, agentId),
      items: queue.map((p, i) => ({ message_id: p.id, position: i + 1, author: p.author_id, priority: p.priority })),
    };
  }

  private async role(db: DataSource | EntityManager, actor: Identity, sessionId: string, action: Action): Promise<Role> {
    outOfScope(actor, sessionId);
    const session = await sessionsRepo.find(db, sessionId);
    const me = await participantsRepo.find(db, sessionId, actor.user_id);
    if (!session || !me) throw notFound(sessionId);
    authorize(me.role, action);
    return me.role;
  }
}

function agentView(row: AgentRow): AgentView {
  return {
    agent_id: row.agent_id,
    session_id: row.session_id,
    name: row.name,
    capabilities: row.capabilities,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

function assigned(p: PromptRow): AssignedPrompt {
  return {
    message_id: p.id,
    author: p.author_id,
    display_name: p.author_name,
    content: p.content,
    images: p.images,
    priority: p.priority,
    agent_id: p.agent_id,
    attempt: p.attempts,
    lease_expires_at: (p.lease_expires_at ?? new Date()).toISOString(),
  };
}
