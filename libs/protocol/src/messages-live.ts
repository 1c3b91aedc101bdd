import { z } from 'zod';
import { fileHostSchema } from './messages-filesync';
import { voiceMemberSchema } from './messages-voice';
import { text } from './text';
import { messageIdSchema } from './errors';
import {
  derivedStatusSchema,
  displayNameSchema,
  docIdSchema,
  participantKindSchema,
  peerIdSchema,
  presenceStatusSchema,
  selectionSchema,
  seqSchema,
  sessionIdSchema,
  textOpSchema,
  timestampSchema,
  userIdSchema,
  versionSchema,
} from './fields';

// Presence, documents and the generic session event: the live half of the protocol.

const id = messageIdSchema.optional();
const session_id = sessionIdSchema;

// ---- presence ----

export const presenceUpdateRequestSchema = z.strictObject({
  type: z.literal('presence_update'),
  id,
  session_id,
  /** `away` is the client's choice; `online`/`idle` is derived by the server from activity. */
  status: presenceStatusSchema.optional(),
  active_file: docIdSchema.nullable().optional(),
  doc_id: docIdSchema.nullable().optional(),
  selection: selectionSchema.nullable().optional(),
});

export const presenceViewSchema = z.strictObject({
  session_id,
  peer_id: peerIdSchema,
  user_id: userIdSchema,
  display_name: displayNameSchema,
  kind: participantKindSchema,
  status: derivedStatusSchema,
  active_file: text().nullable(),
  doc_id: text().nullable(),
  selection: selectionSchema.nullable(),
  typing: z.strictObject({ doc_id: text().nullable() }).nullable(),
  last_active_at: timestampSchema,
});
export type PresenceView = z.infer<typeof presenceViewSchema>;

export const presenceUpdateEventSchema = z.strictObject({ type: z.literal('presence_update'), id, ...presenceViewSchema.shape });

/** Presence changes of several peers within one 50 ms tick (the latest view of each), pushed to the session. */
export const presenceBatchSchema = z.strictObject({ type: z.literal('presence_batch'), session_id, peers: z.array(presenceViewSchema) });

export const whoSchema = z.strictObject({ type: z.literal('who'), id, session_id });
export const presenceListSchema = z.strictObject({
  type: z.literal('presence_list'),
  id,
  session_id,
  peers: z.array(presenceViewSchema),
  /** Everyone in a voice room of the session, with the room and whether muted (absent from older servers). */
  voice: z.array(voiceMemberSchema).optional(),
  /** The session's file host (docs/file-sync.md); null: nobody shares; absent from older servers. */
  file_host: fileHostSchema.nullable().optional(),
});

export const presenceLeftSchema = z.strictObject({
  type: z.literal('presence_left'),
  session_id,
  peer_id: peerIdSchema,
  user_id: userIdSchema.nullable(),
  /** `left`: the peer left or disconnected; `expired`: its lease ran out (its gateway died). */
  reason: z.enum(['left', 'expired']),
});

export const typingSchema = z.strictObject({ type: z.literal('typing'), id, session_id, doc_id: docIdSchema.nullable().optional() });
export const stopTypingSchema = z.strictObject({ type: z.literal('stop_typing'), id, session_id });
export const typingStartSchema = z.strictObject({ type: z.literal('typing_start'), id, session_id, peer_id: peerIdSchema, user_id: userIdSchema, doc_id: text().nullable() });
export const typingStopSchema = z.strictObject({ type: z.literal('typing_stop'), id, session_id, peer_id: peerIdSchema, user_id: userIdSchema, doc_id: text().nullable() });

// ---- documents ----

export const openDocumentSchema = z.strictObject({ type: z.literal('open_document'), id, session_id, doc_id: docIdSchema });
/**
 * The document's current lock as the server knows it when answering (null: unlocked). Lets a client that missed a
 * `file_locked` or `file_unlocked` (a reconnect) learn the truth by reopening. Optional: absent on `document_at`.
 */
export const documentLockSchema = z.strictObject({ holder_id: text(), peer_id: text(), expires_at: text() });
/** One live lock of a session, as `joined.locks` lists them: a document's lock plus which document. */
export const sessionLockSchema = z.strictObject({ doc_id: text(), ...documentLockSchema.shape });
/**
 * At most this many locks in one `joined`, a bound on the reply's size: ~150 bytes per lock plus its doc_id, so
 * ~100 KB with typical paths and ~600 KB if every doc_id had the maximum 1,024 characters. A session with more
 * live locks gets the first this many by doc_id and `locks_truncated: true`; open a document to learn its lock.
 */
