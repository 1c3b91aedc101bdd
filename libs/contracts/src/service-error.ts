import { ChorusError } from '@chorus/protocol';
import { TransportError, TransportErrorCode } from '@chorus/transport';

/**
 * The one place a failed service call becomes a client protocol error. A service's own ChorusError (carried as
 * `{code, message, details}`) keeps its code; what the transport itself reports is mapped, never forwarded: its
 * codes describe our plumbing, not the client's request, and one of them (a missing handler) used to reach
 * clients as NOT_FOUND — "your session does not exist".
 */
export function serviceErrorToChorus(err: unknown, pattern: string): ChorusError {
  if (err instanceof TransportError) {
    switch (err.code) {
      case TransportErrorCode.UNAVAILABLE:
        // A deadline passed, nothing could be sent, or a service said so itself (maybe with retry_after_ms):
        // the same meaning as the protocol's code, details kept.
        return ChorusError.from(err);
      case TransportErrorCode.NO_HANDLER:
        // Replicas of different versions during a rollout, or a bug: either way ours, and worth a retry later.
        return new ChorusError('SERVER_ERROR', `Internal error: no service handles "${pattern}" right now; retry with backoff, and report it if it persists.`);
      case TransportErrorCode.DEAD_LETTER:
      case TransportErrorCode.INTERNAL:
        return new ChorusError('SERVER_ERROR', 'Internal error; retry with backoff. If it persists, report it with the time of the request.');
      default:
        break;
    }
  }
  // A domain error (a ChorusError crossed as plain data), or anything else: unknown codes become SERVER_ERROR.
  return ChorusError.from(err);
}
