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

export interface SessionView {
  session_id: string;
  name: string;
  owner_id: string;
  project_path: string | null;
  settings: Record<string, unknown>;
  is_public: boolean;
  has_password: boolean;
  max_participants: number;
  participant_count: number;
  last_seq: number;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  /** The caller's role, or null when the caller only discovers a public session. */
  my_role: z.infer<typeof roleSchema> | null;
}

export interface ParticipantView {
  user_id: string;
  display_name: string;
  kind: z.infer<typeof participantKindSchema>;
  role: z.infer<typeof roleSchema>;
  joined_at: string;
  last_active_at: string;
}

export interface InviteCreated {
  invite_id: string;
  code: string;
  /** The secret bearer form of the invite: shown once, stored hashed. */
  token: string;
  url: string;
  role: z.infer<typeof roleSchema>;
  /** Null for a permanent invite. */
  expires_at: string | null;
  max_uses: number | null;
  /** The only principal who may redeem it (an addressed invite), or null: anyone with the code. */
  user_id: string | null;
}

export interface JoinGrantView {
  session_id: string;
  join_token: string;
  role: z.infer<typeof roleSchema>;
  expires_in_s: number;
}

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


/**
 * `GET /api/v1/voice/ice-servers`: the `iceServers` of an RTCPeerConnection for the caller. TURN entries carry
 * the caller's own time-limited `username`/`credential`; `expires_at` (ms since the epoch, null when nothing
 * expires) says when to ask again — before each new call is enough.
 */
export interface IceServersView {
  ice_servers: Array<{ urls: string[]; username?: string; credential?: string }>;
  expires_at: number | null;
}
