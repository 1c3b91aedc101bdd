import { z } from 'zod';
import { text } from './text';
import { messageIdSchema } from './errors';
import { docIdSchema, peerIdSchema, seqSchema, sessionIdSchema, timestampSchema, userIdSchema } from './fields';

// Channels: named streams of events inside a session (file watcher, diagnostics, an agent's streamed answer,
// search results, ...). Built-in channels have a typed `data` schema; custom channels (`x-<name>`) carry any JSON
// within the `publish` size limit. Each channel keeps a short history with its own `seq` (1, 2, ...), so a
// subscriber that reconnects resubscribes with `since` and gets exactly what it missed, or `recovered: false`.

const id = messageIdSchema.optional();

/** A file of the project changed on disk (a watcher's view; not an edit of a shared document). */
const filesData = z.strictObject({ file: docIdSchema, event: z.enum(['add', 'change', 'unlink']), timestamp: timestampSchema });

const positionSchema = z.strictObject({ line: z.number().int().nonnegative(), character: z.number().int().nonnegative() });
/** A linter's or compiler's findings for one file, replacing the previous set for that file (LSP shapes). */
const diagnosticsData = z.strictObject({
  file: docIdSchema,
  diagnostics: z
    .array(
      z.strictObject({
        range: z.strictObject({ start: positionSchema, end: positionSchema }),
        severity: z.enum(['error', 'warning', 'info', 'hint']),
        message: text().min(1).max(4_000),
        source: text().max(100).optional(),
      }),
    )
    .max(1_000),
});

/** One chunk of an agent's streamed answer `id`; `index` counts from 0, the last chunk has `finished: true`. */
const aiResponseData = z.strictObject({ id: text().min(1).max(128), chunk: text().max(16_000), index: z.number().int().nonnegative(), finished: z.boolean() });

/** A page of search results: `count` in this page, `total` overall. Results are the searcher's own JSON. */
const searchData = z.strictObject({
  query: text().min(1).max(1_000),
  count: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  results: z.array(z.unknown()).max(1_000),
});

/** The outcome of a validation run (build, tests, schema check): its own JSON under `result`. */
const validationData = z.strictObject({ result: z.unknown().refine((v) => v !== undefined, 'Required') });

/** A repository change: `type` is the git operation (commit, checkout, push, ...), `message` a human line. */
const gitData = z.strictObject({ type: text().min(1).max(64), message: text().max(4_000) });

export const BUILT_IN_CHANNELS = {
  files: filesData,
  diagnostics: diagnosticsData,
  'ai-response': aiResponseData,
  search: searchData,
  validation: validationData,
  git: gitData,
} as const;
export type BuiltInChannel = keyof typeof BUILT_IN_CHANNELS;
export type ChannelDataOf<C extends BuiltInChannel> = z.infer<(typeof BUILT_IN_CHANNELS)[C]>;

const CUSTOM_CHANNEL = /^x-[a-z0-9][a-z0-9._-]{0,62}$/;

export function isBuiltInChannel(name: string): name is BuiltInChannel {
  return Object.prototype.hasOwnProperty.call(BUILT_IN_CHANNELS, name);
}

/** A built-in channel name, or `x-` followed by lower-case letters, digits, `.`, `_`, `-` (at most 64 characters). */
export const channelNameSchema = text()
  .min(1)
  .max(64)
  .refine((name) => isBuiltInChannel(name) || CUSTOM_CHANNEL.test(name), `a built-in channel (${Object.keys(BUILT_IN_CHANNELS).join(', ')}) or x-<name> (lower-case letters, digits, . _ -)`);

/**
 * Checks `data` against its channel's schema (custom channels: any JSON, already bounded by the message size).
 * Fails with the dot path under `data` of the first problem.
 */
export function checkChannelData(channel: string, data: unknown): { ok: true } | { ok: false; path: string; reason: string } {
  if (data === undefined) return { ok: false, path: 'data', reason: 'Required' };
  if (!isBuiltInChannel(channel)) return { ok: true };
  const result = BUILT_IN_CHANNELS[channel].safeParse(data);
  if (result.success) return { ok: true };
  const issue = result.error.issues[0];
  const path = ['data', ...issue.path.map(String)];
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]);
  return { ok: false, path: path.join('.'), reason: issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message };
}

// `session_id` may be omitted when the connection is in exactly one session (the Cluso client sends
// `{"type": "subscribe", "channel": "files"}`); with several, it is a VALIDATION_ERROR naming `session_id`.
const session_id = sessionIdSchema.optional();

export const subscribeSchema = z.strictObject({
  type: z.literal('subscribe'),
  id,
  session_id,
  channel: channelNameSchema,
  /** The last channel `seq` this client saw: the server replays every event after it, then goes live. */
  since: seqSchema.optional(),
});
export const unsubscribeSchema = z.strictObject({ type: z.literal('unsubscribe'), id, session_id, channel: channelNameSchema });
export const publishSchema = z
  .strictObject({
    type: z.literal('publish'),
    id,
    session_id,
    channel: channelNameSchema,
    data: z.unknown(),
    /** The publisher's own key of this event: a resend with the same key is answered with the original seq. */
    client_msg_id: text().min(1).max(64).optional(),
  })
  .superRefine((m, ctx) => {
    const checked = checkChannelData(m.channel, m.data);
    if (!checked.ok) ctx.addIssue({ code: 'custom', path: checked.path.split('.'), message: checked.reason });
  });

/** Who published an event: the participant and the peer (connection) it came from. */
export const publisherSchema = z.strictObject({ user_id: userIdSchema, peer_id: peerIdSchema });

export const subscribedSchema = z.strictObject({
  type: z.literal('subscribed'),
  id,
  session_id: sessionIdSchema,
  channel: text(),
  /** The channel position after the replayed events: the client's next `since`. */
  seq: seqSchema,
  /**
   * False when `since` was beyond the channel's retention (or ahead of it): nothing was replayed and events
   * were missed — reload what the channel describes. True when no `since` was given.
   */
  recovered: z.boolean(),
  /** How many events were replayed before this reply (they precede it on the wire). */
  replayed: z.number().int().nonnegative(),
});
export const unsubscribedSchema = z.strictObject({ type: z.literal('unsubscribed'), id, session_id: sessionIdSchema, channel: text() });
export const publishedSchema = z.strictObject({ type: z.literal('published'), id, session_id: sessionIdSchema, channel: text(), seq: seqSchema.min(1), timestamp: timestampSchema });

/** One event of a channel, pushed to its subscribers (the publisher too, when subscribed). */
export const channelEventSchema = z
  .strictObject({
    type: z.literal('event'),
    session_id: sessionIdSchema,
    channel: text(),
    data: z.unknown(),
    timestamp: timestampSchema,
    seq: seqSchema.min(1),
    publisher: publisherSchema,
  })
  .superRefine((m, ctx) => {
    const checked = checkChannelData(m.channel, m.data);
    if (!checked.ok) ctx.addIssue({ code: 'custom', path: checked.path.split('.'), message: checked.reason });
  });
export type ChannelEventMessage = z.infer<typeof channelEventSchema>;
export type Publisher = z.infer<typeof publisherSchema>;
