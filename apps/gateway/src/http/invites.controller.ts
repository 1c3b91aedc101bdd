import { Body, Controller, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
import { inviteCodeParamSchema, joinGrantViewSchema, redeemInviteBodySchema, type JoinGrantView } from '@chorus/protocol';
import type { Request } from 'express';
import { GuessProtected } from '../limits/http-throttler.guard';
import { PasswordGuesses } from '../limits/password-guesses';
import { SessionRouter } from '../routing/session.router';
import { Actor, AccessTokenGuard } from './auth';
import { ClientAddresses } from './client-address';
import { Documented } from './openapi';
import { parseInput } from './validation';

@ApiTags('invites')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/invites')
export class InvitesController {
  constructor(
    @Inject(SessionRouter) private readonly sessions: SessionRouter,
    @Inject(PasswordGuesses) private readonly passwordGuesses: PasswordGuesses,
    @Inject(ClientAddresses) private readonly addresses: ClientAddresses,
  ) {}

  /** The `/join ABC123` flow: a code (or the invite link's token) alone is enough. */
  @Post(':code/redeem')
  @HttpCode(200)
  @GuessProtected()
  @Documented({ summary: 'Redeem an invite code or token: become a participant and get a join token', body: redeemInviteBodySchema, response: joinGrantViewSchema, errors: [400, 401, 403, 404, 409] })
  async redeem(@Actor() actor: Identity, @Param('code') code: string, @Body() body: unknown, @Req() req: Request): Promise<JoinGrantView> {
    const { password } = parseInput(redeemInviteBodySchema, body ?? {});
    const parsed = parseInput(inviteCodeParamSchema, code, 'code');
    const redeem = () => this.sessions.call('invite.redeem', { actor, code: parsed, ...(password !== undefined ? { password } : {}) });
    // Codes are case-insensitive: one budget per invite code, whatever its spelling.
    const guesser = { userId: actor.user_id, address: this.addresses.limitKey(req) };
    const { change: _change, ...grant } = password === undefined ? await redeem() : await this.passwordGuesses.attempt(`invite:${parsed.length === 6 ? parsed.toUpperCase() : parsed}`, guesser, redeem);
    return grant;
  }
}
