import { z } from 'zod';

// Field schemas shared by several messages. Limits live here so the wire contract states them once.

/** Session ids are UUIDs minted by the session service. */
export const sessionIdSchema = z.uuid();
/** A peer id is chosen by the client per connection (e.g. a tab); letters, digits, `-`, `_`, `.`, `:`. */
export const peerIdSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');
export const userIdSchema = z.string().min(1).max(128);
export const displayNameSchema = z.string().min(1).max(100);
export const participantKindSchema = z.enum(['human', 'agent']);
export const roleSchema = z.enum(['owner', 'admin', 'editor', 'viewer', 'agent']);
/** Session stream positions start at 1; 0 means "nothing seen yet". */
export const seqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** Milliseconds since the Unix epoch, stamped by the server. */
export const timestampSchema = z.number().int().nonnegative();
export const CHAT_MESSAGE_MAX_CHARS = 8_000;
export const chatTextSchema = z.string().min(1).max(CHAT_MESSAGE_MAX_CHARS);
/** Join tokens are opaque to clients; they are short-lived JWTs minted by the session service. */
export const joinTokenSchema = z.string().min(16).max(4_096);

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
