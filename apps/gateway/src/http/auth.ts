import { createParamDecorator, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { TokenError, type AccessTokenVerifier, type Identity, type VerifiedAccess } from '@chorus/auth';
import { ChorusError } from '@chorus/protocol';

/** Mints our own tokens (dev access tokens); verifying access tokens is ACCESS_VERIFIER's. */
export const IDENTITY_TOKENS = Symbol('IDENTITY_TOKENS');
export const ACCESS_VERIFIER = Symbol('ACCESS_VERIFIER');

type AuthedRequest = Request & { chorusAccess?: VerifiedAccess };

/** Requires `Authorization: Bearer <access token>`; the verified identity becomes the `@Actor()` parameter. */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(@Inject(ACCESS_VERIFIER) private readonly tokens: AccessTokenVerifier) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new ChorusError('UNAUTHENTICATED', 'Send an access token as "Authorization: Bearer <token>".');
    try {
      req.chorusAccess = await this.tokens.verify(match[1]);
    } catch (err) {
      // The identity provider's keys unreachable: UNAVAILABLE (ours) passes through the error filter as it is.
      if (!(err instanceof TokenError)) throw err;
      // The token itself is never echoed, only why it was refused.
      throw new ChorusError('UNAUTHENTICATED', `The access token was refused (${err.reason.replace('_', ' ')}); obtain a new one.`);
    }
    return true;
  }
}

function accessOf(context: ExecutionContext): VerifiedAccess {
  const access = context.switchToHttp().getRequest<AuthedRequest>().chorusAccess;
  if (!access) throw new ChorusError('UNAUTHENTICATED', 'Send an access token as "Authorization: Bearer <token>".');
  return access;
}

export const Actor = createParamDecorator((_data: unknown, context: ExecutionContext): Identity => accessOf(context).identity);

/** The verified token with its expiry (a /ws ticket carries it to the connection it opens). */
export const ActorAccess = createParamDecorator((_data: unknown, context: ExecutionContext): VerifiedAccess => accessOf(context));
