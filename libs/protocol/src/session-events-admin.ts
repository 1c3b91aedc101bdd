import { z } from 'zod';
import { text } from './text';

// The durable session events of session management and the audit trail (docs/session-admin.md). Declared here
// and spread into SESSION_EVENT_PAYLOADS (session-events.ts), so they are session events like every other:
// seq-ordered, replayed, in REST history and in the audit export. Plain storable text, as there: these describe
// what was stored.

/** What a `session_updated` changed: the new value of each field that changed (secrets only as a flag). */
const sessionChanges = z.strictObject({
  name: text().optional(),
  project_path: text().nullable().optional(),
  settings: z.record(text(), z.unknown()).optional(),
  is_public: z.boolean().optional(),
  /** The password was set (true) or cleared (false); its value never enters the stream. */
  has_password: z.boolean().optional(),
  expires_at: text().nullable().optional(),
  max_participants: z.number().int().positive().optional(),
});

export const SESSION_ADMIN_EVENT_PAYLOADS = {
  /** An owner or admin changed the session (PATCH /sessions/:id): `changes` holds the new values. */
  session_updated: z.strictObject({ changes: sessionChanges }),
  /**
   * A refused action (audit): who (`user_id`), what (`action`: a policy action, a message type or a route),
   * why (`code` and `reason`, the error the caller got), and on what (`resource`, e.g. a doc id or invite id).
   */
  access_refused: z.strictObject({ user_id: text(), action: text(), code: text(), reason: text(), resource: text().optional() }),
  /** A file lock was taken (audit; the live notice is the ephemeral `file_locked`). */
  file_lock_acquired: z.strictObject({ doc_id: text(), holder_id: text(), peer_id: text(), expires_at: text() }),
  /**
   * A file lock ended: `released` by its holder, `broken` by an owner or admin (`by`), or `expired` (by `system`:
   * its time ran out without an unlock).
   */
  file_lock_released: z.strictObject({ doc_id: text(), holder_id: text().nullable(), by: text(), reason: z.enum(['released', 'broken', 'expired']) }),
  /** A Yjs document was created (audit; docs/yjs.md): by whom (`user_id`), its first sync step 1 made it. */
  yjs_document_created: z.strictObject({ doc_id: text(), user_id: text() }),
  /**
   * A version of a Yjs document was restored (audit; docs/yjs.md "Version history"): by whom (`user_id`), which
   * `version`, and the `seq` of the update that restored it.
   */
  yjs_version_restored: z.strictObject({ doc_id: text(), version: z.number().int().positive(), seq: z.number().int().nonnegative(), user_id: text() }),
  /**
   * A version of a Yjs document was saved explicitly (docs/yjs.md "Version history"): by whom (`user_id`), its
   * number, its `label` (null without one) and the `seq` of the last update it holds. Not for a retried save that
   * stored nothing (`created: false`), nor for the compaction job's versions.
   */
  yjs_version_saved: z.strictObject({ doc_id: text(), version: z.number().int().positive(), label: text().nullable(), seq: z.number().int().nonnegative(), user_id: text() }),
} as const;

export type AccessRefusedPayload = z.infer<(typeof SESSION_ADMIN_EVENT_PAYLOADS)['access_refused']>;

/** What stands in a member's view of a refusal for the resource it concerned. */
export const WITHHELD = '(withheld)';

/**
 * A refusal as every member sees it (the live `session_event`, its replay, `GET /sessions/:id/history`): who,
 * what and the code, without the resource — a doc id may be a path a rule hides from the member (`none`), an
 * invite id is the managers' — and with the reason's mention of it replaced by `(withheld)`. The durable record
 * and the audit export (owners and admins, `audit.read`) keep it whole. docs/authorization.md "Audit visibility".
 */
export function refusalForMembers(p: AccessRefusedPayload): AccessRefusedPayload {
  const { resource, ...rest } = p;
  if (resource === undefined) return p;
  return { ...rest, reason: resource === '' ? p.reason : p.reason.split(resource).join(WITHHELD) };
}
