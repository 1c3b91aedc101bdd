import { Body, Controller, Inject, Post, UseGuards } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { IdentityTokens, VerifiedAccess } from '@chorus/auth';
import { ChorusError, devTokenBodySchema } from '@chorus/protocol';
import type { WsTickets } from '../ws/ws-tickets';
import { AccessTokenGuard, ActorAccess, IDENTITY_TOKENS } from './auth';
import { Documented } from './openapi';
import { parseInput } from './validation';

export const DEV_TOKEN_SETTINGS = Symbol('DEV_TOKEN_SETTINGS');
export const WS_TICKETS = Symbol('WS_TICKETS');
export interface DevTokenSettings {
  readonly enabled: boolean;
  readonly ttlS: number;
  /** AUTH_ISSUER / AUTH_AUDIENCE, put into dev tokens so that the verifier, which checks them, accepts them. */
  readonly issuer?: string | undefined;
  readonly audience?: readonly string[] | undefined;
}

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    @Inject(IDENTITY_TOKENS) private readonly tokens: IdentityTokens,
    @Inject(DEV_TOKEN_SETTINGS) private readonly settings: DevTokenSettings,
    @Inject(WS_TICKETS) private readonly tickets: WsTickets,
  ) {}

  /**
   * A single-use ticket for opening /ws from a browser (`new WebSocket('wss://host/ws?ticket=…')`), whose
   * WebSocket cannot send an Authorization header: the short-lived ticket goes in the URL, not the access token.
   */
  @Post('ws-ticket')
  @UseGuards(AccessTokenGuard)
  @Documented({ summary: 'Mint a single-use ticket (30 s) for opening /ws: /ws?ticket=…', status: 201, errors: [401] })
  wsTicket(@ActorAccess() actor: VerifiedAccess): Promise<{ ticket: string; expires_in: number }> {
    return this.tickets.mint(actor);
  }

  /** Development sign-in: an access token for any user id. Off unless DEV_TOKENS is on (default only in standalone). */
  @Post('dev-token')
  @Documented({ summary: 'Mint a development access token (only when DEV_TOKENS is enabled)', body: devTokenBodySchema, status: 201, errors: [400, 403] })
  devToken(@Body() body: unknown): { access_token: string; token_type: 'Bearer'; expires_in_s: number } {
    if (!this.settings.enabled) throw new ChorusError('PERMISSION_DENIED', 'Development tokens are disabled on this deployment (DEV_TOKENS=false). Use your identity provider.');
    const identity = parseInput(devTokenBodySchema, body);
    const access_token = this.tokens.mintAccess(identity, this.settings.ttlS, { iss: this.settings.issuer, aud: this.settings.audience });
    return { access_token, token_type: 'Bearer', expires_in_s: this.settings.ttlS };
  }
}
