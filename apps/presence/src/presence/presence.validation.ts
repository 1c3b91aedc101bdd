import { ChorusError, displayNameSchema, participantKindSchema, peerIdSchema, sessionIdSchema, userIdSchema } from '@chorus/protocol';
import type { Selection } from './presence.types';

/**
 * Domain validation of presence input. The gateway validates wire messages against libs/protocol first;
 * this re-checks what the presence domain relies on (it is also called by other services and agents), and
 * throws VALIDATION_ERROR naming the field.
 */

interface Limits {
  maxDocIdLength: number;
  maxActiveFilePathLength: number;
}

const EXPLICIT_STATUSES = new Set(['online', 'away']);

function check(ok: boolean, field: string, message: string): void {
  if (!ok) throw ChorusError.validation(field, message);
}

function checkSchema(schema: { safeParse(v: unknown): { success: boolean } }, value: unknown, field: string): void {
  check(schema.safeParse(value).success, field, `${field} is invalid`);
}

function isPosition(n: unknown): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function validateDocId(docId: unknown, field: string, limits: Limits): void {
  if (docId === null) return;
  check(typeof docId === 'string' && docId.length > 0 && docId.length <= limits.maxDocIdLength, field, `${field} must be null or 1..${limits.maxDocIdLength} characters`);
}

function validateActiveFile(path: unknown, limits: Limits): void {
  if (path === null) return;
  const ok = typeof path === 'string' && path.length > 0 && path.length <= limits.maxActiveFilePathLength;
  check(ok, 'active_file', `active_file must be null or 1..${limits.maxActiveFilePathLength} characters`);
}

function validateSelection(selection: unknown): void {
  if (selection === null) return;
  const s = selection as Partial<Selection> | undefined;
  check(typeof s === 'object' && s !== null, 'selection', 'selection must be null or {anchor, head}');
  check(isPosition(s?.anchor), 'selection.anchor', 'selection.anchor must be a non-negative integer');
  check(isPosition(s?.head), 'selection.head', 'selection.head must be a non-negative integer');
}

function validateStatus(status: unknown): void {
  // 'idle' is derived by the server from activity; a client can only say 'online' or 'away'.
  check(typeof status === 'string' && EXPLICIT_STATUSES.has(status), 'status', "status must be 'online' or 'away' (idle is derived)");
}

export function validateUpdate(
  input: { status?: unknown; active_file?: unknown; doc_id?: unknown; selection?: unknown },
  limits: Limits,
): void {
  if (input.status !== undefined) validateStatus(input.status);
  if (input.active_file !== undefined) validateActiveFile(input.active_file, limits);
  if (input.doc_id !== undefined) validateDocId(input.doc_id, 'doc_id', limits);
  if (input.selection !== undefined) validateSelection(input.selection);
  // A selection is a place in a document: it cannot be set while explicitly leaving every document.
  check(!(input.doc_id === null && input.selection !== undefined && input.selection !== null), 'selection', 'a selection needs a doc_id');
}

export function validateJoin(
  input: { session_id: unknown; peer_id: unknown; user_id: unknown; display_name: unknown; kind: unknown; node_id: unknown; status?: unknown; active_file?: unknown; doc_id?: unknown; selection?: unknown },
  limits: Limits,
): void {
  checkSchema(sessionIdSchema, input.session_id, 'session_id');
  checkSchema(peerIdSchema, input.peer_id, 'peer_id');
  checkSchema(userIdSchema, input.user_id, 'user_id');
  checkSchema(displayNameSchema, input.display_name, 'display_name');
  checkSchema(participantKindSchema, input.kind, 'kind');
  check(typeof input.node_id === 'string' && input.node_id.length > 0 && input.node_id.length <= 128, 'node_id', 'node_id must be 1..128 characters');
  validateUpdate(input, limits);
  const noDoc = input.doc_id === undefined || input.doc_id === null;
  check(!(noDoc && input.selection !== undefined && input.selection !== null), 'selection', 'a selection needs a doc_id');
}
