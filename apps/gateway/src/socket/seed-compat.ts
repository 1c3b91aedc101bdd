import { CLIENT_MESSAGES, ChorusError, isClientMessageType } from '@chorus/protocol';
import type { Connection } from './connection';

/**
 * The seed clients' frames, verbatim, on both transports. They restate who is sending — Pulsar's
 * `chat_message {session_id, peer_id, message}` — and may leave out the session when there is only one. The
 * protocol's schemas stay strict (a typo is still a VALIDATION_ERROR); before they run, this:
 * - fills in `session_id` when the message has none and the connection is in exactly one session;
 * - accepts an identity field the message type does not declare (`peer_id`, `user_id`) when it names this
 *   connection's peer in that session (or its user) and drops it, and refuses it with PERMISSION_DENIED (field
 *   named) when it names someone else: a client cannot speak as another peer, even by mistake;
 * - takes the typed-protocol seed's `channel_id` as `channel` (`{"id": "req-123", "type": "subscribe",
 *   "channel_id": …}`): one of the two, or both when equal; two different names are left to the schema, which
 *   refuses `channel_id` as an unknown field — never guessed between.
 * Only plain data properties are read (the payload is untrusted); anything else is left to the schema.
 */
export function restatedIdentity(connection: Connection, type: unknown, payload: unknown): unknown {
  if (!isClientMessageType(type) || type === 'join' || typeof payload !== 'object' || payload === null || Array.isArray(payload)) return payload;
  const shape = CLIENT_MESSAGES[type].schema.shape as Record<string, unknown>;
  const read = (key: string): { present: boolean; value?: unknown } => {
    const d = Object.getOwnPropertyDescriptor(payload, key);
    return d === undefined ? { present: false } : 'value' in d ? { present: true, value: d.value } : { present: true };
  };
  const memberships = connection.data.memberships;
  let patch: Record<string, unknown> | undefined;
  const omit: string[] = [];

  const session = read('session_id');
  let sessionId = typeof session.value === 'string' ? session.value : undefined;
  if ('session_id' in shape && !session.present && memberships.size === 1) {
    sessionId = memberships.keys().next().value as string;
    patch = { session_id: sessionId };
  }
  const membership = sessionId === undefined ? undefined : memberships.get(sessionId);
  const own: Record<string, string | undefined> = { peer_id: membership?.peer_id, user_id: connection.data.identity.user_id };
  for (const [field, mine] of Object.entries(own)) {
    if (field in shape) continue;
    const restated = read(field);
    if (!restated.present) continue;
    if (membership === undefined) throw new ChorusError('PERMISSION_DENIED', `Join session ${sessionId ?? '(none given)'} first (send "join").`, { field: 'session_id' });
    if (restated.value !== mine) throw new ChorusError('PERMISSION_DENIED', `"${field}" must name this connection (${mine}); a client cannot send as someone else.`, { field });
    omit.push(field);
  }
  if ('channel' in shape) {
    const alias = read('channel_id');
    const channel = read('channel');
    if (alias.present && !channel.present) {
      patch = { ...patch, channel: alias.value };
      omit.push('channel_id');
    } else if (alias.present && channel.value === alias.value) omit.push('channel_id');
  }
  if (patch === undefined && omit.length === 0) return payload;
  const copy: Record<string, unknown> = { ...(payload as Record<string, unknown>), ...patch };
  for (const field of omit) delete copy[field];
  return copy;
}
