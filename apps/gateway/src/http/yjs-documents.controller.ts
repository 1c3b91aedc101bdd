import { Controller, Get, Inject, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
import { TypedClient, type ConflictApi } from '@chorus/contracts';
import { docIdSchema, sessionIdParamSchema } from '@chorus/protocol';
import { Actor, AccessTokenGuard } from './auth';
import { CONFLICT_CLIENT } from './documents.controller';
import { Documented } from './openapi';
import { RestRefusals } from './rest-refusals';
import { parseInput } from './validation';

/**
 * A session's Yjs documents over REST (docs/yjs.md): the list, and one document's merged durable state as a Yjs update
 * (base64) with its seq — for a backup, an export, or a client that wants the state without a socket. Participants
 * only; a stranger gets NOT_FOUND, as for the text documents' history. Path rules apply: the list leaves out the
 * documents hidden from the caller (`none`), reading one is refused (and audited, rest-refusals.ts).
 */
@ApiTags('documents')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions/:id/yjs-documents')
export class YjsDocumentsController {
  constructor(
    @Inject(CONFLICT_CLIENT) private readonly conflict: TypedClient<ConflictApi>,
    @Inject(RestRefusals) private readonly refusals: RestRefusals,
  ) {}

  @Get()
  @Documented({ summary: "The session's Yjs documents (doc ids)", errors: [400, 401, 403, 404] })
  async list(@Actor() actor: Identity, @Param('id') id: string): Promise<ConflictApi['yjs.list']['res']> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const caller = await this.refusals.caller(actor, session_id);
    const listed = await this.refusals.run(caller, session_id, 'yjs.list', { needs: 'document.read' }, () => this.conflict.call('yjs.list', { caller, payload: { session_id } }));
    return { doc_ids: await this.refusals.readable(caller, session_id, listed.doc_ids, (docId) => docId) };
  }

  @Get(':docId')
  @Documented({ summary: "A Yjs document's durable state: one Yjs update (base64) and its seq; docId percent-encoded", errors: [400, 401, 403, 404, 409] })
  async state(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string): Promise<ConflictApi['yjs.state']['res']> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const caller = await this.refusals.caller(actor, session_id);
    const doc_id = parseInput(docIdSchema, docId, 'docId');
    return this.refusals.run(caller, session_id, 'yjs.state', { needs: 'document.read', file: { doc_id, access: 'read' } }, () => this.conflict.call('yjs.state', { caller, payload: { session_id, doc_id } }));
  }
}
