import { Injectable, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request } from 'express';
import { ChorusError } from '@chorus/protocol';

export const STRICT_LIMIT = 'chorus:strict-limit';
/** Marks a route for the strict `guess` limit (invite redemption: codes must not be guessable by brute force). */
export const GuessProtected = (): MethodDecorator => SetMetadata(STRICT_LIMIT, true);

/**
 * The strict limit counts per user: the subject of the bearer token, read without verifying it (the guard
 * runs before authentication). A forged subject buys nothing: its request fails authentication before any
 * code is tried. Without a token, per client address.
 */
export function guessTracker(req: Record<string, unknown>): string {
  const header = (req as unknown as Request).headers?.authorization;
  const payload = typeof header === 'string' ? header.split('.')[1] : undefined;
  if (payload) {
    try {
      const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
      if (typeof sub === 'string' && sub.length <= 128) return `user:${sub}`;
    } catch {
      // not a JWT: fall through to the address
    }
  }
  return `ip:${clientAddress(req as unknown as Request)}`;
}

function clientAddress(r: Request): string {
  const forwarded = r.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first || r.socket?.remoteAddress || 'unknown';
}

/**
 * REST rate limiting per client address: the first `X-Forwarded-For` hop (set by the ingress; configure it
 * to overwrite, not append, client-supplied values) or the socket address. Refusals are RATE_LIMITED with
 * `retry_after_ms`, in the protocol's error shape, never a silent drop.
 */
@Injectable()
export class HttpThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    return `ip:${clientAddress(req as unknown as Request)}`;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const retryMs = Math.max(1, detail.isBlocked ? detail.timeToBlockExpire : detail.timeToExpire) * 1000;
    throw new ChorusError('RATE_LIMITED', `Too many requests; retry in ${Math.ceil(retryMs / 1000)} s.`, { retry_after_ms: retryMs });
  }
}
