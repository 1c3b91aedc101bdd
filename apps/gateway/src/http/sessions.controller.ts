import { Body, Controller, Delete, Get, HttpCode, Inject, Logger, Param, Patch, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
import type { ConflictApi, SessionApi, TypedClient } from '@chorus/contracts';
import {
  createInviteBodySchema,
  createSessionBodySchema,
  historyPageSchema,
  historyQuerySchema,
  inviteCreatedSchema,
  joinGrantViewSchema,
  joinSessionBodySchema,
  participantViewSchema,
  sessionIdParamSchema,
  sessionViewSchema,
  updateRoleBodySchema,
  userIdSchema,
} from '@chorus/protocol';
import type { Request } from 'express';
import { z } from 'zod';
import { PasswordGuesses } from '../limits/password-guesses';
import { SessionRouter } from '../routing/session.router';
import { Actor, AccessTokenGuard } from './auth';
import { CONFLICT_CLIENT } from './documents.controller';
import { ClientAddresses } from './client-address';
import { Documented } from './openapi';
import { parseInput } from './validation';

const purgeLogger = new Logger('SessionsController');
type Res<P extends keyof SessionApi> = Promise<SessionApi[P]['res']>;
const inviteIdSchema = z.uuid();

/** Sessions, participants, invites and history. Each handler validates its input, then makes one call to the session service. */
@ApiTags('sessions')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions')
export class SessionsController {
  constructor(
    @Inject(SessionRouter) private readonly sessions: SessionRouter,
    @Inject(PasswordGuesses) private readonly passwordGuesses: PasswordGuesses,
    @Inject(ClientAddresses) private readonly addresses: ClientAddresses,
    @Inject(CONFLICT_CLIENT) private readonly conflict: TypedClient<ConflictApi>,
  ) {}

  @Post()
  @Documented({ summary: 'Create a session; the caller becomes its owner', body: createSessionBodySchema, response: sessionViewSchema, status: 201, errors: [400, 401] })
  create(@Actor() actor: Identity, @Body() body: unknown): Res<'session.create'> {
    return this.sessions.call('session.create', { actor, body: parseInput(createSessionBodySchema, body) });
  }

  @Get()
  @Documented({ summary: 'List my sessions and public ones (discovery)', response: z.array(sessionViewSchema), errors: [401] })
  list(@Actor() actor: Identity): Res<'session.list'> {
    return this.sessions.call('session.list', { actor });
  }

  @Get(':id')
  @Documented({ summary: 'Get a session', response: sessionViewSchema, errors: [400, 401, 404] })
  get(@Actor() actor: Identity, @Param('id') id: string): Res<'session.get'> {
    return this.sessions.call('session.get', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id') });
  }

  @Delete(':id')
  @Documented({ summary: 'Delete a session (owner only)', errors: [400, 401, 403, 404] })
  async delete(@Actor() actor: Identity, @Param('id') id: string): Res<'session.delete'> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const deleted = await this.sessions.call('session.delete', { actor, session_id });
    // Only after the session service authorized and recorded the deletion: its documents, ops, snapshots and
    // locks go too. Idempotent on the conflict side. A failed purge does not undo the deletion (the documents
    // are unreachable already: every read checks membership); it is logged for the operator to re-run.
    await this.conflict.call('session.purge', { session_id }).catch((err: unknown) => {
      purgeLogger.error(`Purge of the documents of deleted session ${session_id} failed: ${(err as Error).message}`);
    });
    return deleted;
  }

  @Post(':id/invite')
  @Documented({ summary: 'Create an invite: a short code, a secret token and a link', body: createInviteBodySchema, response: inviteCreatedSchema, status: 201, errors: [400, 401, 403, 404] })
  invite(@Actor() actor: Identity, @Param('id') id: string, @Body() body: unknown): Res<'invite.create'> {
    return this.sessions.call('invite.create', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), body: parseInput(createInviteBodySchema, body) });
  }

  @Delete(':id/invites/:inviteId')
  @Documented({ summary: 'Revoke an invite', errors: [400, 401, 403, 404] })
  revoke(@Actor() actor: Identity, @Param('id') id: string, @Param('inviteId') inviteId: string): Res<'invite.revoke'> {
    return this.sessions.call('invite.revoke', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), invite_id: parseInput(inviteIdSchema, inviteId, 'inviteId') });
  }

  @Post(':id/join')
  @HttpCode(200)
  @Documented({ summary: 'Get a join token (participants; newcomers to a public session join as viewers)', body: joinSessionBodySchema, response: joinGrantViewSchema, errors: [400, 401, 403, 404, 409, 429] })
  join(@Actor() actor: Identity, @Param('id') id: string, @Body() body: unknown, @Req() req: Request): Res<'session.join'> {
    const { password } = parseInput(joinSessionBodySchema, body ?? {});
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    if (password === undefined) return this.sessions.call('session.join', { actor, session_id });
    const guesser = { userId: actor.user_id, address: this.addresses.limitKey(req) };
    return this.passwordGuesses.attempt(`session:${session_id}`, guesser, () => this.sessions.call('session.join', { actor, session_id, password }));
  }

  @Post(':id/leave')
  @HttpCode(200)
  @Documented({ summary: 'Leave the session for good (the owner deletes it instead)', errors: [400, 401, 404, 409] })
  leave(@Actor() actor: Identity, @Param('id') id: string): Res<'session.leave'> {
    return this.sessions.call('session.leave', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id') });
  }

  @Get(':id/participants')
  @Documented({ summary: 'List participants and their roles', response: z.array(participantViewSchema), errors: [400, 401, 403, 404] })
  participants(@Actor() actor: Identity, @Param('id') id: string): Res<'participant.list'> {
    return this.sessions.call('participant.list', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id') });
  }

  @Patch(':id/participants/:userId')
  @Documented({ summary: "Change a participant's role (takes effect on live connections within seconds)", body: updateRoleBodySchema, errors: [400, 401, 403, 404] })
  updateRole(@Actor() actor: Identity, @Param('id') id: string, @Param('userId') userId: string, @Body() body: unknown): Res<'participant.update_role'> {
    return this.sessions.call('participant.update_role', {
      actor,
      session_id: parseInput(sessionIdParamSchema, id, 'id'),
      user_id: parseInput(userIdSchema, userId, 'userId'),
      role: parseInput(updateRoleBodySchema, body).role,
    });
  }

  @Delete(':id/participants/:userId')
  @Documented({ summary: 'Remove a participant (their connections are closed)', errors: [400, 401, 403, 404] })
  remove(@Actor() actor: Identity, @Param('id') id: string, @Param('userId') userId: string): Res<'participant.remove'> {
    return this.sessions.call('participant.remove', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), user_id: parseInput(userIdSchema, userId, 'userId') });
  }

  @Get(':id/history')
  @Documented({ summary: 'The session event stream (audit history), paginated by seq', query: historyQuerySchema, response: historyPageSchema, errors: [400, 401, 403, 404] })
  history(@Actor() actor: Identity, @Param('id') id: string, @Query() query: unknown): Res<'session.history'> {
    return this.sessions.call('session.history', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), query: parseInput(historyQuerySchema, query) });
  }
}
