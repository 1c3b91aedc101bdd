import { Body, Controller, HttpCode, Inject, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
import { inviteCodeParamSchema, redeemInviteBodySchema, type JoinGrantView } from '@chorus/protocol';
import { GuessProtected } from '../limits/http-throttler.guard';
import { SessionRouter } from '../routing/session.router';
import { Actor, AccessTokenGuard } from './auth';
import { Documented } from './openapi';
import { parseInput } from './validation';

@ApiTags('invites')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/invites')
export class InvitesController {
  constructor(@Inject(SessionRouter) private readonly sessions: SessionRouter) {}

  /** The `/join ABC123` flow: a code (or the invite link's token) alone is enough. */
  @Post(':code/redeem')
  @HttpCode(200)
  @GuessProtected()
  @Documented({ summary: 'Redeem an invite code or token: become a participant and get a join token', body: redeemInviteBodySchema, errors: [400, 401, 403, 404, 409] })
  async redeem(@Actor() actor: Identity, @Param('code') code: string, @Body() body: unknown): Promise<JoinGrantView> {
    const { password } = parseInput(redeemInviteBodySchema, body ?? {});
    const { change, ...grant } = await this.sessions.call('invite.redeem', { actor, code: parseInput(inviteCodeParamSchema, code, 'code'), ...(password !== undefined ? { password } : {}) });
    await this.sessions.announce(change);
    return grant;
  }
}
