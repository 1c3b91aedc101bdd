import { z } from 'zod';
import { text } from './text';

// Field schemas shared by several messages. Limits live here so the wire contract states them once.

/** Session ids are UUIDs minted by the session service. */
export const sessionIdSchema = z.uuid();
/** A peer id is chosen by the client per connection (e.g. a tab); letters, digits, `-`, `_`, `.`, `:`. */
export const peerIdSchema = text().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');
export const userIdSchema = text().min(1).max(128);
export const displayNameSchema = text().min(1).max(100);
export const participantKindSchema = z.enum(['human', 'agent']);
export const roleSchema = z.enum(['owner', 'admin', 'editor', 'viewer', 'agent']);
/** Session stream positions start at 1; 0 means "nothing seen yet". */
export const seqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** Milliseconds since the Unix epoch, stamped by the server. */
export const timestampSchema = z.number().int().nonnegative();
export const CHAT_MESSAGE_MAX_CHARS = 8_000;
export const chatTextSchema = text().min(1).max(CHAT_MESSAGE_MAX_CHARS);
/** Join tokens are opaque to clients; they are short-lived JWTs minted by the session service. */
export const joinTokenSchema = text().min(16).max(4_096);

export const participantSchema = z.strictObject({
  peer_id: peerIdSchema,
  user_id: userIdSchema,
  display_name: displayNameSchema,
  kind: participantKindSchema,
  role: roleSchema,
});
export type Participant = z.infer<typeof participantSchema>;
export type Role = z.infer<typeof roleSchema>;
export type ParticipantKind = z.infer<typeof participantKindSchema>;

/**
 * A document id is a relative project path (`src/main.rs`): '/'-separated, no empty, '.' or '..' segment, no
 * leading '/', no backslash or control character — one path, one spelling.
 */
export const docIdSchema = text()
  .min(1)
  .max(1_024)
  .refine((p) => ![...p].some((ch) => ch === '\\' || ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), 'no backslash or control characters')
  .refine((p) => p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), 'a relative path without empty, "." or ".." segments');

/** Document versions: 0 is the empty document before any op. */
export const versionSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** An ot-text-unicode op: number = skip, string = insert, {d: N | "text"} = delete. Positions in code points. */
export const opComponentSchema = z.union([
  z.number().int().positive(),
  text().min(1),
  z.strictObject({ d: z.union([z.number().int().positive(), text().min(1)]) }),
]);
export const textOpSchema = z.array(opComponentSchema).max(10_000);

/** A cursor (anchor = head) or selection, in code points of the document at the peer's version. */
export const selectionSchema = z.strictObject({ anchor: z.number().int().nonnegative(), head: z.number().int().nonnegative() });
export type Selection = z.infer<typeof selectionSchema>;

export const presenceStatusSchema = z.enum(['online', 'away']);
export const derivedStatusSchema = z.enum(['online', 'idle', 'away']);
/** What a client may state (`idle` is derived by the server, never sent). */
export type PresenceStatus = z.infer<typeof presenceStatusSchema>;
export type DerivedStatus = z.infer<typeof derivedStatusSchema>;
