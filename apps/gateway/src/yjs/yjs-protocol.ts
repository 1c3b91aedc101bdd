import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/**
 * The y-protocols wire (the messages of y-websocket, unchanged): a varuint message type, then its body.
 * - 0 sync: a varuint sync type — 0 step 1 (a state vector), 1 step 2 (an update), 2 update — and the bytes.
 * - 1 awareness: an awareness update (varuint8array).
 * - 2 auth (permission denied: a varuint 0 and a reason string), 3 query awareness (no body).
 * Parsed here once, at the edge: everything after works on checked parts.
 */
export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;

export type YMessage =
  | { readonly kind: 'step1'; readonly stateVector: Uint8Array }
  | { readonly kind: 'step2' | 'update'; readonly update: Uint8Array }
  | { readonly kind: 'awareness'; readonly update: Uint8Array }
  | { readonly kind: 'query_awareness' };

/** Decodes one message; throws (a message to show the client) on anything else, trailing bytes included. */
export function decodeMessage(bytes: Uint8Array): YMessage {
  const d = decoding.createDecoder(bytes);
  let message: YMessage;
  try {
    const type = decoding.readVarUint(d);
    if (type === MESSAGE_SYNC) {
      const sync = decoding.readVarUint(d);
      const body = decoding.readVarUint8Array(d);
      if (sync === 0) message = { kind: 'step1', stateVector: body };
      else if (sync === 1) message = { kind: 'step2', update: body };
      else if (sync === 2) message = { kind: 'update', update: body };
      else throw new Error(`unknown sync message type ${sync}`);
    } else if (type === MESSAGE_AWARENESS) {
      message = { kind: 'awareness', update: decoding.readVarUint8Array(d) };
    } else if (type === MESSAGE_QUERY_AWARENESS) {
      message = { kind: 'query_awareness' };
    } else {
      throw new Error(`unsupported message type ${type} (0 sync, 1 awareness and 3 query awareness are accepted)`);
    }
  } catch (err) {
    throw new Error(`not a y-protocols message: ${(err as Error).message}`);
  }
  if (decoding.hasContent(d)) throw new Error('not a y-protocols message: trailing bytes after the message');
  return message;
}

function encode(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

export function encodeSync(sync: 0 | 1 | 2, body: Uint8Array): Uint8Array {
  return encode((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC);
    encoding.writeVarUint(e, sync);
    encoding.writeVarUint8Array(e, body);
  });
}

export const encodeStep1 = (stateVector: Uint8Array): Uint8Array => encodeSync(0, stateVector);
export const encodeStep2 = (update: Uint8Array): Uint8Array => encodeSync(1, update);
export const encodeUpdate = (update: Uint8Array): Uint8Array => encodeSync(2, update);

export function encodeAwareness(update: Uint8Array): Uint8Array {
  return encode((e) => {
    encoding.writeVarUint(e, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(e, update);
  });
}

/** What y-websocket's provider shows as `permission-denied` (its auth message). */
export function encodePermissionDenied(reason: string): Uint8Array {
  return encode((e) => {
    encoding.writeVarUint(e, MESSAGE_AUTH);
    encoding.writeVarUint(e, 0);
    encoding.writeVarString(e, reason);
  });
}
