import { Body, Controller, Get, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { authorize, type Identity } from '@chorus/auth';
import { TypedClient, type Caller, type ConflictApi } from '@chorus/contracts';
import {
  ChorusError,
  docIdSchema,
  saveYjsVersionBodySchema,
  sessionIdParamSchema,
  yjsRestoredSchema,
  yjsVersionPageSchema,
  yjsVersionParamSchema,
  yjsVersionSavedSchema,
  yjsVersionsQuerySchema,
} from '@chorus/protocol';
import { SessionRouter } from '../routing/session.router';
import { Edge } from '../socket/edge';
import { Actor, AccessTokenGuard } from './auth';
import { CONFLICT_CLIENT } from './documents.controller';
import { Documented } from './openapi';
import { parseInput } from './validation';

/**
 * Version history of Yjs documents over REST (docs/yjs.md "Version history"), beside the text documents' history
 * (documents.controller.ts; `GET …/versions/:version` answers a Yjs document's version there). Versions are
 * snapshots of the whole state: listed and read by every participant, saved and restored by editors and owners. A
 * restore is one new durable update, pushed to every connected client like any other (never a log rewrite), and
 * recorded in the audit trail (`yjs_version_restored`). A text document is CONFLICT here: its versions are its ops.
 */
@ApiTags('documents')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions/:id/documents/:docId/versions')
export class DocumentVersionsController {
  constructor(
    @Inject(SessionRouter) private readonly sessions: SessionRouter,
    @Inject(CONFLICT_CLIENT) private readonly conflict: TypedClient<ConflictApi>,
    @Inject(Edge) private readonly edge: Edge,
  ) {}

  @Get()
  @Documented({ summary: "A Yjs document's versions (snapshots), newest first; docId percent-encoded", query: yjsVersionsQuerySchema, response: yjsVersionPageSchema, errors: [400, 401, 403, 404, 409] })
  async list(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string, @Query() query: unknown): Promise<ConflictApi['yjs.versions']['res']> {
    const { caller, session_id, doc_id } = await this.target(actor, id, docId);
    return this.conflict.call('yjs.versions', { caller, payload: { session_id, doc_id, ...parseInput(yjsVersionsQuerySchema, query) } });
  }

  @Post()
  @Documented({ summary: "Save a Yjs document's current state as a version (editors and owners)", body: saveYjsVersionBodySchema, response: yjsVersionSavedSchema, status: 201, errors: [400, 401, 403, 404, 409] })
  async save(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string, @Body() body: unknown): Promise<ConflictApi['yjs.save_version']['res']> {
    const { caller, session_id, doc_id } = await this.target(actor, id, docId);
    const { label } = parseInput(saveYjsVersionBodySchema, body ?? {});
    return this.conflict.call('yjs.save_version', { caller, payload: { session_id, doc_id, ...(label !== undefined ? { label } : {}) } });
  }

  @Post(':version/restore')
  @Documented({ summary: 'Restore a version of a Yjs document as a new update, pushed to every client (editors and owners)', response: yjsRestoredSchema, status: 201, errors: [400, 401, 403, 404, 409, 413] })
  async restore(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string, @Param('version') version: string): Promise<ConflictApi['yjs.restore']['res']> {
    const { caller, session_id, doc_id } = await this.target(actor, id, docId);
    const docs = this.edge.deps.yjs;
    if (!docs) throw new ChorusError('UNAVAILABLE', 'Yjs documents are not enabled on this gateway.');
    return docs.restore(caller, session_id, doc_id, parseInput(yjsVersionParamSchema, version, 'version'));
  }

  /** The caller (its role from the session service; a non-participant is NOT_FOUND, first) and the parsed ids. */
  private async target(actor: Identity, id: string, docId: string): Promise<{ caller: Caller; session_id: string; doc_id: string }> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const session = await this.sessions.call('session.get', { actor, session_id });
    if (session.my_role === null) throw new ChorusError('NOT_FOUND', `Session ${session_id} does not exist, has expired, or you are not a participant.`);
    authorize(session.my_role, 'document.read');
    return { caller: { user_id: actor.user_id, client_id: 'rest', role: session.my_role }, session_id, doc_id: parseInput(docIdSchema, docId, 'docId') };
  }
}
