import { Inject, Injectable, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerOptions, InjectThrottlerStorage, ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerModuleOptions, type ThrottlerStorage } from '@nestjs/throttler';
import type { Request } from 'express';
import { ChorusError } from '@chorus/protocol';
import { ClientAddresses } from '../http/client-address';

export const STRICT_LIMIT = 'chorus:strict-limit';
/** Marks a route for the strict `guess` limit (invite redemption: codes must not be guessable by brute force). */
export const GuessProtected = (): MethodDecorator => SetMetadata(STRICT_LIMIT, true);

/**
 * The strict limit counts per user: the subject of the bearer token, read without verifying it (the guard
 * runs before authentication). A forged subject buys nothing: its request fails authentication before any
 * code is tried. Without a token, per client address.
 */
export function guessTracker(addresses: ClientAddresses): (req: Record<string, unknown>) => string {
  return (req) => {
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
    return `ip:${addresses.limitKey(req as unknown as Request)}`;
  };
}

/** Probes and scrapes: a liveness check answered 429 would get a healthy pod restarted. */
const UNLIMITED_PATHS = /^\/(health|metrics)(\/|$|\?)/;

/**
 * REST rate limiting per client address (`ClientAddresses`: the TCP peer, or what trusted proxies say in
 * X-Forwarded-For). Refusals are RATE_LIMITED with `retry_after_ms`, in the protocol's error shape, never a
 * silent drop. `/health/*` and `/metrics` are not limited.
 */
@Injectable()
export class HttpThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(ClientAddresses) private readonly addresses: ClientAddresses,
  ) {
    super(options, storage, reflector);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() === 'http' && UNLIMITED_PATHS.test(context.switchToHttp().getRequest<Request>().originalUrl ?? '');
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    return `ip:${this.addresses.limitKey(req as unknown as Request)}`;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const retryMs = Math.max(1, detail.isBlocked ? detail.timeToBlockExpire : detail.timeToExpire) * 1000;
    throw new ChorusError('RATE_LIMITED', `Too many requests; retry in ${Math.ceil(retryMs / 1000)} s.`, { retry_after_ms: retryMs });
  }
}