export const MAX_JOINED_LOCKS = 500;
export type SessionLock = z.infer<typeof sessionLockSchema>;
export const documentSchema = z.strictObject({ type: z.literal('document'), id, session_id, doc_id: text(), version: versionSchema, content: text(), lock: documentLockSchema.nullable().optional() });

export const submitOpSchema = z.strictObject({
  type: z.literal('submit_op'),
  id,
  session_id,
  doc_id: docIdSchema,
  /** The version the op applies to (the last version the client applied). */
  version: versionSchema,
  op: textOpSchema,
  /** The client's op counter for this connection's peer: (peer_id, seq) makes a resend idempotent. */
  seq: seqSchema,
});
export const opAckSchema = z.strictObject({ type: z.literal('op_ack'), id, session_id, doc_id: text(), version: versionSchema, seq: seqSchema });

const committedOpFields = {
  doc_id: text(),
  version: versionSchema,
  op: textOpSchema,
  peer_id: text(),
  seq: seqSchema,
};
export const opEventSchema = z.strictObject({ type: z.literal('op'), session_id, ...committedOpFields });

export const fetchOpsSchema = z.strictObject({ type: z.literal('fetch_ops'), id, session_id, doc_id: docIdSchema, from_version: versionSchema });
export const opsSchema = z.strictObject({
  type: z.literal('ops'),
  id,
  session_id,
  doc_id: text(),
  ops: z.array(z.strictObject(committedOpFields)),
  /** The head version: when the last op returned is below it, fetch again from there. */
  head: versionSchema,
});

/** Who changed what, oldest first: `from_version` defaults to the oldest retained version. */
export const documentHistorySchema = z.strictObject({
  type: z.literal('document_history'),
  id,
  session_id,
  doc_id: docIdSchema,
  from_version: versionSchema.optional(),
  limit: z.number().int().min(1).max(1_000).optional(),
});
/** One committed op, summarised (sizes, not the text: `document_at` gives the text at any retained version). */
export const historyEntrySchema = z.strictObject({
  version: versionSchema,
  base_version: versionSchema,
  peer_id: text(),
  user_id: text(),
  created_at: timestampSchema,
  inserted: z.number().int().nonnegative(),
  deleted: z.number().int().nonnegative(),
});
export const historySchema = z.strictObject({
  type: z.literal('history'),
  id,
  session_id,
  doc_id: text(),
  entries: z.array(historyEntrySchema),
  /** The oldest version whose ops are retained (compaction drops older ones) and the head. */
  min_version: versionSchema,
  head: versionSchema,
});
/** The text at a past (retained) version; answered with `document` at that version. */
export const documentAtSchema = z.strictObject({ type: z.literal('document_at'), id, session_id, doc_id: docIdSchema, version: versionSchema });

export const lockFileSchema = z.strictObject({ type: z.literal('lock_file'), id, session_id, doc_id: docIdSchema, ttl_ms: z.number().int().min(1_000).max(3_600_000).optional() });
export const unlockFileSchema = z.strictObject({ type: z.literal('unlock_file'), id, session_id, doc_id: docIdSchema, force: z.boolean().optional() });
export const fileLockedSchema = z.strictObject({ type: z.literal('file_locked'), id, session_id, doc_id: text(), holder_id: text(), peer_id: text(), expires_at: text() });
export const fileUnlockedSchema = z.strictObject({
  type: z.literal('file_unlocked'),
  id,
  session_id,
  doc_id: text(),
  holder_id: text().nullable(),
  reason: z.enum(['released', 'broken', 'expired', 'not_locked']),
  by: text().optional(),
});

export const conflictDetectedSchema = z.strictObject({
  type: z.literal('conflict_detected'),
  session_id,
  doc_id: text(),
  version: versionSchema,
  base_version: versionSchema,
  peer_id: text(),
  user_id: text(),
  overlaps: z.array(z.strictObject({ version: versionSchema, peer_id: text(), user_id: text(), ranges: z.array(z.strictObject({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() })) })),
  peers: z.array(text()),
  /** The recorded conflict (`resolve_conflict`, `GET .../conflicts`); absent when it could not be recorded. */
  conflict_id: text().optional(),
});

// ---- the session stream ----

/** A durable session event with no dedicated message (role changes, invites, ...): keeps `seq` continuous. */
export const sessionEventSchema = z.strictObject({
  type: z.literal('session_event'),
  session_id,
  seq: seqSchema,
  event_type: text(),
  actor: text(),
  payload: z.record(text(), z.unknown()),
  created_at: text(),
});
