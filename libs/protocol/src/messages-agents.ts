import { z } from 'zod';
import { text } from './text';
import { messageIdSchema } from './errors';
import { clientMsgIdSchema } from './messages';
import { displayNameSchema, seqSchema, sessionIdSchema, userIdSchema } from './fields';

// AI agents as participants and the durable prompt queue (docs/agents.md). Requests are strict like every
// client message; ids of prompts are UUIDs minted by the session service.

const id = messageIdSchema.optional();

export const PROMPT_MAX_CHARS = 32_000;
/** Priorities 0..9: higher is served first, then arrival. */
export const promptPrioritySchema = z.number().int().min(0).max(9);
export const promptIdSchema = z.uuid();
export const agentIdSchema = userIdSchema;
export const promptContentSchema = text().min(1).max(PROMPT_MAX_CHARS);
/** Images are referenced by URL (uploads are out of scope): at most 8. */
export const promptImagesSchema = z.array(text().min(1).max(2_048)).max(8);
export const agentStatusValueSchema = z.enum(['idle', 'thinking', 'editing', 'reviewing', 'testing', 'waiting']);
/** Kinds of agent output stored as durable session events (partial output is ephemeral). */
export const durableOutputKindSchema = z.enum(['tool_start', 'tool_result', 'response', 'error']);
export const outputKindSchema = z.enum(['partial_response', 'tool_start', 'tool_result', 'response', 'error']);
export const AGENT_OUTPUT_MAX_CHARS = 32_000;

// ---- client → server ----

export const promptSubmitSchema = z.strictObject({
  type: z.literal('prompt_submit'),
  id,
  session_id: sessionIdSchema,
  content: promptContentSchema,
  images: promptImagesSchema.optional(),
  priority: promptPrioritySchema.optional(),
  /** The agent to ask; omitted: any agent of the session. */
  agent_id: agentIdSchema.optional(),
  /** Required: a resend with the same key by the same user is answered with the stored prompt. */
  client_msg_id: clientMsgIdSchema,
});

export const promptCancelSchema = z.strictObject({ type: z.literal('prompt_cancel'), id, session_id: sessionIdSchema, message_id: promptIdSchema });

/** An agent asks for the next prompt of its queue (or of the session's shared queue). */
export const promptClaimSchema = z.strictObject({
  type: z.literal('prompt_claim'),
  id,
  session_id: sessionIdSchema,
  /** With nothing to take: wait, and be pushed `prompt_assigned` when this agent's queues get work. */
  wait: z.boolean().optional(),
});

export const promptDoneSchema = z.strictObject({ type: z.literal('prompt_done'), id, session_id: sessionIdSchema, message_id: promptIdSchema });

export const agentStatusRequestSchema = z.strictObject({
  type: z.literal('agent_status'),
  id,
  session_id: sessionIdSchema,
  status: agentStatusValueSchema,
  detail: text().max(500).optional(),
});

export const agentOutputRequestSchema = z.strictObject({
  type: z.literal('agent_output'),
  id,
  session_id: sessionIdSchema,
  message_id: promptIdSchema,
  kind: outputKindSchema,
  /** The chunk's index within the prompt's output (a resend with the same index stores nothing new). */
  index: z.number().int().nonnegative().max(1_000_000),
  data: text().max(AGENT_OUTPUT_MAX_CHARS),
});

// ---- server → client ----

export const promptQueuedSchema = z.strictObject({
  type: z.literal('prompt_queued'),
  id,
  session_id: sessionIdSchema,
  message_id: promptIdSchema,
  agent_id: agentIdSchema.nullable(),
  queued_at: text(),
  /** 1-based position in its queue at the time of the answer (0: already taken or finished, on a resend). */
  queue_position: z.number().int().nonnegative(),
  /** Whether the target agent (any agent, for the shared queue) is working on a prompt right now. */
  agent_busy: z.boolean(),
});

export const promptCancelledSchema = z.strictObject({ type: z.literal('prompt_cancelled'), id, session_id: sessionIdSchema, message_id: promptIdSchema });

