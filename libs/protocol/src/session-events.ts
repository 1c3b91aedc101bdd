import { z } from 'zod';
import { text } from './text';
import { participantKindSchema, roleSchema } from './fields';
import { SESSION_ADMIN_EVENT_PAYLOADS } from './session-events-admin';

// The durable events of a session's stream, declared once: what each event `type` carries. The session service
// produces them (typed), stores them as they are (`session_events.payload`), and parses every row it reads back
// against these schemas. Clients see them as `peer_joined` / `peer_left` / `chat_message`, or, for every other
// type, as `session_event {event_type, payload}` and in REST history — the same payloads, field for field.
//
// Ids and names are plain storable text here, not the stricter request-field schemas: these describe what was
// stored (checked once at the edge when it came in), and a row must not turn unreadable because a limit moved.

const user_id = text();
const peer_id = text();
const display_name = text();
const invite_id = text();

export const SESSION_EVENT_PAYLOADS = {
  session_created: z.strictObject({ name: text() }),
  session_deleted: z.strictObject({}),
  /** A socket joined the live session. */
  peer_joined: z.strictObject({ peer_id, user_id, display_name, kind: participantKindSchema, role: roleSchema }),
  /** A socket left, disconnected, or its presence lease expired (its gateway died). */
  peer_left: z.strictObject({ peer_id, user_id, reason: z.enum(['left', 'disconnected', 'expired']) }),
  /**
   * A chat message as sent. Stored once and never rewritten (the stream is an append-only audit trail): edits
   * and deletions are events of their own. `edited_at`, `deleted_at` and `deleted_by` are never stored: REST
   * history sets them on the message as it is now (latest text; a deleted one with `message: ""`).
   */
  chat_message: z.strictObject({
    peer_id,
    user_id,
    display_name,
    message: text(),
    client_msg_id: text().optional(),
    edited_at: text().optional(),
    deleted_at: text().optional(),
    deleted_by: user_id.optional(),
  }),
  /** The author replaced the text of the chat message at `message_seq` (history blanks it once deleted). */
  message_update: z.strictObject({ message_seq: z.number().int().positive(), peer_id, user_id, message: text() }),
  /** The chat message at `message_seq` (by `user_id`) was deleted by `deleted_by` (its author, an owner or an admin). */
  message_delete: z.strictObject({ message_seq: z.number().int().positive(), user_id, deleted_by: user_id }),
  invite_created: z.strictObject({
    invite_id,
    role: roleSchema,
    /** Null: a permanent invite (no expiry, revocable). */
    expires_at: text().nullable(),
    max_uses: z.number().int().positive().nullable(),
    /** An addressed invite: only this principal may redeem it. */
    user_id: user_id.optional(),
  }),
  invite_revoked: z.strictObject({ invite_id }),
  /** The redeemer became (or stayed) a participant with `role`. */
  invite_redeemed: z.strictObject({ invite_id, role: roleSchema, display_name, kind: participantKindSchema }),
  /** A newcomer joined a public session (as a viewer). */
  participant_added: z.strictObject({ user_id, role: roleSchema, display_name, kind: participantKindSchema }),
  participant_left: z.strictObject({ user_id }),
  role_changed: z.strictObject({ user_id, from: roleSchema, to: roleSchema }),
  participant_removed: z.strictObject({ user_id }),
  // ---- agents and the prompt queue (docs/agents.md) ----
  /** An owner or admin added an agent (a participant with role `agent`) and minted its credential. */
  agent_added: z.strictObject({ agent_id: text(), name: text(), capabilities: z.array(text()) }),
  /** Its credential was revoked: the agent is no longer a participant. */
  agent_revoked: z.strictObject({ agent_id: text() }),
  /** A user's prompt entered the queue (the seed's `user_message`); `agent_id` null: any agent of the session. */
  prompt_queued: z.strictObject({ message_id: text(), user_id, display_name, agent_id: text().nullable(), content: text(), priority: z.number().int(), images: z.array(text()) }),
  prompt_cancelled: z.strictObject({ message_id: text(), by: text() }),
  /** An agent took the prompt under a lease (`attempt` counts from 1). */
  prompt_assigned: z.strictObject({ message_id: text(), agent_id: text(), attempt: z.number().int().positive() }),
  /** The agent lost it (lease lapsed, disconnected): back at the head of its queue, or parked after too many attempts. */
  prompt_released: z.strictObject({ message_id: text(), agent_id: text(), reason: z.enum(['lease_expired', 'disconnected', 'revoked']), parked: z.boolean() }),
  prompt_completed: z.strictObject({ message_id: text(), agent_id: text() }),
  /** A durable piece of an agent's work on a prompt: a tool call, its result, the final response, or an error. */
  agent_output: z.strictObject({ message_id: text(), agent_id: text(), kind: z.enum(['tool_start', 'tool_result', 'response', 'error']), index: z.number().int().nonnegative(), data: text() }),
  /**
   * A run of an agent's OT edits on one document, coalesced (docs/agents.md, "History and activity"): `ops` of its
   * ops between versions `from_version` and `to_version` (others' ops may lie between), from `started_at` to
   * `ended_at`. Appended when the run ends: another doc, another activity of the agent, or a pause.
   */
  document_edited: z.strictObject({ agent_id: text(), doc_id: text(), from_version: z.number().int().positive(), to_version: z.number().int().positive(), ops: z.number().int().positive(), started_at: text(), ended_at: text() }),
  /** An agent's `agent_status` changed to another status (repeats are not stored; at most one per AGENT_ACTIVITY_COALESCE_MS). */
  agent_status_changed: z.strictObject({ agent_id: text(), status: z.enum(['idle', 'thinking', 'editing', 'reviewing', 'testing', 'waiting']), detail: text().nullable() }),
  // ---- per-file permissions and conflicts (docs/files.md) ----
  /** An owner or admin replaced the session's path rules (`version` counts the changes). */
  file_rules_updated: z.strictObject({ version: z.number().int().positive(), rules: z.array(z.record(text(), z.unknown())) }),
  /** A recorded conflict was resolved by `user_id` (the audit of `resolve_conflict`). */
  conflict_resolved: z.strictObject({ conflict_id: text(), doc_id: text(), strategy: z.enum(['keep_mine', 'keep_theirs', 'merged']), user_id, version: z.number().int().nonnegative() }),
  ...SESSION_ADMIN_EVENT_PAYLOADS,
} as const;

