import type { z } from 'zod';
import { ChorusError } from './errors';
import { MAX_JSON_DEPTH, inspectJson } from './json-walk';
import { CLIENT_MESSAGES, SERVER_MESSAGES, isClientMessageType, type ClientMessage, type ServerMessage, type ServerMessageType } from './registry';
import { sanitizeText } from './text';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ChorusError };

const encoder = new TextEncoder();

/**
 * Bytes of the JSON encoding of a payload you built yourself: what the size limits count. For data received
 * from someone else use `inspectJson`, which is bounded (this one recurses through JSON.stringify).
 */
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
 * payload may repeat it in `type`, but must not contradict it. Total: whatever the input (getters, Proxies,
 * toString tricks, 50,000 levels of nesting, binary attachments), the answer is a typed error, never a throw.
 * Depth, size and storable text are checked by one iterative walk before any recursive code sees the payload.
 */
export function parseClientMessage(eventType: unknown, payload: unknown): Parsed<ClientMessage> {
  try {
    return parseChecked(eventType, payload);
  } catch {
    // Unreachable for anything that arrives over the wire; a last net for hostile in-process objects.
    return { ok: false, error: ChorusError.validation('(message)', 'The message could not be read as JSON data.') };
  }
}

function parseChecked(eventType: unknown, payload: unknown): Parsed<ClientMessage> {
  if (!isClientMessageType(eventType)) {
    const shown = typeof eventType === 'string' ? `"${sanitizeText(eventType.slice(0, 64))}"` : `(a ${typeof eventType})`;
    return { ok: false, error: ChorusError.validation('type', `Unknown message type ${shown}. See docs/protocol.md for the message list.`) };
  }
  const spec = CLIENT_MESSAGES[eventType];
  const body = payload === undefined ? {} : payload;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, error: ChorusError.validation('(message)', `A "${eventType}" message must be a JSON object.`) };
  }
  const checked = inspectJson(body, {
    maxBytes: spec.maxBytes,
    maxDepth: MAX_JSON_DEPTH,
    rootField: '(message)',
    tooLarge: () => new ChorusError('PAYLOAD_TOO_LARGE', `A "${eventType}" message may be at most ${spec.maxBytes} bytes of JSON; this one is larger. Split it or send less.`),
  });
  if (!checked.ok) return checked;
  // Safe to read now: the walk proved `type` is a plain data property holding JSON.
  const declared = (body as { type?: unknown }).type;
  if (declared !== undefined && declared !== eventType) {
    const shown = typeof declared === 'string' ? `"${sanitizeText(declared.slice(0, 64))}"` : `(a ${declared === null ? 'null' : typeof declared})`;
    return { ok: false, error: ChorusError.validation('type', `The payload's type ${shown} does not match the event "${eventType}"; omit it or repeat the event name.`) };
  }
  const result = spec.schema.safeParse({ ...body, type: eventType });
  return result.success ? { ok: true, value: result.data as ClientMessage } : { ok: false, error: validationErrorFrom(result.error) };
}

/**
 * What a client gets from `parseServerMessage`. `ignored_fields` lists (dot paths) the fields this version of
 * the protocol does not know and dropped; `ignorable` says a failure is a message type newer than this client
 * — skip it — rather than a malformed message of a known type.
 */
export type ParsedServerMessage =
  | { ok: true; value: ServerMessage; ignored_fields: string[] }
  | { ok: false; error: ChorusError; ignorable: boolean };

/** Bounds the strip-and-retry loop: each round removes every unknown key one schema pass reports. */
const MAX_STRIP_ROUNDS = 16;

/**
 * Validates a server message the way a client should: forward compatible. The protocol's rule is that adding
 * optional fields and new message types is safe, so unknown fields (at any depth) are dropped and reported,
 * and an unknown `type` is `ignorable`. Known fields are still checked: a wrong type of a known field fails.
 */
export function parseServerMessage(payload: unknown): ParsedServerMessage {
  const type = (payload as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(SERVER_MESSAGES, type)) {
    return { ok: false, error: unknownServerType(type), ignorable: typeof type === 'string' && type.length > 0 };
  }
  const schema = SERVER_MESSAGES[type as ServerMessageType];
  let candidate: unknown = payload;
  const ignored: string[] = [];
  for (let round = 0; round < MAX_STRIP_ROUNDS; round++) {
    const result = schema.safeParse(candidate);
    if (result.success) return { ok: true, value: result.data as ServerMessage, ignored_fields: ignored };
    const unknown = result.error.issues.filter((i) => i.code === 'unrecognized_keys');
    if (unknown.length === 0 || unknown.length !== result.error.issues.length) return { ok: false, error: validationErrorFrom(result.error), ignorable: false };
    // Copied before the first strip: the caller's object is never modified.
    if (candidate === payload) candidate = structuredClone(payload);
    for (const issue of unknown) {
      const holder = issue.path.reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown>)[key as PropertyKey], candidate) as Record<string, unknown>;
      for (const key of issue.keys) {
        delete holder[key];
        ignored.push([...issue.path.map(String), key].join('.'));
      }
    }
  }
  return { ok: false, error: ChorusError.validation('(message)', 'The message nests too many unknown fields.'), ignorable: false };
}

/**
 * Validates a server message exactly: an unknown field or type is an error. For the server's own tests (what
 * it sends must match this version of the contract), never for clients.
 */
export function parseServerMessageStrict(payload: unknown): Parsed<ServerMessage> {
  const type = (payload as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(SERVER_MESSAGES, type)) return { ok: false, error: unknownServerType(type) };
  const result = SERVER_MESSAGES[type as ServerMessageType].safeParse(payload);
  return result.success ? { ok: true, value: result.data as ServerMessage } : { ok: false, error: validationErrorFrom(result.error) };
}

function unknownServerType(type: unknown): ChorusError {
  return ChorusError.validation('type', `Unknown server message type ${typeof type === 'string' ? `"${sanitizeText(type.slice(0, 64))}"` : `(a ${typeof type})`}.`);
}