export const assignedPromptSchema = z.strictObject({
  message_id: promptIdSchema,
  author: userIdSchema,
  display_name: displayNameSchema,
  content: text(),
  images: z.array(text()),
  priority: promptPrioritySchema,
  agent_id: agentIdSchema.nullable(),
  attempt: z.number().int().positive(),
  /** When the lease lapses unless the agent reports (status or output) or finishes. ISO 8601. */
  lease_expires_at: text(),
});
export type AssignedPrompt = z.infer<typeof assignedPromptSchema>;

export const promptClaimedSchema = z.strictObject({ type: z.literal('prompt_claimed'), id, session_id: sessionIdSchema, prompt: assignedPromptSchema.nullable() });

export const promptCompletedSchema = z.strictObject({ type: z.literal('prompt_completed'), id, session_id: sessionIdSchema, message_id: promptIdSchema, seq: seqSchema });

export const queueItemSchema = z.strictObject({ message_id: promptIdSchema, position: z.number().int().positive(), author: userIdSchema, priority: promptPrioritySchema });

/** A queue's whole state after every change. `revision` grows per session: keep the highest seen. */
export const queueUpdatedSchema = z.strictObject({
  type: z.literal('queue_updated'),
  session_id: sessionIdSchema,
  /** The target agent, or null for the shared queue (prompts for any agent). */
  agent_id: agentIdSchema.nullable(),
  revision: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
  items: z.array(queueItemSchema),
});
export type QueueUpdated = z.infer<typeof queueUpdatedSchema>;

export const agentStatusEventSchema = z.strictObject({
  type: z.literal('agent_status'),
  id,
  session_id: sessionIdSchema,
  agent_id: agentIdSchema,
  status: agentStatusValueSchema,
  detail: text().nullable(),
});

/** Partial output, pushed to everyone (ephemeral: the durable kinds arrive as `session_event agent_output`). */
export const agentOutputEventSchema = z.strictObject({
  type: z.literal('agent_output'),
  session_id: sessionIdSchema,
  message_id: promptIdSchema,
  agent_id: agentIdSchema,
  kind: z.literal('partial_response'),
  index: z.number().int().nonnegative(),
  data: text(),
});

/**
 * The text an agent has streamed so far for a prompt it is still answering, sent to whoever joins (or rejoins)
 * mid-stream, after `joined`. `through_index` is the index of the last partial chunk in `text`: drop live
 * `agent_output` chunks of this prompt with an index at or below it (they are in `text` already), append those
 * above it — so no chunk shows twice, whichever arrives first.
 */
export const agentOutputSoFarSchema = z.strictObject({
  type: z.literal('agent_output_so_far'),
  session_id: sessionIdSchema,
  message_id: promptIdSchema,
  agent_id: agentIdSchema,
  through_index: z.number().int().nonnegative(),
  text: text(),
});

/**
 * Pushed to an agent whose last `prompt_claim {wait: true}` found nothing (it is idle and waiting) as soon as its
 * queue or the shared one has work: the prompt is already assigned to it under a lease, exactly as a claim's answer.
 */
export const promptAssignedSchema = z.strictObject({ type: z.literal('prompt_assigned'), session_id: sessionIdSchema, prompt: assignedPromptSchema });

export const agentOutputAckSchema = z.strictObject({
  type: z.literal('agent_output_ack'),
  id,
  session_id: sessionIdSchema,
  message_id: promptIdSchema,
  index: z.number().int().nonnegative(),
  /** The durable event's seq; null for partial output. */
  seq: seqSchema.nullable(),
});

// ---- REST ----

export const createAgentBodySchema = z.strictObject({
  name: displayNameSchema,
  capabilities: z.array(text().min(1).max(64)).max(32).optional(),
});
export type CreateAgentBody = z.infer<typeof createAgentBodySchema>;

export interface AgentView {
  agent_id: string;
  session_id: string;
  name: string;
  capabilities: string[];
  created_by: string;
  created_at: string;
  revoked_at: string | null;
}

