import { Body, Controller, Inject, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { IdentityTokens } from '@chorus/auth';
import { ChorusError, devTokenBodySchema } from '@chorus/protocol';
import { IDENTITY_TOKENS } from './auth';
import { Documented } from './openapi';
import { parseInput } from './validation';

export const DEV_TOKEN_SETTINGS = Symbol('DEV_TOKEN_SETTINGS');
export interface DevTokenSettings {
  readonly enabled: boolean;
  readonly ttlS: number;
}

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    @Inject(IDENTITY_TOKENS) private readonly tokens: IdentityTokens,
    @Inject(DEV_TOKEN_SETTINGS) private readonly settings: DevTokenSettings,
  ) {}

  /** Development sign-in: an access token for any user id. Off unless DEV_TOKENS is on (default only in standalone). */
  @Post('dev-token')
  @Documented({ summary: 'Mint a development access token (only when DEV_TOKENS is enabled)', body: devTokenBodySchema, status: 201, errors: [400, 403] })
  devToken(@Body() body: unknown): { access_token: string; token_type: 'Bearer'; expires_in_s: number } {
    if (!this.settings.enabled) throw new ChorusError('PERMISSION_DENIED', 'Development tokens are disabled on this deployment (DEV_TOKENS=false). Use your identity provider.');
    const identity = parseInput(devTokenBodySchema, body);
    return { access_token: this.tokens.mintAccess(identity, this.settings.ttlS), token_type: 'Bearer', expires_in_s: this.settings.ttlS };
  }
}
