import { z } from 'zod';
import { ChorusError } from './errors';
import { MAX_JSON_DEPTH, inspectJson } from './json-walk';
import { text } from './text';
import { displayNameSchema, participantKindSchema, roleSchema, sessionIdSchema, userIdSchema } from './fields';
import type { SessionEventBody } from './session-events';

// The REST contract (JSON, snake_case): request bodies validated by the gateway, and response shapes.

const grantableRole = roleSchema.exclude(['owner']);

/**
 * Free-form JSON the server stores (jsonb): bounded in depth and made of storable text all the way down, checked
 * by the same iterative walk as every inbound message — a recursive schema would recurse over hostile data.
 */
const jsonObjectSchema = z.record(text(), z.unknown()).superRefine((value, ctx) => {
  const checked = inspectJson(value, { maxBytes: Number.POSITIVE_INFINITY, maxDepth: MAX_JSON_DEPTH, rootField: '(value)', tooLarge: () => new ChorusError('PAYLOAD_TOO_LARGE', 'too large') });
  if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.reason ?? checked.error.message, path: checked.path ?? [] });
});
const passwordSchema = text().min(4).max(256);

export const devTokenBodySchema = z.strictObject({ user_id: userIdSchema, display_name: displayNameSchema, kind: participantKindSchema.default('human') });

export const createSessionBodySchema = z.strictObject({
  name: text().trim().min(1).max(200),
  project_path: text().max(1_024).optional(),
  settings: jsonObjectSchema.optional(),
  is_public: z.boolean().optional(),
  password: passwordSchema.optional(),
  max_participants: z.number().int().min(1).max(1_000).optional(),
  /** Session lifetime; omitted = no expiry. */
  expires_in_s: z.number().int().min(60).max(365 * 24 * 3600).optional(),
  /** Start from one of the caller's templates (docs/session-admin.md): its values fill what the body leaves out. */
  template_id: z.uuid().optional(),
});

export const createInviteBodySchema = z.strictObject({
  role: grantableRole,
  expires_in_s: z.number().int().min(60).max(30 * 24 * 3600).optional(),
  max_uses: z.number().int().min(1).max(10_000).optional(),
  password: passwordSchema.optional(),
  /** Addressed invite: only this principal (a user or agent id) may redeem it; anyone else gets PERMISSION_DENIED. */
  user_id: userIdSchema.optional(),
  /** A permanent link: no expiry (revocable). Not with `expires_in_s`. */
  permanent: z.boolean().optional(),
}).refine((b) => !(b.permanent === true && b.expires_in_s !== undefined), { message: 'a permanent invite has no expires_in_s', path: ['permanent'] });

export const redeemInviteBodySchema = z.strictObject({ password: passwordSchema.optional() });
export const joinSessionBodySchema = z.strictObject({ password: passwordSchema.optional() });
export const updateRoleBodySchema = z.strictObject({ role: grantableRole });
export const historyQuerySchema = z.strictObject({
  after_seq: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});
/** `GET .../documents/:docId/history`: the query of `document_history` (strings in a URL, coerced). */
export const documentHistoryQuerySchema = z.strictObject({
  from_version: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).optional(),
});
export const versionParamSchema = z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const sessionIdParamSchema = sessionIdSchema;
export const inviteCodeParamSchema = text().min(6).max(128).regex(/^[A-Za-z0-9_-]+$/, 'an invite code or token');

export type DevTokenBody = z.infer<typeof devTokenBodySchema>;
export type CreateSessionBody = z.infer<typeof createSessionBodySchema>;
export type CreateInviteBody = z.infer<typeof createInviteBodySchema>;
export type RedeemInviteBody = z.infer<typeof redeemInviteBodySchema>;
export type JoinSessionBody = z.infer<typeof joinSessionBodySchema>;
export type UpdateRoleBody = z.infer<typeof updateRoleBodySchema>;
export type HistoryQuery = z.infer<typeof historyQuerySchema>;

// Response views: zod schemas, so the OpenAPI document describes exactly what the types promise. Not used to
// validate our own responses at run time (they are built from typed rows); a test checks real answers against them.
const isoTime = () => text().describe('ISO 8601 timestamp');

export const sessionViewSchema = z.object({
  session_id: text(),
  name: text(),
  owner_id: text(),
  project_path: text().nullable(),
  settings: z.record(text(), z.unknown()),
  is_public: z.boolean(),
  has_password: z.boolean(),
  max_participants: z.number().int(),
  participant_count: z.number().int(),
  last_seq: z.number().int(),
  created_at: isoTime(),
  updated_at: isoTime(),
  expires_at: isoTime().nullable(),
  /** The caller's role, or null when the caller only discovers a public session. */
  my_role: roleSchema.nullable().describe("The caller's role, or null when the caller only discovers a public session"),
});
export type SessionView = z.infer<typeof sessionViewSchema>;

export const participantViewSchema = z.object({
  user_id: text(),
  display_name: text(),
  kind: participantKindSchema,
  role: roleSchema,
  joined_at: isoTime(),
  last_active_at: isoTime(),
});
export type ParticipantView = z.infer<typeof participantViewSchema>;

export const inviteCreatedSchema = z.object({
  invite_id: text(),
  code: text(),
  /** The secret bearer form of the invite: shown once, stored hashed. */
  token: text().describe('The secret bearer form of the invite: shown once, stored hashed'),
  url: text(),
  role: roleSchema,
  /** Null for a permanent invite. */
  expires_at: isoTime().nullable().describe('Null for a permanent invite'),
  max_uses: z.number().int().nullable(),
  /** The only principal who may redeem it (an addressed invite), or null: anyone with the code. */
  user_id: text().nullable().describe('The only principal who may redeem it (an addressed invite), or null: anyone with the code'),
});
export type InviteCreated = z.infer<typeof inviteCreatedSchema>;

export const joinGrantViewSchema = z.object({
  session_id: text(),
  join_token: text(),
  role: roleSchema,
  expires_in_s: z.number().int(),
});
export type JoinGrantView = z.infer<typeof joinGrantViewSchema>;

/** One durable event in REST history: `{type, payload}` as declared in session-events.ts, with its position. */
export type SessionEventView = SessionEventBody & {
  seq: number;
  actor: string;
  created_at: string;
};

export interface HistoryPage {
  session_id: string;
  events: SessionEventView[];
  /** Pass as `after_seq` for the next page; null when this page reached the head. */
  next_after_seq: number | null;
  last_seq: number;
}

/** HistoryPage for the API description: an event's payload is one of session-events.ts's, by `type`. */
export const historyPageSchema = z.object({
  session_id: text(),
  events: z.array(
    z.object({
      type: text().describe('A durable session event type (docs/protocol.md "Session events")'),
      payload: z.record(text(), z.unknown()),
      seq: z.number().int(),
      actor: text(),
      created_at: isoTime(),
    }),
  ),
  next_after_seq: z.number().int().nullable().describe('Pass as after_seq for the next page; null when this page reached the head'),
  last_seq: z.number().int(),
});


/**
 * `GET /api/v1/voice/ice-servers`: the `iceServers` of an RTCPeerConnection for the caller. TURN entries carry
 * the caller's own time-limited `username`/`credential`; `expires_at` (ms since the epoch, null when nothing
 * expires) says when to ask again — before each new call is enough.
 */
export const iceServersViewSchema = z.object({
  ice_servers: z.array(z.object({ urls: z.array(text()), username: text().optional(), credential: text().optional() })),
  expires_at: z.number().int().nullable().describe('ms since the epoch; null when nothing expires'),
});
export type IceServersView = z.infer<typeof iceServersViewSchema>;
