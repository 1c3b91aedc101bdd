import { z } from 'zod';
import { sessionIdSchema } from './fields';
import { text } from './text';

/**
 * Why the server is about to close a connection, and whether reconnecting can help. Numbers are WebSocket
 * close codes of the application range (4000–4999), so a plain-WebSocket endpoint can close with them as they
 * are. The range itself carries the policy, so a client meeting a code newer than itself still knows what to
 * do: 4000–4499 reconnect (after `retry_after_ms` when given, else with backoff and jitter), 4500–4999 do not
 * reconnect until something changes (a new token, an upgrade, a new invite).
 */
export const DISCONNECT_CODES = {
  draining: { code: 4000, reconnect: true, policy: 'This gateway is shutting down. Reconnect at once (0–1 s of jitter): another replica takes you; rejoin with `last_seq`.' },
  reauthenticate: { code: 4002, reconnect: true, policy: 'The access token expired (its `exp`) and no `reauth` came first. Get a fresh token (the SDK asks its token provider) and reconnect at once; rejoin with `last_seq`.' },
  server_error: { code: 4001, reconnect: true, policy: 'The server could not accept the connection (a backing store failed). Reconnect with backoff.' },
  unauthenticated: { code: 4500, reconnect: false, policy: 'The access token is missing, forged or expired. Obtain a new token, then connect.' },
  protocol_mismatch: { code: 4501, reconnect: false, policy: 'The client speaks another protocol version than the server. Upgrade the client; reconnecting as is fails the same way.' },
  connection_limit: { code: 4502, reconnect: false, policy: 'This user has too many open connections. Close one (another tab, a stale agent), then connect; `retry_after_ms` is a hint for polling.' },
  removed: { code: 4503, reconnect: false, policy: 'You were removed from the session (`session_id`). Rejoining it needs a new invite; a connection for other sessions may be opened.' },
  session_deleted: { code: 4504, reconnect: false, policy: 'The session (`session_id`) was deleted. Do not reconnect to it.' },
} as const satisfies Record<string, { code: number; reconnect: boolean; policy: string }>;

export type DisconnectName = keyof typeof DISCONNECT_CODES;

/** Whether a disconnect code (known or not) allows reconnecting: the range rule above. */
export function reconnectAllowed(code: number): boolean {
  return code >= 4000 && code < 4500;
}

/**
 * `disconnect_notice`: pushed right before the server closes the connection (Socket.IO reserves the event name
 * `disconnect`). Handshake refusals cannot push: the same object is `connect_error`'s `err.data.disconnect`.
 * `name` is free text on the wire so that a newer server's names parse; clients switch on the known ones.
 */
export const disconnectNoticeSchema = z.strictObject({
  type: z.literal('disconnect_notice'),
  code: z.number().int().min(4000).max(4999),
  name: text().min(1).max(64),
  reason: text(),
  reconnect: z.boolean(),
  retry_after_ms: z.number().int().nonnegative().optional(),
  session_id: sessionIdSchema.optional(),
});
export type DisconnectNotice = z.infer<typeof disconnectNoticeSchema>;

export function disconnectNotice(name: DisconnectName, reason: string, extra: { retry_after_ms?: number; session_id?: string } = {}): DisconnectNotice {
  const spec = DISCONNECT_CODES[name];
  return { type: 'disconnect_notice', code: spec.code, name, reason, reconnect: spec.reconnect, ...extra };
}
