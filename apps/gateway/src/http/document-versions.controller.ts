import { Body, Controller, Get, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
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
import { Edge } from '../socket/edge';
import { Actor, AccessTokenGuard } from './auth';
import { CONFLICT_CLIENT } from './documents.controller';
import { Documented } from './openapi';
import { RestRefusals, type RestCheck } from './rest-refusals';
import { parseInput } from './validation';

/**
 * Version history of Yjs documents over REST (docs/yjs.md "Version history"), beside the text documents' history
 * (documents.controller.ts; `GET …/versions/:version` answers a Yjs document's version there). Versions are
 * snapshots of the whole state: listed and read by every participant, saved and restored by editors and owners. A
 * restore is one new durable update, pushed to every connected client like any other (never a log rewrite), and
 * recorded in the audit trail (`yjs_version_restored`); a save is recorded too (`yjs_version_saved`: other tabs see it
 * live). A text document is CONFLICT here: its versions are its ops.
 * Path rules apply (read to list, edit to save and restore); refusals are audited (rest-refusals.ts).
 */
@ApiTags('documents')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions/:id/documents/:docId/versions')
export class DocumentVersionsController {
  constructor(
    @Inject(CONFLICT_CLIENT) private readonly conflict: TypedClient<ConflictApi>,
    @Inject(Edge) private readonly edge: Edge,
    @Inject(RestRefusals) private readonly refusals: RestRefusals,
  ) {}

  @Get()
  @Documented({ summary: "A Yjs document's versions (snapshots), newest first; docId percent-encoded", query: yjsVersionsQuerySchema, response: yjsVersionPageSchema, errors: [400, 401, 403, 404, 409] })
  async list(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string, @Query() query: unknown): Promise<ConflictApi['yjs.versions']['res']> {
    const { caller, session_id, doc_id } = await this.target(actor, id, docId);
    const q = parseInput(yjsVersionsQuerySchema, query);
    return this.refusals.run(caller, session_id, 'yjs.versions', read(doc_id), () => this.conflict.call('yjs.versions', { caller, payload: { session_id, doc_id, ...q } }));
  }

  @Post()
  @Documented({ summary: "Save a Yjs document's current state as a version (editors and owners)", body: saveYjsVersionBodySchema, response: yjsVersionSavedSchema, status: 201, errors: [400, 401, 403, 404, 409] })
  async save(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string, @Body() body: unknown): Promise<ConflictApi['yjs.save_version']['res']> {
    const { caller, session_id, doc_id } = await this.target(actor, id, docId);
    const docs = this.edge.deps.yjs;
    if (!docs) throw new ChorusError('UNAVAILABLE', 'Yjs documents are not enabled on this gateway.');
    const { label } = parseInput(saveYjsVersionBodySchema, body ?? {});
    return this.refusals.run(caller, session_id, 'yjs.save_version', edit(doc_id), () => docs.saveVersion(caller, session_id, doc_id, label));
  }

  @Post(':version/restore')
  @Documented({ summary: 'Restore a version of a Yjs document as a new update, pushed to every client (editors and owners)', response: yjsRestoredSchema, status: 201, errors: [400, 401, 403, 404, 409, 413] })
  async restore(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string, @Param('version') version: string): Promise<ConflictApi['yjs.restore']['res']> {
    const { caller, session_id, doc_id } = await this.target(actor, id, docId);
    const docs = this.edge.deps.yjs;
    if (!docs) throw new ChorusError('UNAVAILABLE', 'Yjs documents are not enabled on this gateway.');
    const v = parseInput(yjsVersionParamSchema, version, 'version');
    return this.refusals.run(caller, session_id, 'yjs.restore', edit(doc_id), () => docs.restore(caller, session_id, doc_id, v));
  }

  /** The caller (its role from the session service; a non-participant is NOT_FOUND, first) and the parsed ids. */
  private async target(actor: Identity, id: string, docId: string): Promise<{ caller: Caller; session_id: string; doc_id: string }> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const caller = await this.refusals.caller(actor, session_id);
    return { caller, session_id, doc_id: parseInput(docIdSchema, docId, 'docId') };
  }
}

const read = (doc_id: string): RestCheck => ({ needs: 'history.read', file: { doc_id, access: 'read' } });
const edit = (doc_id: string): RestCheck => ({ needs: 'document.edit', file: { doc_id, access: 'edit' } });