export type SessionEventType = keyof typeof SESSION_EVENT_PAYLOADS;
export type SessionEventPayload<T extends SessionEventType> = z.infer<(typeof SESSION_EVENT_PAYLOADS)[T]>;

/** `{type, payload}` of one durable event, discriminated on `type`. */
export type SessionEventBody = { [T in SessionEventType]: { readonly type: T; readonly payload: SessionEventPayload<T> } }[SessionEventType];

export function isSessionEventType(type: unknown): type is SessionEventType {
  return typeof type === 'string' && Object.prototype.hasOwnProperty.call(SESSION_EVENT_PAYLOADS, type);
}

/** Why a stored `{type, payload}` is not a durable event of this version: an unknown type, or a bad payload. */
export type SessionEventBodyCheck = { ok: true; value: SessionEventBody } | { ok: false; reason: string };

/** Parses a `{type, payload}` read back from storage (or from another process) into the discriminated union. */
export function parseSessionEventBody(type: unknown, payload: unknown): SessionEventBodyCheck {
  if (!isSessionEventType(type)) return { ok: false, reason: `unknown event type ${JSON.stringify(type)}` };
  const result = SESSION_EVENT_PAYLOADS[type].safeParse(payload);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(payload)'}: ${i.message}`);
    return { ok: false, reason: `bad ${type} payload (${issues.join('; ')})` };
  }
  // The schema of `type` accepted the payload: this pair is exactly the `type` member of the union (TypeScript
  // cannot correlate a key with the schema looked up by it).
  return { ok: true, value: { type, payload: result.data } as SessionEventBody };
}