export interface AgentCreated extends AgentView {
  /** An access token for this agent, good for this session only; revoked with the agent. */
  access_token: string;
  token_type: 'Bearer';
  expires_in_s: number;
}

export const submitPromptBodySchema = z.strictObject({
  content: promptContentSchema,
  images: promptImagesSchema.optional(),
  priority: promptPrioritySchema.optional(),
  agent_id: agentIdSchema.optional(),
  client_msg_id: clientMsgIdSchema,
});
export type SubmitPromptBody = z.infer<typeof submitPromptBodySchema>;

export const reorderPromptBodySchema = z.strictObject({ position: z.number().int().positive().max(100_000) });

export type PromptQueuedView = Omit<z.infer<typeof promptQueuedSchema>, 'type' | 'id'>;
export type QueueView = Omit<QueueUpdated, 'type'>;

/** `GET …/messages` and `GET …/activity`: newest first, paged backwards by `before_seq` (strings in a URL, coerced). */
export const messagesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before_seq: z.coerce.number().int().positive().optional(),
});
export const activityQuerySchema = messagesQuerySchema.extend({ agent_id: agentIdSchema.optional() });
export type MessagesQuery = z.infer<typeof messagesQuerySchema>;
export type ActivityQuery = z.infer<typeof activityQuerySchema>;

/** One line of the conversation: a user's prompt or an agent's final response. */
export interface MessageView {
  seq: number;
  message_id: string;
  role: 'user' | 'assistant';
  /** The user who asked, or the agent that answered. */
  author: string;
  content: string;
  created_at: string;
}

// The activity feed's entries (`GET …/activity`), for OpenAPI and the types: what the session service answers.
const activityBase = {
  /** The durable event's seq: the feed's order (newest first) and its cursor. */
  seq: z.number().int().positive(),
  agent_id: text(),
  created_at: text().describe('ISO 8601 timestamp'),
};

/** An agent took, finished or gave back a prompt, or ran a tool (`data`: the call or its result). */
export const promptActivityViewSchema = z.object({
  ...activityBase,
  kind: z.enum(['prompt_taken', 'prompt_finished', 'prompt_released', 'tool_start', 'tool_result', 'error']),
  message_id: text(),
  data: text().nullable(),
});

/**
 * An agent edited an OT document: one entry per run of its ops on that document (coalesced), `ops` of them
 * between versions `from_version` and `to_version` (others' ops may lie between), from `started_at` to `ended_at`.
 */
export const documentEditedActivityViewSchema = z.object({
  ...activityBase,
  kind: z.literal('document_edited'),
  doc_id: text(),
  from_version: z.number().int().positive(),
  to_version: z.number().int().positive(),
  ops: z.number().int().positive(),
  started_at: text().describe('ISO 8601 timestamp'),
  ended_at: text().describe('ISO 8601 timestamp'),
  message_id: z.null(),
  data: z.null(),
});

/** An agent's status changed (only transitions are stored, at most one per AGENT_ACTIVITY_COALESCE_MS). */
export const statusChangedActivityViewSchema = z.object({
  ...activityBase,
  kind: z.literal('status_changed'),
  status: agentStatusValueSchema,
  detail: text().nullable(),
  message_id: z.null(),
  data: z.null(),
});

export const activityViewSchema = z.discriminatedUnion('kind', [promptActivityViewSchema, documentEditedActivityViewSchema, statusChangedActivityViewSchema]);
export const activityPageSchema = z.object({ items: z.array(activityViewSchema), next_before_seq: z.number().int().positive().nullable() });

export type PromptActivityView = z.infer<typeof promptActivityViewSchema>;
export type DocumentEditedActivityView = z.infer<typeof documentEditedActivityViewSchema>;
export type StatusChangedActivityView = z.infer<typeof statusChangedActivityViewSchema>;
/** What an agent did, discriminated on `kind`. */
export type ActivityView = z.infer<typeof activityViewSchema>;
export type ActivityKind = ActivityView['kind'];

export interface Page<T> {
  items: T[];
  /** Pass as `before_seq` for the next (older) page; null at the start of the session. */
  next_before_seq: number | null;
}
