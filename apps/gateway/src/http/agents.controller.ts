import { Body, Controller, Delete, Get, Inject, Param, Patch, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
import type { SessionApi } from '@chorus/contracts';
import { activityPageSchema, activityQuerySchema, agentIdSchema, createAgentBodySchema, messagesQuerySchema, promptIdSchema, reorderPromptBodySchema, sessionIdParamSchema, submitPromptBodySchema } from '@chorus/protocol';
import { SessionRouter } from '../routing/session.router';
import { Actor, AccessTokenGuard } from './auth';
import { Documented } from './openapi';
import { parseInput } from './validation';

type Res<P extends keyof SessionApi> = Promise<SessionApi[P]['res']>;

/** Agents of a session and its prompt queue (docs/agents.md). One call to the session service each. */
@ApiTags('agents')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions')
export class AgentsController {
  constructor(@Inject(SessionRouter) private readonly sessions: SessionRouter) {}

  @Post(':id/agents')
  @Documented({ summary: 'Add an agent (owner/admin): a participant with role agent and a credential for this session only', body: createAgentBodySchema, status: 201, errors: [400, 401, 403, 404] })
  create(@Actor() actor: Identity, @Param('id') id: string, @Body() body: unknown): Res<'agent.create'> {
    return this.sessions.call('agent.create', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), body: parseInput(createAgentBodySchema, body) });
  }

  @Get(':id/agents')
  @Documented({ summary: 'List the agents of a session (revoked ones included)', errors: [400, 401, 403, 404] })
  list(@Actor() actor: Identity, @Param('id') id: string): Res<'agent.list'> {
    return this.sessions.call('agent.list', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id') });
  }

  @Delete(':id/agents/:agentId')
  @Documented({ summary: 'Revoke an agent (owner/admin): its credential stops working at once, its prompts go back to the queue', errors: [400, 401, 403, 404] })
  revoke(@Actor() actor: Identity, @Param('id') id: string, @Param('agentId') agentId: string): Res<'agent.revoke'> {
    return this.sessions.call('agent.revoke', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), agent_id: parseInput(agentIdSchema, agentId, 'agentId') });
  }

  @Post(':id/messages')
  @Documented({ summary: 'Queue a prompt for an agent (idempotent by client_msg_id)', body: submitPromptBodySchema, status: 201, errors: [400, 401, 403, 404] })
  submit(@Actor() actor: Identity, @Param('id') id: string, @Body() body: unknown): Res<'prompt.submit'> {
    return this.sessions.call('prompt.submit', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), body: parseInput(submitPromptBodySchema, body) });
  }

  @Delete(':id/messages/:messageId')
  @Documented({ summary: 'Cancel a queued prompt (its author; owner/admin any)', errors: [400, 401, 403, 404, 409] })
  cancel(@Actor() actor: Identity, @Param('id') id: string, @Param('messageId') messageId: string): Res<'prompt.cancel'> {
    return this.sessions.call('prompt.cancel', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), message_id: parseInput(promptIdSchema, messageId, 'messageId') });
  }

  @Patch(':id/messages/:messageId')
  @Documented({ summary: 'Move a queued prompt to a position of its queue (owner/admin)', body: reorderPromptBodySchema, errors: [400, 401, 403, 404, 409] })
  reorder(@Actor() actor: Identity, @Param('id') id: string, @Param('messageId') messageId: string, @Body() body: unknown): Res<'prompt.reorder'> {
    return this.sessions.call('prompt.reorder', {
      actor,
      session_id: parseInput(sessionIdParamSchema, id, 'id'),
      message_id: parseInput(promptIdSchema, messageId, 'messageId'),
      position: parseInput(reorderPromptBodySchema, body).position,
    });
  }

  @Get(':id/queue')
  @Documented({ summary: 'Every prompt queue of the session with positions (the shared one and one per target agent)', errors: [400, 401, 403, 404] })
  queues(@Actor() actor: Identity, @Param('id') id: string): Res<'prompt.queues'> {
    return this.sessions.call('prompt.queues', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id') });
  }

  @Get(':id/messages')
  @Documented({ summary: 'The conversation: prompts (role user) and final agent responses (role assistant), newest first, paged by before_seq', query: messagesQuerySchema, errors: [400, 401, 403, 404] })
  messages(@Actor() actor: Identity, @Param('id') id: string, @Query() query: unknown): Res<'prompt.messages'> {
    return this.sessions.call('prompt.messages', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), query: parseInput(messagesQuerySchema, query) });
  }

  @Get(':id/activity')
  @Documented({
    summary: 'What the agents did (prompts taken, finished, given back; tools run; documents edited, with version ranges; status changes), newest first, paged by before_seq',
    query: activityQuerySchema,
    response: activityPageSchema,
    errors: [400, 401, 403, 404],
  })
  activity(@Actor() actor: Identity, @Param('id') id: string, @Query() query: unknown): Res<'agent.activity'> {
    return this.sessions.call('agent.activity', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), query: parseInput(activityQuerySchema, query) });
  }
}
