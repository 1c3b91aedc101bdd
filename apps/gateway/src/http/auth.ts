import { createParamDecorator, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { TokenError, type Identity, type IdentityTokens } from '@chorus/auth';
import { ChorusError } from '@chorus/protocol';

export const IDENTITY_TOKENS = Symbol('IDENTITY_TOKENS');

type AuthedRequest = Request & { chorusIdentity?: Identity };

/** Requires `Authorization: Bearer <access token>`; the verified identity becomes the `@Actor()` parameter. */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(@Inject(IDENTITY_TOKENS) private readonly tokens: IdentityTokens) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new ChorusError('UNAUTHENTICATED', 'Send an access token as "Authorization: Bearer <token>".');
    try {
      req.chorusIdentity = this.tokens.verifyAccess(match[1]);
    } catch (err) {
      // The token itself is never echoed, only why it was refused.
      const reason = err instanceof TokenError ? err.reason.replace('_', ' ') : 'invalid';
      throw new ChorusError('UNAUTHENTICATED', `The access token was refused (${reason}); obtain a new one.`);
    }
    return true;
  }
}

export const Actor = createParamDecorator((_data: unknown, context: ExecutionContext): Identity => {
  const identity = context.switchToHttp().getRequest<AuthedRequest>().chorusIdentity;
  if (!identity) throw new ChorusError('UNAUTHENTICATED', 'Send an access token as "Authorization: Bearer <token>".');
  return identity;
});
