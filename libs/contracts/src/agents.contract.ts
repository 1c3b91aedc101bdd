import type { ActivityQuery, ActivityView, AgentCreated, AgentView, AssignedPrompt, CreateAgentBody, MessageView, MessagesQuery, Page, PromptQueuedView, QueueView, SubmitPromptBody } from '@chorus/protocol';
import type { Identity } from '@chorus/auth';

/** What `agent_status` reports (libs/protocol agentStatusValueSchema). */
export type AgentStatusValue = 'idle' | 'thinking' | 'editing' | 'reviewing' | 'testing' | 'waiting';

/** What an agent reported that must reach the others: durable kinds are stored, partial output is not. */
export interface AgentOutputBody {
  readonly message_id: string;
  readonly kind: 'partial_response' | 'tool_start' | 'tool_result' | 'response' | 'error';
  readonly index: number;
  readonly data: string;
}

/**
 * The session service's agents and prompt queue (docs/agents.md), part of its transport contract. The queue
 * lives in the session service's Postgres; every change is made under the session's queue row lock, so
 * positions are decided in one place whatever the number of replicas, and `queue_updated` (with the queue's
 * revision) is published after the commit.
 */
export interface AgentApi {
  'agent.create': { req: { actor: Identity; session_id: string; body: CreateAgentBody }; res: AgentCreated };
  'agent.list': { req: { actor: Identity; session_id: string }; res: AgentView[] };
  'agent.revoke': { req: { actor: Identity; session_id: string; agent_id: string }; res: { revoked: true } };
  /** Idempotent per author by `client_msg_id`: a resend answers the stored prompt (its position now). */
  'prompt.submit': { req: { actor: Identity; session_id: string; body: SubmitPromptBody }; res: PromptQueuedView };
  /** The author cancels its own queued prompt; an owner or admin any. */
  'prompt.cancel': { req: { actor: Identity; session_id: string; message_id: string }; res: { cancelled: true } };
  /** Owner or admin: move a queued prompt to `position` (1-based) of its queue. */
  'prompt.reorder': { req: { actor: Identity; session_id: string; message_id: string; position: number }; res: QueueView };
  /** Every queue of the session (the shared one and one per target agent). */
  'prompt.queues': { req: { actor: Identity; session_id: string }; res: QueueView[] };
  /** An agent takes the head of its queue under a lease (null: nothing queued for it). */
  'prompt.claim': { req: { actor: Identity; session_id: string }; res: AssignedPrompt | null };
  /** Completes the agent's assigned prompt once: a repeat answers the same seq; a lost lease is CONFLICT. */
  'prompt.done': { req: { actor: Identity; session_id: string; message_id: string }; res: { seq: number } };
  /**
   * The agent's status report: a transition is recorded for the activity feed (repeats are not, and at most one
   * per AGENT_ACTIVITY_COALESCE_MS); renews its leases like `prompt.renew`.
   */
  'agent.status': { req: { actor: Identity; session_id: string; status: AgentStatusValue; detail: string | null }; res: { renewed: number; recorded: boolean } };
  /** One committed OT op by the agent (reported by the gateway after the ack): coalesced into `document_edited` runs. */
  'agent.edited': { req: { actor: Identity; session_id: string; doc_id: string; version: number }; res: { recorded: true } };
  /** Extends the leases of the agent's prompts (it is alive: status or output). */
  'prompt.renew': { req: { actor: Identity; session_id: string }; res: { renewed: number } };
  /** The agent's last connection to the session closed: its prompts go back to the head of their queues. */
  'prompt.release': { req: { session_id: string; agent_id: string }; res: { released: number } };
  /** The conversation for the seed's `/join`: prompts and final responses, newest first. */
  'prompt.messages': { req: { actor: Identity; session_id: string; query: MessagesQuery }; res: Page<MessageView> };
  /** What agents did (all, or one), newest first. */
  'agent.activity': { req: { actor: Identity; session_id: string; query: ActivityQuery }; res: Page<ActivityView> };
  /** A durable output (tool call, result, response, error) of the agent's assigned prompt; deduped by index. */
  'agent.output': { req: { actor: Identity; session_id: string; body: AgentOutputBody }; res: { seq: number } };
}
