import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { authorize } from '@chorus/auth';
import type { Caller, YjsAppended, YjsState } from '@chorus/contracts';
import { ChorusError } from '@chorus/protocol';
import { YJS_LIMITS } from '@chorus/protocol';
import { z } from 'zod';
import { docIdSchema, parseCaller } from '../documents/document.input';
import { YjsAppendBatcher } from './yjs-append-batcher';
import { createYjsDocument, documentKind, listYjsDocuments, readYjs } from './yjs.repository';
import { checkUpdate, mergeStored } from './yjs-update';

export interface YjsOptions {
  /** Largest update accepted, in bytes (decoded). */
  readonly maxUpdateBytes: number;
  /** Largest stored document (snapshot + log), in bytes: appends beyond it are refused. */
  readonly maxDocBytes: number;
}

const ref = z.object({ session_id: z.uuid(), doc_id: docIdSchema });
const appendInput = ref.extend({ update: z.base64() });
const listInput = z.object({ session_id: z.uuid() });

function parse<T>(schema: z.ZodType<T>, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw ChorusError.validation(issue?.path.join('.') || '(payload)', issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/**
 * Yjs documents of the conflict service (docs/yjs.md): a durable append log per document in Postgres. Order does not
 * matter to a CRDT, so there is no transform and no head cache: an append is one statement, on any replica. An update
 * is validated on a scratch Y.Doc before it is stored; a refused one changes nothing.
 */
export class YjsService {
  readonly options: YjsOptions;
  private readonly batcher: YjsAppendBatcher;

  constructor(
    private readonly db: DataSource,
    options: Partial<YjsOptions> = {},
  ) {
    this.options = { maxUpdateBytes: YJS_LIMITS.maxUpdateBytes, maxDocBytes: YJS_LIMITS.maxDocBytes, ...options };
    this.batcher = new YjsAppendBatcher(db, this.options.maxDocBytes);
  }

  async open(caller: Caller, payload: unknown): Promise<YjsState> {
    const who = parseCaller(caller);
    authorize(who.role, 'document.read');
    const input = parse(ref, payload);
    let created = false;
    let kind = await documentKind(this.db, input.session_id, input.doc_id);
    if (kind === undefined) {
      // Creating is editing: a viewer may open only a document that exists.
      authorize(who.role, 'document.edit');
      created = await createYjsDocument(this.db, input.session_id, input.doc_id);
      kind = await documentKind(this.db, input.session_id, input.doc_id);
    }
    if (kind !== 'yjs') throw new ChorusError('CONFLICT', `Document ${input.doc_id} is a text (OT) document: open it with open_document.`);
    return { ...(await this.stateOf(input.session_id, input.doc_id)), created };
  }

  async state(caller: Caller, payload: unknown): Promise<YjsState> {
    authorize(parseCaller(caller).role, 'document.read');
    const input = parse(ref, payload);
    return this.stateOf(input.session_id, input.doc_id);
  }

  /** Validates and appends; the answer comes only once the row is committed (durable). Retried bytes → the original seq. */
  async append(caller: Caller, payload: unknown): Promise<YjsAppended> {
    const who = parseCaller(caller);
    authorize(who.role, 'document.edit');
    const input = parse(appendInput, payload);
    const update = Buffer.from(input.update, 'base64');
    if (update.length > this.options.maxUpdateBytes) throw new ChorusError('PAYLOAD_TOO_LARGE', `A Yjs update may be at most ${this.options.maxUpdateBytes} bytes; this one has ${update.length}. Nothing was stored.`);
    const refused = checkUpdate(update);
    if (refused) throw ChorusError.validation('update', `Update refused: ${refused}. Nothing was stored.`);
    const digest = createHash('sha256').update(update).digest();
    // Group commit: appends of this document arriving while one is being written share the next statement; each
    // caller is answered once its row is committed. A resend of stored bytes is answered with the original seq.
    const outcome = await this.batcher.append(input.session_id, input.doc_id, { update, digest, userId: who.user_id, clientId: who.client_id });
    if (outcome.kind === 'missing') throw new ChorusError('NOT_FOUND', `Yjs document ${input.doc_id} does not exist: open it first (yjs_sync with sync step 1, or the /yjs path).`);
    if (outcome.kind === 'too_large') throw new ChorusError('PAYLOAD_TOO_LARGE', `Yjs document ${input.doc_id} would exceed ${this.options.maxDocBytes} stored bytes (${outcome.bytes} now). Nothing was stored.`);
    if (outcome.kind === 'duplicate') return { doc_id: input.doc_id, seq: outcome.seq, duplicate: true };
    return { doc_id: input.doc_id, seq: outcome.seq, duplicate: false };
  }

  async list(caller: Caller, payload: unknown): Promise<{ doc_ids: string[] }> {
    authorize(parseCaller(caller).role, 'document.read');
    const input = parse(listInput, payload);
    return { doc_ids: await listYjsDocuments(this.db, input.session_id) };
  }

  private async stateOf(sessionId: string, docId: string): Promise<YjsState> {
    const stored = await readYjs(this.db, sessionId, docId);
    if (!stored) {
      const kind = await documentKind(this.db, sessionId, docId);
      if (kind === 'text') throw new ChorusError('CONFLICT', `Document ${docId} is a text (OT) document: open it with open_document.`);
      throw new ChorusError('NOT_FOUND', `Yjs document ${docId} does not exist.`);
    }
    return { doc_id: docId, update: Buffer.from(mergeStored(stored.snapshot, stored.updates)).toString('base64'), seq: stored.headSeq };
  }
}
