import { Body, Controller, Get, Inject, Param, Put, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
import type { ConflictApi, SessionApi, TypedClient } from '@chorus/contracts';
import { conflictsQuerySchema, fileRulesBodySchema, sessionIdParamSchema } from '@chorus/protocol';
import { SessionRouter } from '../routing/session.router';
import { Actor, AccessTokenGuard } from './auth';
import { CONFLICT_CLIENT } from './documents.controller';
import { Documented } from './openapi';
import { RestRefusals, type RestCheck } from './rest-refusals';
import { parseInput } from './validation';

type Res<P extends keyof SessionApi> = Promise<SessionApi[P]['res']>;

/** Per-file path rules and recorded conflicts of a session (docs/files.md). */
@ApiTags('files')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions/:id')
export class FilesController {
  constructor(
    @Inject(SessionRouter) private readonly sessions: SessionRouter,
    @Inject(CONFLICT_CLIENT) private readonly conflict: TypedClient<ConflictApi>,
    @Inject(RestRefusals) private readonly refusals: RestRefusals,
  ) {}

  @Get('file-rules')
  @Documented({ summary: 'The session\'s per-file path rules (any participant)', errors: [400, 401, 404] })
  rules(@Actor() actor: Identity, @Param('id') id: string): Res<'file_rules.get'> {
    return this.sessions.call('file_rules.get', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id') });
  }

  @Put('file-rules')
  @Documented({ summary: 'Replace the session\'s per-file path rules (owner or admin); appends file_rules_updated', body: fileRulesBodySchema, errors: [400, 401, 403, 404] })
  setRules(@Actor() actor: Identity, @Param('id') id: string, @Body() body: unknown): Res<'file_rules.set'> {
    return this.sessions.call('file_rules.set', { actor, session_id: parseInput(sessionIdParamSchema, id, 'id'), body: parseInput(fileRulesBodySchema, body) });
  }

  /**
   * Path rules apply: asking for one document (`doc_id`) the caller may not read is refused (and audited,
   * rest-refusals.ts); the whole list leaves out the conflicts of documents hidden from the caller.
   */
  @Get('conflicts')
  @Documented({ summary: 'Recorded conflicts (oldest first), with both versions of each region and their resolution', query: conflictsQuerySchema, errors: [400, 401, 403, 404] })
  async conflicts(@Actor() actor: Identity, @Param('id') id: string, @Query() query: unknown): Promise<ConflictApi['conflicts.list']['res']> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const q = parseInput(conflictsQuerySchema, query);
    const caller = await this.refusals.caller(actor, session_id);
    const check: RestCheck = { needs: 'document.read', ...(q.doc_id !== undefined ? { file: { doc_id: q.doc_id, access: 'read' } } : {}) };
    const list = await this.refusals.run(caller, session_id, 'conflicts.list', check, () => this.conflict.call('conflicts.list', { caller, payload: { session_id, query: q } }));
    return { conflicts: await this.refusals.readable(caller, session_id, list.conflicts, (c) => c.doc_id) };
  }
}
