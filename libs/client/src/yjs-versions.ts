import * as Y from 'yjs';
import type { z } from 'zod';
import {
  ChorusError,
  SESSION_EVENT_PAYLOADS,
  saveYjsVersionBodySchema,
  validationErrorFrom,
  yjsRestoredSchema,
  yjsVersionPageSchema,
  yjsVersionParamSchema,
  yjsVersionQuerySchema,
  yjsVersionSavedSchema,
  yjsVersionViewSchema,
  yjsVersionsQuerySchema,
  type YjsRestoredView,
  type YjsVersionInfoView,
  type YjsVersionPageView,
  type YjsVersionSavedView,
  type YjsVersionView,
} from '@chorus/protocol';
import type { DurableEvent } from './durable';
import { TypedEmitter } from './emitter';
import type { ChorusRest } from './rest';

/** A `yjs_version_restored` session event, as `YjsVersions` reports it for its document. */
export interface YjsVersionRestored {
  version: number;
  /** The seq of the restoring update (already pushed to every connected provider: the text arrives as an update). */
  seq: number;
  /** Who restored it. */
  user_id: string;
  /** The session stream position of the event. */
  event_seq: number;
}

/** A `yjs_version_saved` session event, as `YjsVersions` reports it for its document. */
export interface YjsVersionSavedEvent {
  version: number;
  /** The label it was saved with; null without one. */
  label: string | null;
  /** The seq of the last durable update the version holds. */
  seq: number;
  /** Who saved it. */
  user_id: string;
  /** The session stream position of the event. */
  event_seq: number;
}

export interface YjsVersionsEvents {
  /** Someone (this client included) restored a version of this document: the audit record, live. */
  restored: YjsVersionRestored;
  /** Someone (this client included) saved a new version of this document (not a retried save that stored nothing). */
  saved: YjsVersionSavedEvent;
}

/**
 * The version history of one Yjs document (docs/yjs.md "Version history", "Versions in the SDK and the app"):
 * `provider.versions` of a `YjsProvider`, over the REST routes `…/documents/:docId/versions…`. Versions are
 * snapshots of the whole state, numbered per document from 1, newest first; every participant lists and reads
 * them, editors and owners save and restore (a viewer gets PERMISSION_DENIED). A restore is one new durable update
 * that every connected client applies like any other — the provider's Y.Doc shows the version once it arrives.
 *
 * Errors are `ChorusError`s with the server's stable code: NOT_FOUND (no such version, or not a participant),
 * PERMISSION_DENIED, CONFLICT (a text document: its history is its ops), PAYLOAD_TOO_LARGE (a restore over the
 * update limit), UNAVAILABLE (the network; retryable). Bad arguments fail before any request (VALIDATION_ERROR,
 * with the field), and an answer that is not the documented shape is SERVER_ERROR.
 */
export class YjsVersions extends TypedEmitter<YjsVersionsEvents> {
  /**
   * @param textName the Y.Text whose text `get` returns (the server's default is `codemirror`, the name of the
   *   browser app and of y-websocket's examples).
   */
  constructor(
    private readonly rest: ChorusRest,
    readonly sessionId: string,
    readonly docId: string,
    readonly textName = 'codemirror',
  ) {
    super();
  }

  /** One page of versions, newest first; pass `next_before` as `before` for the next (older) page. */
  async list(options: { before?: number; limit?: number } = {}): Promise<YjsVersionPageView> {
    const query = input(yjsVersionsQuerySchema, options);
    const qs = new URLSearchParams();
    if (query.before !== undefined) qs.set('before', String(query.before));
    if (query.limit !== undefined) qs.set('limit', String(query.limit));
    const tail = qs.toString();
    return answer(yjsVersionPageSchema, await this.rest.call('GET', `${this.base()}${tail === '' ? '' : `?${tail}`}`), 'versions page');
  }

  /** Every version, newest first, fetched a page (`limit`, default 50) at a time as the loop asks for more. */
  async *all(options: { limit?: number } = {}): AsyncGenerator<YjsVersionInfoView> {
    let before: number | undefined;
    do {
      const page = await this.list({ ...options, ...(before !== undefined ? { before } : {}) });
      yield* page.versions;
      before = page.next_before ?? undefined;
    } while (before !== undefined);
  }

