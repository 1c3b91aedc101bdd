import { reconnectAllowed, type DisconnectNotice, type ErrorMessage } from '@chorus/protocol';

/** Reconnect timing. Every delay is jittered so that a fleet of clients does not reconnect in lockstep. */
export interface BackoffOptions {
  /** First retry delay after an unexpected loss (default 250 ms). Doubles per failed attempt. */
  initialDelayMs?: number;
  /** Ceiling of the doubling (default 10 s). */
  maxDelayMs?: number;
}

const DEFAULTS = { initialDelayMs: 250, maxDelayMs: 10_000 };

/** "Equal jitter": half the exponential delay, plus a random share of the other half. */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = {}): number {
  const { initialDelayMs, maxDelayMs } = { ...DEFAULTS, ...options };
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** How a connection (or an attempt at one) ended. */
export type ConnectionEnd =
  /** The handshake was refused: `connect_error` carried an `error` message (and usually its disconnect code). */
  | { kind: 'refused'; error: ErrorMessage & { disconnect?: DisconnectNotice } }
  /** A live connection closed: `notice` is the `disconnect_notice` pushed before it, when there was one. */
  | { kind: 'lost'; reason: string; notice?: DisconnectNotice }
  /** No connection could be made (network down, gateway gone, access token provider failed). */
  | { kind: 'unreachable'; message: string };

/** What to do next: retry after `delayMs` (on the next gateway URL when `rotate`), or stop. */
export type ReconnectStep = { action: 'retry'; delayMs: number; rotate: boolean } | { action: 'stop'; reason: string };

/**
 * The reconnect policy of docs/protocol.md, as a pure function (`attempt` = consecutive failures so far):
 *   - a disconnect code decides first, by its range: 4000–4499 reconnect, 4500–4999 stop (also for a code newer
 *     than this SDK); `draining` (4000) reconnects at once with 0–1 s of jitter, on another gateway;
 *     `reauthenticate` (4002: the access token expired) reconnects at once (0–250 ms) on the same gateway, the
 *     token provider being asked again; `retry_after_ms` replaces the backoff when given;
 *   - a refused handshake without a code: UNAVAILABLE (a draining gateway) is treated like `draining`; another
 *     retryable code backs off (or waits `retry_after_ms`); a non-retryable one stops;
 *   - UNAUTHENTICATED stops unless `canRefreshToken` (a token provider, called again on the next attempt),
 *     and then only for one retry in a row, so a provider that keeps handing out a bad token cannot loop;
 *   - a lost connection or an unreachable gateway backs off and moves on to the next gateway URL.
 */
export function reconnectStep(end: ConnectionEnd, attempt: number, random: () => number, options: BackoffOptions & { canRefreshToken?: boolean } = {}): ReconnectStep {
  const backoff = () => backoffDelay(attempt, random, options);
  // At once (0–1 s) for the first attempts; if every gateway keeps refusing (all draining), back off after all.
  const drainJitter = () => (attempt < 2 ? Math.round(random() * 1_000) : backoff());
  if (end.kind === 'unreachable') return { action: 'retry', delayMs: backoff(), rotate: true };
  if (end.kind === 'lost') {
    const notice = end.notice;
    if (!notice) return { action: 'retry', delayMs: backoff(), rotate: true };
    if (!reconnectAllowed(notice.code)) return { action: 'stop', reason: `${notice.name} (${notice.code}): ${notice.reason}` };
    if (notice.code === 4000) return { action: 'retry', delayMs: notice.retry_after_ms ?? drainJitter(), rotate: true };
    // The token expired: nothing is wrong with the gateway. A static token is refused on the retry and stops there.
    if (notice.code === 4002) return { action: 'retry', delayMs: attempt < 2 ? Math.round(random() * 250) : backoff(), rotate: false };
    return { action: 'retry', delayMs: notice.retry_after_ms ?? backoff(), rotate: true };
  }
  const { error } = end;
  if (error.code === 'UNAUTHENTICATED') {
    return options.canRefreshToken && attempt < 1 ? { action: 'retry', delayMs: backoff(), rotate: false } : { action: 'stop', reason: `UNAUTHENTICATED: ${error.message}` };
  }
  const code = error.disconnect?.code;
  if (code !== undefined && !reconnectAllowed(code)) return { action: 'stop', reason: `${error.code}: ${error.message}` };
  if (error.code === 'UNAVAILABLE' || code === 4000) return { action: 'retry', delayMs: error.retry_after_ms ?? drainJitter(), rotate: true };
  if (error.retryable || code !== undefined) return { action: 'retry', delayMs: error.retry_after_ms ?? backoff(), rotate: true };
  return { action: 'stop', reason: `${error.code}: ${error.message}` };
}
