import { z } from 'zod';
import { messageIdSchema } from './errors';
import { docIdSchema, roleSchema, sessionIdSchema, timestampSchema, userIdSchema, versionSchema } from './fields';
import { text } from './text';

// Document subscriptions, per-file permissions and the conflict workflow (issue #19, part B): docs/files.md.

const id = messageIdSchema.optional();

// ---- document subscriptions ----

/**
 * Stops this connection's `op` pushes for a document (it leaves the document's room on its gateway). Without
 * `session_id`, in every session of the connection that has it open. `open_document` (or a `submit_op`) opens it again.
 */
export const closeDocumentSchema = z.strictObject({ type: z.literal('close_document'), id, session_id: sessionIdSchema.optional(), doc_id: docIdSchema });
/** The reply: which sessions it was closed in (empty when it was not open). */
export const documentClosedSchema = z.strictObject({ type: z.literal('document_closed'), id, doc_id: text(), session_ids: z.array(text()) });

// ---- per-file permissions ----

/** What a path rule grants: `edit` (read and write), `read` (read only), `none` (neither). */
export const fileAccessSchema = z.enum(['edit', 'read', 'none']);
export type FileAccess = z.infer<typeof fileAccessSchema>;

/**
 * A path glob: `/`-separated segments; `**` matches any number of segments (also none), `*` any run of characters
 * within one segment, `?` one character. `docs/**` matches everything under docs/, `*.md` top-level Markdown files.
 */
export const pathGlobSchema = text()
  .min(1)
  .max(512)
  .refine((g) => !g.startsWith('/') && !g.includes('\\') && g.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), 'a relative glob without empty, "." or ".." segments');

/**
 * One rule: the paths it covers, whom it applies to (a role, or one participant by `user_id`; exactly one of them),
 * and the access it grants there. A rule can only narrow what the role allows (a viewer's `edit` rule still reads).
 */
export const fileRuleSchema = z
  .strictObject({
    /** A stable name for error messages and audit (`infra-readonly-agents`); defaults to `rule-<index>`. */
    name: text().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only').optional(),
    pattern: pathGlobSchema,
    role: roleSchema.optional(),
    user_id: userIdSchema.optional(),
    access: fileAccessSchema,
  })
  .refine((r) => (r.role === undefined) !== (r.user_id === undefined), { message: 'a rule names exactly one of role or user_id', path: ['role'] });
export type FileRule = z.infer<typeof fileRuleSchema>;

export const MAX_FILE_RULES = 200;
/** `PUT /api/v1/collaboration/sessions/:id/file-rules`: replaces the session's rules (an empty list removes them). */
export const fileRulesBodySchema = z.strictObject({ rules: z.array(fileRuleSchema).max(MAX_FILE_RULES) });
export type FileRulesBody = z.infer<typeof fileRulesBodySchema>;
/** The session's rules as stored (every rule named) and when they were last set. */
export const fileRulesViewSchema = z.strictObject({
  session_id: text(),
  rules: z.array(z.strictObject({ name: text(), pattern: text(), role: roleSchema.optional(), user_id: text().optional(), access: fileAccessSchema })),
  version: z.number().int().nonnegative(),
  updated_at: text().nullable(),
});
export type FileRulesView = z.infer<typeof fileRulesViewSchema>;
export type StoredFileRule = FileRulesView['rules'][number];

// ---- conflict workflow ----

export const conflictStrategySchema = z.enum(['keep_mine', 'keep_theirs', 'merged']);
export type ConflictStrategy = z.infer<typeof conflictStrategySchema>;

/**
 * Resolves a recorded conflict: the region's text becomes `mine` (the text the conflict's author intended),
 * `theirs` (the text the concurrent ops made) or `text` (`merged`, required then). Applied as a normal op by the
 * resolver, on the version the conflict was recorded at, and transformed to head like any other op.
 */
export const resolveConflictSchema = z
  .strictObject({
    type: z.literal('resolve_conflict'),
    id,
    session_id: sessionIdSchema,
    conflict_id: z.uuid(),
    strategy: conflictStrategySchema,
    /** At most 64,000 characters (a region's resolution; the message limit is 256 KiB). */
    text: text().max(64_000).optional(),
  })
  .refine((m) => (m.strategy === 'merged') === (m.text !== undefined), { message: 'text is required with strategy "merged" and only then', path: ['text'] });

/** A conflict as recorded when `conflict_detected` fired, and its resolution once resolved. */
export const conflictViewSchema = z.strictObject({
  conflict_id: text(),
  session_id: text(),
  doc_id: text(),
  /** The version whose commit overlapped concurrent ops; the region is in the document at this version. */
  version: versionSchema,
  base_version: versionSchema,
  /** The author of the overlapping op ("mine") and the authors of the ops it overlapped ("theirs"). */
  peer_id: text(),
  user_id: text(),
  peers: z.array(text()),
  /** The region [start, end) in code points of the document at `version`, and its text there (both edits merged). */
  region_start: z.number().int().nonnegative(),
  region_end: z.number().int().nonnegative(),
  merged_text: text(),
  /** The region as the author's op alone would have left it, and as the concurrent ops alone left it. */
  mine_text: text(),
  theirs_text: text(),
  /** The ops: the author's as submitted (on `base_version`) and the overlapped ones (versions). */
  op: z.array(z.unknown()),
  overlapped_versions: z.array(versionSchema),
  state: z.enum(['open', 'resolved']),
  created_at: text(),
  resolution: z
    .strictObject({ strategy: conflictStrategySchema, text: text(), resolved_by: text(), resolved_at: text(), version: versionSchema })
    .nullable(),
});
export type ConflictView = z.infer<typeof conflictViewSchema>;

/** Pushed to the session (and the reply to `resolve_conflict`): the conflict is resolved by `resolved_by`. */
export const conflictResolvedSchema = z.strictObject({
  type: z.literal('conflict_resolved'),
  id,
  session_id: sessionIdSchema,
  conflict_id: text(),
  doc_id: text(),
  strategy: conflictStrategySchema,
  /** The region's text after the resolution, and the version of the op that applied it. */
  text: text(),
  version: versionSchema,
  resolved_by: text(),
  peer_id: text(),
  resolved_at: timestampSchema,
});

/** `GET /api/v1/collaboration/sessions/:id/conflicts?state=open|resolved&doc_id=…`. */
export const conflictsQuerySchema = z.strictObject({
  state: z.enum(['open', 'resolved']).optional(),
  doc_id: docIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type ConflictsQuery = z.infer<typeof conflictsQuerySchema>;
export const conflictListSchema = z.strictObject({ conflicts: z.array(conflictViewSchema) });
export type ConflictList = z.infer<typeof conflictListSchema>;
