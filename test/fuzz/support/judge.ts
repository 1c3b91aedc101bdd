import { ERROR_CODES, httpStatusOf, isErrorCode, parseServerMessageStrict, type ServerMessage } from '@chorus/protocol';
import type { Socket } from 'socket.io-client';
import type { RestCase } from './rest-cases';
import type { Expectation, SocketCase } from './socket-cases';

// How the fuzz suites judge what the server answered, and how they send what no client library would.

export const OK_CODES: Record<Expectation, ReadonlySet<string>> = {
  refused: new Set(['VALIDATION_ERROR', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED']),
  denied: new Set(['PERMISSION_DENIED', 'NOT_FOUND', 'VALIDATION_ERROR', 'RATE_LIMITED']),
  rejected: new Set(Object.keys(ERROR_CODES).filter((c) => c !== 'SERVER_ERROR' && c !== 'UNAVAILABLE')),
  typed: new Set(Object.keys(ERROR_CODES).filter((c) => c !== 'SERVER_ERROR' && c !== 'UNAVAILABLE')),
};

export interface Violation {
  readonly label: string;
  readonly problem: string;
}

/** Judges one Socket.IO answer against what its case allows. */
export function judgeSocket(c: SocketCase, reply: unknown): string | undefined {
  const message = reply as ServerMessage;
  if (typeof message !== 'object' || message === null) return `answer is not a message: ${String(reply)}`;
  if (message.type === 'error') {
    if (!isErrorCode(message.code)) return `untyped error ${JSON.stringify(message).slice(0, 200)}`;
    if (!OK_CODES[c.expect].has(message.code)) return `answered ${message.code}: ${message.message}`;
    if (!parseServerMessageStrict(message).ok) return `error message does not match its schema: ${JSON.stringify(message).slice(0, 200)}`;
    return undefined;
  }
  if (c.expect !== 'typed') return `accepted: ${JSON.stringify(message).slice(0, 200)}`;
  const parsed = parseServerMessageStrict(message);
  return parsed.ok ? undefined : `reply does not match its schema: ${parsed.error.message}`;
}

/** Judges one REST answer: JSON with a protocol code whose status matches, or a 2xx where the case allows it. */
export function judgeRest(c: RestCase, status: number, text: string, isMetrics: boolean): string | undefined {
  if (status >= 500) return `answered ${status}: ${text.slice(0, 200)}`;
  if (status < 300) {
    if (c.expect !== 'typed') return `accepted with ${status}: ${text.slice(0, 200)}`;
    return undefined;
  }
  if (isMetrics && status < 400) return undefined;
  let body: { code?: unknown; message?: unknown };
  try {
    body = JSON.parse(text) as { code?: unknown; message?: unknown };
  } catch {
    return `${status} without a JSON body: ${text.slice(0, 120)}`;
  }
  if (!isErrorCode(body.code) || typeof body.message !== 'string') return `${status} with an untyped body: ${text.slice(0, 200)}`;
  if (httpStatusOf(body.code) !== status) return `${body.code} answered with status ${status}, not ${httpStatusOf(body.code)}`;
  if (c.expect === 'denied' && ![403, 404, 429].includes(status)) return `reached another user's session: ${status} ${body.code}`;
  return undefined;
}

let rawAckId = 1_000_000;

/**
 * Sends `["event", <json text>]` as a raw Socket.IO event packet with an ack id and waits for the ack packet:
 * for payloads no JSON encoder could produce (nesting past the encoder's stack).
 */
export function rawEmit(socket: Socket, event: string, json: string): Promise<unknown> {
  const engine = socket.io.engine;
  const id = rawAckId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      engine.off('message', onMessage);
      reject(new Error('operation has timed out'));
    }, 15_000);
    const onMessage = (data: unknown): void => {
      if (typeof data !== 'string' || !data.startsWith(`3${id}[`)) return;
      clearTimeout(timer);
      engine.off('message', onMessage);
      resolve((JSON.parse(data.slice(`3${id}`.length)) as unknown[])[0]);
    };
    engine.on('message', onMessage);
    engine.send(`2${id}[${JSON.stringify(event)},${json}]`);
  });
}

