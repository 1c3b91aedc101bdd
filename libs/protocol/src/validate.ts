import type { z } from 'zod';
import { ChorusError } from './errors';
import { CLIENT_MESSAGES, SERVER_MESSAGES, isClientMessageType, type ClientMessage, type ServerMessage, type ServerMessageType } from './registry';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ChorusError };

const encoder = new TextEncoder();

/** Bytes of the JSON encoding of a payload: what the size limits count. */
export function jsonByteLength(payload: unknown): number {
  return encoder.encode(JSON.stringify(payload) ?? '').length;
}

/** The dot path of the first issue, with the unknown key for "unrecognized key" issues. */
function fieldOf(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]);
  return path.length > 0 ? path.join('.') : '(message)';
}

export function validationErrorFrom(error: z.ZodError): ChorusError {
  const issue = error.issues[0];
  const field = fieldOf(issue);
  const reason = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
  return ChorusError.validation(field, `Invalid field "${field}": ${reason}`);
}

/**
 * Validates one inbound client message. `eventType` is the Socket.IO event name (the message's `type`); the
 * payload may repeat it in `type`, but must not contradict it. Never throws: bad input is a typed error.
 */
export function parseClientMessage(eventType: unknown, payload: unknown): Parsed<ClientMessage> {
  if (!isClientMessageType(eventType)) {
    const shown = typeof eventType === 'string' ? eventType.slice(0, 64) : typeof eventType;
    return { ok: false, error: ChorusError.validation('type', `Unknown message type "${shown}". See docs/protocol.md for the message list.`) };
  }
  const spec = CLIENT_MESSAGES[eventType];
  const body = payload === undefined ? {} : payload;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, error: ChorusError.validation('(message)', `A "${eventType}" message must be a JSON object.`) };
  }
  const size = jsonByteLength(body);
  if (size > spec.maxBytes) {
    return {
      ok: false,
      error: new ChorusError('PAYLOAD_TOO_LARGE', `A "${eventType}" message may be at most ${spec.maxBytes} bytes; this one is ${size}.`),
    };
  }
  const declared = (body as { type?: unknown }).type;
  if (declared !== undefined && declared !== eventType) {
    return { ok: false, error: ChorusError.validation('type', `The payload's type "${String(declared).slice(0, 64)}" does not match the event "${eventType}".`) };
  }
  const result = spec.schema.safeParse({ ...body, type: eventType });
  return result.success ? { ok: true, value: result.data as ClientMessage } : { ok: false, error: validationErrorFrom(result.error) };
}

/** Validates a server message (used by tests and by clients that want to check what they receive). */
export function parseServerMessage(payload: unknown): Parsed<ServerMessage> {
  const type = (payload as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(SERVER_MESSAGES, type)) {
    return { ok: false, error: ChorusError.validation('type', `Unknown server message type "${String(type)}".`) };
  }
  const result = SERVER_MESSAGES[type as ServerMessageType].safeParse(payload);
  return result.success ? { ok: true, value: result.data as ServerMessage } : { ok: false, error: validationErrorFrom(result.error) };
}
