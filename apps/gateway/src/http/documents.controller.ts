import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { authorize, type Identity } from '@chorus/auth';
import { TypedClient, type Caller, type ConflictApi } from '@chorus/contracts';
import { ChorusError, docIdSchema, documentHistoryQuerySchema, sessionIdParamSchema, versionParamSchema, yjsVersionQuerySchema } from '@chorus/protocol';
import { SessionRouter } from '../routing/session.router';
import { Actor, AccessTokenGuard } from './auth';
import { Documented } from './openapi';
import { parseInput } from './validation';

/** The gateway's conflict client, provided by GatewayAppModule (the same one the socket handlers use). */
export const CONFLICT_CLIENT = Symbol('CONFLICT_CLIENT');

/** REST reads have no connection, hence no peer: one fixed client id (reads never dedupe on it). */
const REST_CLIENT_ID = 'rest';

/**
 * Version history over REST, the same reads as the socket's `document_history` / `document_at`. A doc id is a
 * path with '/': it travels as ONE path segment, percent-encoded (`encodeURIComponent('src/main.rs')` →
 * `src%2Fmain.rs`), and is validated with the protocol's docIdSchema after decoding.
 */
@ApiTags('documents')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions/:id/documents/:docId')
export class DocumentsController {
  constructor(
    @Inject(SessionRouter) private readonly sessions: SessionRouter,
    @Inject(CONFLICT_CLIENT) private readonly conflict: TypedClient<ConflictApi>,
  ) {}

  @Get('history')
  @Documented({ summary: 'Who changed what in a document (op summaries, oldest first); docId percent-encoded', query: documentHistoryQuerySchema, errors: [400, 401, 403, 404] })
  async history(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string, @Query() query: unknown): Promise<ConflictApi['document.history']['res']> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const caller = await this.callerOf(actor, session_id);
    const payload = { session_id, doc_id: parseInput(docIdSchema, docId, 'docId'), ...parseInput(documentHistoryQuerySchema, query) };
    return this.conflict.call('document.history', { caller, payload });
  }

  @Get('versions/:version')
  @Documented({ summary: 'The text of a document at a retained version, or a Yjs document\'s version (its state; text of ?text=, default codemirror); docId percent-encoded', query: yjsVersionQuerySchema, errors: [400, 401, 403, 404, 409] })
  async at(
    @Actor() actor: Identity,
    @Param('id') id: string,
    @Param('docId') docId: string,
    @Param('version') version: string,
    @Query() query: unknown,
  ): Promise<ConflictApi['document.at']['res'] | ConflictApi['yjs.version']['res']> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const caller = await this.callerOf(actor, session_id);
    const { text } = parseInput(yjsVersionQuerySchema, query);
    const payload = { session_id, doc_id: parseInput(docIdSchema, docId, 'docId'), version: parseInput(versionParamSchema, version, 'version') };
    try {
      return await this.conflict.call('document.at', { caller, payload });
    } catch (err) {
      // A Yjs document's versions are snapshots (docs/yjs.md "Version history"): the same route reads them.
      if (ChorusError.from(err).code !== 'CONFLICT' || payload.version < 1) throw err;
      return this.conflict.call('yjs.version', { caller, payload: { ...payload, ...(text !== undefined ? { text } : {}) } }).catch((yjsErr: unknown) => {
        throw ChorusError.from(yjsErr).code === 'CONFLICT' ? err : yjsErr;
      });
    }
  }

  /**
   * The actor's role, from the session service. A non-participant (even of a public session) is NOT_FOUND, and
   * is told so before anything else of the request is checked: a stranger learns nothing from the answer.
   */
  private async callerOf(actor: Identity, sessionId: string): Promise<Caller> {
    const session = await this.sessions.call('session.get', { actor, session_id: sessionId });
    if (session.my_role === null) throw new ChorusError('NOT_FOUND', `Session ${sessionId} does not exist, has expired, or you are not a participant.`);
    authorize(session.my_role, 'document.read');
    return { user_id: actor.user_id, client_id: REST_CLIENT_ID, role: session.my_role };
  }
}
