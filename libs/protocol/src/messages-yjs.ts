import { z } from 'zod';
import { text } from './text';
import { messageIdSchema } from './errors';
import { docIdSchema, sessionIdSchema } from './fields';

// Yjs documents beside OT ones (docs/yjs.md). The messages carry the y-protocols messages unchanged — the bytes a
// y-websocket provider puts in a binary frame (sync step 1, sync step 2, update, awareness, query awareness) — as
// base64, so one gateway code path serves Socket.IO events, /ws frames and the stock-provider path /yjs/.

const id = messageIdSchema.optional();
const session_id = sessionIdSchema;
const doc_id = docIdSchema;

/** Limits of Yjs documents, announced in docs/yjs.md and enforced by the gateway and the conflict service. */
export const YJS_LIMITS = {
  /** Largest update (decoded bytes): a paste of a large file fits; a whole document upload should be chunked. */
  maxUpdateBytes: 256 * 1024,
  /** Largest stored document (snapshot + log bytes): appends past it are refused with PAYLOAD_TOO_LARGE. */
  maxDocBytes: 16 * 1024 * 1024,
  /** Largest awareness message (decoded bytes): presence is small. */
  maxAwarenessBytes: 16 * 1024,
} as const;

/** base64 of a y-protocols message (the largest update, 4/3 and a varint header). */
export const yjsPayloadSchema = text()
  .min(4)
  .max(Math.ceil(((YJS_LIMITS.maxUpdateBytes + 16) * 4) / 3) + 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 (RFC 4648, with padding)');

/** base64 of a y-protocols message the server sends: a sync step 2 may carry a whole document. */
export const yjsReplyPayloadSchema = text()
  .min(4)
  .max(Math.ceil(((YJS_LIMITS.maxDocBytes + 16) * 4) / 3) + 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 (RFC 4648, with padding)');

// ---- client → server ----

/**
 * One y-protocols message for a Yjs document. Sync step 1 subscribes the connection to the document (created,
 * kind `yjs`, when absent and the caller may edit) and is answered with sync step 2 and the server's sync step 1;
 * an update (or sync step 2) is answered once durable, with its `seq`; awareness is relayed to the document's
 * subscribers.
 */
export const yjsSyncSchema = z.strictObject({ type: z.literal('yjs_sync'), id, session_id, doc_id, message: yjsPayloadSchema });
/** Stops receiving a Yjs document's updates and awareness (its awareness states on this connection are removed). */
export const yjsLeaveSchema = z.strictObject({ type: z.literal('yjs_leave'), id, session_id, doc_id });

// ---- server → client ----

/** The reply to `yjs_sync`: y-protocols messages for the client (base64), and the durable seq of the update it carried. */
export const yjsSyncReplySchema = z.strictObject({
  type: z.literal('yjs_sync_reply'),
  id,
  session_id,
  doc_id,
  messages: z.array(yjsReplyPayloadSchema).max(4),
  /** The seq the client's update was stored under (also for a resend of the same bytes); null when it carried none. */
  seq: z.number().int().nonnegative().nullable(),
});

export const yjsLeftSchema = z.strictObject({ type: z.literal('yjs_left'), id, session_id, doc_id });

/** A push to a Yjs document's subscribers: an update already durable (`seq`), or an awareness message (`seq` null). */
export const yjsMessageSchema = z.strictObject({ type: z.literal('yjs_message'), session_id, doc_id, message: yjsPayloadSchema, seq: z.number().int().positive().nullable() });