  /**
   * Saves the current durable state as a version (editors and owners). `created: false` when the newest version
   * already holds this state: a retried save stores nothing.
   */
  async save(label?: string): Promise<YjsVersionSavedView> {
    const body = input(saveYjsVersionBodySchema, label === undefined ? {} : { label });
    return answer(yjsVersionSavedSchema, await this.rest.call('POST', this.base(), body), 'saved version');
  }

  /** A version with its state (`update`, base64) and the text of the Y.Text `textName` in it (null if none). */
  async get(version: number): Promise<YjsVersionView> {
    const v = input(yjsVersionParamSchema, version, 'version');
    const { text } = input(yjsVersionQuerySchema, { text: this.textName });
    return answer(yjsVersionViewSchema, await this.rest.call('GET', `${this.base()}/${v}?text=${encodeURIComponent(text ?? this.textName)}`), 'version');
  }

  /** A version as a fresh Y.Doc of its own (read it, diff it, show it; editing it changes nothing on the server). */
  async doc(version: number): Promise<Y.Doc> {
    const v = await this.get(version);
    const doc = new Y.Doc();
    try {
      Y.applyUpdate(doc, fromBase64(v.update));
    } catch (err) {
      doc.destroy();
      throw new ChorusError('SERVER_ERROR', `Version ${version} of ${this.docId}: the state is not a Yjs update (${(err as Error).message}).`);
    }
    return doc;
  }

  /**
   * Restores a version (editors and owners): the server appends one update making the document equal the version
   * and pushes it to every connected client (the provider's doc included); `changed: false` when it already was.
   */
  async restore(version: number): Promise<YjsRestoredView> {
    const v = input(yjsVersionParamSchema, version, 'version');
    return answer(yjsRestoredSchema, await this.rest.call('POST', `${this.base()}/${v}/restore`), 'restore');
  }

  /** @internal A durable session event: reported when it is a restore or a save of this document. */
  handleEvent(event: DurableEvent): void {
    const restored = yjsRestoreOf(event);
    if (restored !== null && restored.doc_id === this.docId) this.emit('restored', { version: restored.version, seq: restored.seq, user_id: restored.user_id, event_seq: event.seq });
    const saved = yjsSaveOf(event);
    if (saved !== null && saved.doc_id === this.docId) this.emit('saved', { version: saved.version, label: saved.label, seq: saved.seq, user_id: saved.user_id, event_seq: event.seq });
  }

  private base(): string {
    return `/collaboration/sessions/${encodeURIComponent(this.sessionId)}/documents/${encodeURIComponent(this.docId)}/versions`;
  }
}

/**
 * The restore of a durable event if it is a `yjs_version_restored` (of any Yjs document of the session), else null:
 * for `session.on('event', …)` without a provider.
 */
export function yjsRestoreOf(event: DurableEvent): { doc_id: string; version: number; seq: number; user_id: string } | null {
  if (event.kind !== 'session_event' || event.message.event_type !== 'yjs_version_restored') return null;
  const p = event.message.payload;
  const { doc_id, version, seq, user_id } = p as Record<string, unknown>;
  if (typeof doc_id !== 'string' || typeof version !== 'number' || typeof seq !== 'number' || typeof user_id !== 'string') return null;
  return { doc_id, version, seq, user_id };
}

/**
 * The save of a durable event if it is a `yjs_version_saved` (of any Yjs document of the session), else null: for
 * `session.on('event', …)` without a provider. Checked with the protocol's own payload schema.
 */
export function yjsSaveOf(event: DurableEvent): { doc_id: string; version: number; label: string | null; seq: number; user_id: string } | null {
  if (event.kind !== 'session_event' || event.message.event_type !== 'yjs_version_saved') return null;
  const parsed = SESSION_EVENT_PAYLOADS.yjs_version_saved.safeParse(event.message.payload);
  return parsed.success ? parsed.data : null;
}

/** An argument checked with the server's own request schema: VALIDATION_ERROR before any request. */
function input<S extends z.ZodType>(schema: S, value: unknown, field?: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  if (field !== undefined) throw ChorusError.validation(field, `Invalid field "${field}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  throw validationErrorFrom(parsed.error);
}

/** An answer checked against the documented response shape (the SDK's edge): SERVER_ERROR when it is not. */
function answer<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ChorusError('SERVER_ERROR', `The server's ${what} is not the documented shape: ${parsed.error.issues[0]?.message ?? 'invalid'}.`);
  return parsed.data;
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
