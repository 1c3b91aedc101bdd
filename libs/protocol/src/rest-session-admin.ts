import { z } from 'zod';
import { ChorusError } from './errors';
import { MAX_JSON_DEPTH, inspectJson } from './json-walk';
import { text } from './text';
import { channelNameSchema } from './channels';
import { roleSchema, userIdSchema } from './fields';
import type { SessionView } from './rest';

// The REST contract of session management (docs/session-admin.md): updating a session, listing invites,
// public discovery, templates and the audit export. JSON, snake_case, validated by the gateway.

const jsonObjectSchema = z.record(text(), z.unknown()).superRefine((value, ctx) => {
  const checked = inspectJson(value, { maxBytes: 64 * 1024, maxDepth: MAX_JSON_DEPTH, rootField: '(value)', tooLarge: () => new ChorusError('PAYLOAD_TOO_LARGE', 'too large') });
  if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.reason ?? checked.error.message, path: checked.path ?? [] });
});
const grantableRole = roleSchema.exclude(['owner']);

/**
 * `PATCH /sessions/:id`: every field optional, at least one given. `password: null` clears the password,
 * `expires_in_s: null` removes the expiry, `project_path: null` clears it. `settings` replaces the settings object.
 */
export const updateSessionBodySchema = z
  .strictObject({
    name: text().trim().min(1).max(200).optional(),
    project_path: text().max(1_024).nullable().optional(),
    settings: jsonObjectSchema.optional(),
    is_public: z.boolean().optional(),
    password: text().min(4).max(256).nullable().optional(),
    expires_in_s: z.number().int().min(60).max(365 * 24 * 3600).nullable().optional(),
    max_participants: z.number().int().min(1).max(1_000).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'give at least one field to change' });
export type UpdateSessionBody = z.infer<typeof updateSessionBodySchema>;

/** `GET /api/v1/collaboration/public-sessions`: name search and an opaque cursor from the previous page. */
export const discoverQuerySchema = z.strictObject({
  q: text().trim().max(200).optional(),
  cursor: text().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export type DiscoverQuery = z.infer<typeof discoverQuerySchema>;

export interface DiscoverPage {
  sessions: SessionView[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

/** `GET /sessions/:id/audit`: the audit trail (every session event), JSON Lines by default. */
export const auditQuerySchema = z.strictObject({
  format: z.enum(['jsonl', 'json']).default('jsonl'),
  after_seq: z.coerce.number().int().nonnegative().default(0),
});
export type AuditQuery = z.infer<typeof auditQuerySchema>;

/** One invite as its managers list it (`GET /sessions/:id/invites`): never its token or password. */
export interface InviteView {
  invite_id: string;
  code: string;
  role: z.infer<typeof roleSchema>;
  created_by: string;
  user_id: string | null;
  expires_at: string | null;
  max_uses: number | null;
  uses: number;
  has_password: boolean;
  revoked_at: string | null;
  created_at: string;
}

/**
 * A path rule of a template (placeholder for per-file permissions: stored with the template and copied into the
 * new session's `settings.file_permissions`; enforcement is the per-file permissions feature's).
 */
const filePermissionSchema = z.strictObject({
  pattern: text().min(1).max(512),
  role: roleSchema.optional(),
  user_id: userIdSchema.optional(),
  access: z.enum(['read', 'write', 'none']),
});

const templateFields = {
  name: text().trim().min(1).max(200),
  description: text().max(2_000).optional(),
  /** The new session's values (each may still be overridden by the create request). */
  project_path: text().max(1_024).optional(),
  settings: jsonObjectSchema.optional(),
  is_public: z.boolean().optional(),
  max_participants: z.number().int().min(1).max(1_000).optional(),
  /** Participants added at creation with these roles (they get `participant_added` events). */
  default_roles: z.array(z.strictObject({ user_id: userIdSchema, role: grantableRole, display_name: text().min(1).max(100).optional() })).max(100).optional(),
  /** Custom channels the session starts with (copied into `settings.channels`). */
  channels: z.array(channelNameSchema).max(50).optional(),
  file_permissions: z.array(filePermissionSchema).max(200).optional(),
};

export const createTemplateBodySchema = z.strictObject(templateFields);
export const updateTemplateBodySchema = z.strictObject(templateFields).partial().refine((b) => Object.keys(b).length > 0, { message: 'give at least one field to change' });
export type CreateTemplateBody = z.infer<typeof createTemplateBodySchema>;
export type UpdateTemplateBody = z.infer<typeof updateTemplateBodySchema>;
export const templateIdParamSchema = z.uuid();

export interface TemplateView {
  template_id: string;
  owner_id: string;
  name: string;
  description: string | null;
  project_path: string | null;
  settings: Record<string, unknown>;
  is_public: boolean;
  max_participants: number | null;
  default_roles: Array<{ user_id: string; role: z.infer<typeof grantableRole>; display_name?: string }>;
  channels: string[];
  file_permissions: Array<z.infer<typeof filePermissionSchema>>;
  created_at: string;
  updated_at: string;
}
