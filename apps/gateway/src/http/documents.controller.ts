import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Identity } from '@chorus/auth';
import { TypedClient, type ConflictApi } from '@chorus/contracts';
import { ChorusError, docIdSchema, documentHistoryQuerySchema, sessionIdParamSchema, versionParamSchema, yjsVersionQuerySchema } from '@chorus/protocol';
import { Actor, AccessTokenGuard } from './auth';
import { Documented } from './openapi';
import { RestRefusals } from './rest-refusals';
import { parseInput } from './validation';

/** The gateway's conflict client, provided by GatewayAppModule (the same one the socket handlers use). */
export const CONFLICT_CLIENT = Symbol('CONFLICT_CLIENT');

/**
 * Version history over REST, the same reads as the socket's `document_history` / `document_at`. A doc id is a
 * path with '/': it travels as ONE path segment, percent-encoded (`encodeURIComponent('src/main.rs')` →
 * `src%2Fmain.rs`), and is validated with the protocol's docIdSchema after decoding. The session's path rules
 * apply as on the socket (read); refusals are audited (rest-refusals.ts).
 */
@ApiTags('documents')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/collaboration/sessions/:id/documents/:docId')
export class DocumentsController {
  constructor(
    @Inject(CONFLICT_CLIENT) private readonly conflict: TypedClient<ConflictApi>,
    @Inject(RestRefusals) private readonly refusals: RestRefusals,
  ) {}

  @Get('history')
  @Documented({ summary: 'Who changed what in a document (op summaries, oldest first); docId percent-encoded', query: documentHistoryQuerySchema, errors: [400, 401, 403, 404] })
  async history(@Actor() actor: Identity, @Param('id') id: string, @Param('docId') docId: string, @Query() query: unknown): Promise<ConflictApi['document.history']['res']> {
    const session_id = parseInput(sessionIdParamSchema, id, 'id');
    const caller = await this.refusals.caller(actor, session_id);
    const payload = { session_id, doc_id: parseInput(docIdSchema, docId, 'docId'), ...parseInput(documentHistoryQuerySchema, query) };
    const check = { needs: 'history.read', file: { doc_id: payload.doc_id, access: 'read' } } as const;
    return this.refusals.run(caller, session_id, 'document.history', check, () => this.conflict.call('document.history', { caller, payload }));
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
    const caller = await this.refusals.caller(actor, session_id);
    const { text } = parseInput(yjsVersionQuerySchema, query);
    const payload = { session_id, doc_id: parseInput(docIdSchema, docId, 'docId'), version: parseInput(versionParamSchema, version, 'version') };
    const check = { needs: 'history.read', file: { doc_id: payload.doc_id, access: 'read' } } as const;
    return this.refusals.run(caller, session_id, 'document.at', check, async () => {
      try {
        return await this.conflict.call('document.at', { caller, payload });
      } catch (err) {
        // A Yjs document's versions are snapshots (docs/yjs.md "Version history"): the same route reads them.
        if (ChorusError.from(err).code !== 'CONFLICT' || payload.version < 1) throw err;
        return this.conflict.call('yjs.version', { caller, payload: { ...payload, ...(text !== undefined ? { text } : {}) } }).catch((yjsErr: unknown) => {
          throw ChorusError.from(yjsErr).code === 'CONFLICT' ? err : yjsErr;
        });
      }
    });
  }
}
