import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Logger, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
import type { SessionApi } from '@chorus/contracts';
import {
  auditQuerySchema,
  createTemplateBodySchema,
  discoverQuerySchema,
  sessionIdParamSchema,
  templateIdParamSchema,
  updateSessionBodySchema,
  updateTemplateBodySchema,
} from '@chorus/protocol';
import type { Response } from 'express';
import { SessionRouter } from '../routing/session.router';
import { Actor, AccessTokenGuard } from './auth';
import { Documented } from './openapi';
import { parseInput } from './validation';

const auditLogger = new Logger('SessionAdminController');
type Res<P extends keyof SessionApi> = Promise<SessionApi[P]['res']>;

/**
 * Session management (docs/session-admin.md): PATCH a session, list its invites, export its audit trail,
 * discover public sessions, and the caller's templates. Each handler validates, then calls the session service.
 */
@ApiTags('sessions')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration')
export class SessionAdminController {
  constructor(@Inject(SessionRouter) private readonly sessions: SessionRouter) {}

  @Patch('sessions/:id')
  @Documented({
    summary: 'Change a session (owner or admin): name, settings, project path, public, password set/clear, expiry, max participants; pushed as session_updated',
    body: updateSessionBodySchema,
    errors: [400, 401, 403, 404],
  })
  update(@Actor() actor: Identity, @Param('id') id: string, @Body() body: unknown): Res<'session.update'> {
    return this.sessions.call('session.update', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), body: parseInput(updateSessionBodySchema, body) });
  }

  @Get('sessions/:id/invites')
  @Documented({ summary: 'List the invites of a session (owner or admin): codes, roles, addressees, uses, expiry, revocation', errors: [400, 401, 403, 404] })
  invites(@Actor() actor: Identity, @Param('id') id: string): Res<'invite.list'> {
    return this.sessions.call('invite.list', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id') });
  }

  @Get('sessions/:id/audit')
  @ApiProduces('application/x-ndjson', 'application/json')
  @Documented({ summary: 'Export the audit trail (owner or admin; also of a deleted session within the audit retention): JSON Lines, one event per line', query: auditQuerySchema, errors: [400, 401, 403, 404] })
  async audit(@Actor() actor: Identity, @Param('id') id: string, @Query() query: unknown, @Res() res: Response): Promise<void> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const q = parseInput(auditQuerySchema, query);
    // The first page is asked before anything is written, so a refusal is still an ordinary error response.
    let page = await this.sessions.call('audit.page', { actor, session_id, query: q });
    if (q.format === 'json') {
      const events = [...page.events];
      while (page.next_after_seq !== null) {
        page = await this.sessions.call('audit.page', { actor, session_id, query: { ...q, after_seq: page.next_after_seq } });
        events.push(...page.events);
      }
      res.status(200).json({ session_id, events });
      return;
    }
    res.status(200).type('application/x-ndjson');
    try {
      for (;;) {
        for (const e of page.events) res.write(`${JSON.stringify(e)}\n`);
        if (page.next_after_seq === null) break;
        page = await this.sessions.call('audit.page', { actor, session_id, query: { ...q, after_seq: page.next_after_seq } });
      }
      res.end();
    } catch (err) {
      // Headers are out: the only honest signal left is a cut connection (the export is incomplete, not short).
      auditLogger.error(`Audit export of ${session_id} failed after the first page: ${(err as Error).message}`);
      res.destroy(err as Error);
    }
  }

  @Get('public-sessions')
  @Documented({ summary: 'Discover public sessions: newest first, name search (q), cursor paging', query: discoverQuerySchema, errors: [400, 401] })
  discover(@Actor() actor: Identity, @Query() query: unknown): Res<'session.discover'> {
    return this.sessions.call('session.discover', { actor, query: parseInput(discoverQuerySchema, query) });
  }

  @Post('templates')
  @Documented({ summary: 'Create a session template (private to the caller)', body: createTemplateBodySchema, status: 201, errors: [400, 401, 403] })
  createTemplate(@Actor() actor: Identity, @Body() body: unknown): Res<'template.create'> {
    return this.sessions.call('template.create', { actor, body: parseInput(createTemplateBodySchema, body) });
  }

  @Get('templates')
  @Documented({ summary: 'List my session templates', errors: [401, 403] })
  listTemplates(@Actor() actor: Identity): Res<'template.list'> {
    return this.sessions.call('template.list', { actor });
  }

  @Get('templates/:templateId')
  @Documented({ summary: 'Get one of my templates', errors: [400, 401, 403, 404] })
  getTemplate(@Actor() actor: Identity, @Param('templateId') templateId: string): Res<'template.get'> {
    return this.sessions.call('template.get', { actor, template_id: parseInput(templateIdParamSchema, templateId, 'templateId') });
  }

  @Patch('templates/:templateId')
  @Documented({ summary: 'Change one of my templates (the given fields)', body: updateTemplateBodySchema, errors: [400, 401, 403, 404] })
  updateTemplate(@Actor() actor: Identity, @Param('templateId') templateId: string, @Body() body: unknown): Res<'template.update'> {
    return this.sessions.call('template.update', { actor, template_id: parseInput(templateIdParamSchema, templateId, 'templateId'), body: parseInput(updateTemplateBodySchema, body) });
  }

  @Delete('templates/:templateId')
  @HttpCode(200)
  @Documented({ summary: 'Delete one of my templates (sessions created from it keep their values)', errors: [400, 401, 403, 404] })
  deleteTemplate(@Actor() actor: Identity, @Param('templateId') templateId: string): Res<'template.delete'> {
    return this.sessions.call('template.delete', { actor, template_id: parseInput(templateIdParamSchema, templateId, 'templateId') });
  }
}
