import { Controller, Get, Inject, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { authorize, type Identity } from '@chorus/auth';
import { TypedClient, type Caller, type ConflictApi } from '@chorus/contracts';
import { ChorusError, docIdSchema, sessionIdParamSchema } from '@chorus/protocol';
import { SessionRouter } from '../routing/session.router';
import { Actor, AccessTokenGuard } from './auth';
import { CONFLICT_CLIENT } from './documents.controller';
import { Documented } from './openapi';
import { parseInput } from './validation';

/**
 * A session's Yjs documents over REST (docs/yjs.md): the list, and one document's merged durable state as a Yjs update
 * (base64) with its seq — for a backup, an export, or a client that wants the state without a socket. Participants
 * only; a stranger gets NOT_FOUND, as for the text documents' history.
 */
@ApiTags('documents')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions/:id/yjs-documents')
export class YjsDocumentsController {
  constructor(
    @Inject(SessionRouter) private readonly sessions: SessionRouter,
    @Inject(CONFLICT_CLIENT) private readonly conflict: TypedClient<ConflictApi>,
  ) {}

  @Get()
  @Documented({ summary: "The session's Yjs documents (doc ids)", errors: [400, 401, 403, 404] })
  async list(@Actor() actor: Identity, @Param('id') id: string): Promise<ConflictApi['yjs.list']['res']> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    return this.conflict.call('yjs.list', { caller: await this.callerOf(actor, session_id), payload: { session_id } });
  }

  @Get(':docId')
  @Documented({ summary: "A Yjs document's durable state: one Yjs update (base64) and its seq; docId percent-encoded", errors: [400, 401, 403, 404, 409] })
  async state(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string): Promise<ConflictApi['yjs.state']['res']> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const caller = await this.callerOf(actor, session_id);
    return this.conflict.call('yjs.state', { caller, payload: { session_id, doc_id: parseInput(docIdSchema, docId, 'docId') } });
  }

  private async callerOf(actor: Identity, sessionId: string): Promise<Caller> {
    const session = await this.sessions.call('session.get', { actor, session_id: sessionId });
    if (session.my_role === null) throw new ChorusError('NOT_FOUND', `Session ${sessionId} does not exist, has expired, or you are not a participant.`);
    authorize(session.my_role, 'document.read');
    return { user_id: actor.user_id, client_id: 'rest', role: session.my_role };
  }
}
