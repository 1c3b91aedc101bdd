import { ChorusError } from '@chorus/protocol';

/**
 * A request that could not be answered because the connection went away before its ack. UNAVAILABLE and
 * retryable like any transient failure; the SDK itself resends what is safe to resend (chat with its
 * `client_msg_id`, the in-flight op with its seq) once it has rejoined, so apps rarely need to.
 */
export class ConnectionLostError extends ChorusError {
  constructor(what: string) {
    super('UNAVAILABLE', `${what}: the connection closed before the server answered`);
    this.name = 'ConnectionLostError';
  }
}

/** The client was closed (by `close()`, or a disconnect code that forbids reconnecting). */
export class ClientClosedError extends ChorusError {
  constructor(reason: string) {
    super('UNAVAILABLE', `the Chorus client is closed: ${reason}`);
    this.name = 'ClientClosedError';
  }
  /** Not retryable: a closed client stays closed (create a new one). */
  override get retryable(): boolean {
    return false;
  }
}

/** A request that got no answer within its deadline (UNAVAILABLE, retryable): the connection may be dead. */
export class RequestTimeoutError extends ChorusError {
  constructor(what: string, timeoutMs: number) {
    super('UNAVAILABLE', `${what}: no answer within ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}
