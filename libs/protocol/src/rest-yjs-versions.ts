import { z } from 'zod';
import { text } from './text';

// The REST contract of Yjs documents' version history (docs/yjs.md "Version history"): request shapes validated
// by the gateway, response views for the API description.

const yjsVersionNumber = z.coerce.number().int().positive().max(2_147_483_647);

/** `:version` of `…/documents/:docId/versions/:version/restore` (a Yjs version: from 1). */
export const yjsVersionParamSchema = yjsVersionNumber;

/** `GET …/documents/:docId/versions?before=&limit=`: newest first; `before` is the previous page's `next_before`. */
export const yjsVersionsQuerySchema = z.strictObject({
  before: yjsVersionNumber.optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

/** `GET …/documents/:docId/versions/:version?text=`: the Y.Text whose text is returned (default `codemirror`). */
export const yjsVersionQuerySchema = z.strictObject({ text: text().min(1).max(256).optional() });

/** `POST …/documents/:docId/versions`: save the current state as a version, with an optional label. */
export const saveYjsVersionBodySchema = z.strictObject({ label: text().min(1).max(200).optional() });

export const yjsVersionInfoSchema = z.object({
  doc_id: text(),
  version: z.number().int().describe('Numbered per document from 1'),
  seq: z.number().int().describe('The last durable update (seq) the snapshot holds'),
  reason: z.enum(['compaction', 'saved']).describe('Taken by the compaction job, or saved explicitly (POST …/versions)'),
  label: text().nullable(),
  author: text().nullable().describe("Who saved it; null for the compaction job's"),
  created_at: text(),
  bytes: z.number().int().describe('Size of the stored state (a Yjs update)'),
});

export const yjsVersionPageSchema = z.object({
  doc_id: text(),
  versions: z.array(yjsVersionInfoSchema),
  next_before: z.number().int().nullable().describe('Pass as before for the next (older) page; null when there is none'),
});

export const yjsVersionSavedSchema = yjsVersionInfoSchema.extend({ created: z.boolean().describe('False when the newest version already held this state (nothing stored)') });

export const yjsVersionViewSchema = yjsVersionInfoSchema.extend({
  update: text().describe('The state as one Yjs update, base64: Y.applyUpdate(doc, Buffer.from(update, "base64"))'),
  text_name: text(),
  text: text().nullable().describe('The Y.Text text_name in this version; null when there is none'),
});

export const yjsRestoredSchema = z.object({
  doc_id: text(),
  version: z.number().int(),
  seq: z.number().int().describe('The seq of the restoring update (the head seq when nothing had to change)'),
  changed: z.boolean(),
  update: text().nullable().describe('The restoring update, base64 (already pushed to every connected client)'),
  skipped: z.array(text()).describe('Root types left as they are: their kind differs between the version and now'),
});

export type YjsVersionInfoView = z.infer<typeof yjsVersionInfoSchema>;
export type YjsVersionPageView = z.infer<typeof yjsVersionPageSchema>;
export type YjsVersionSavedView = z.infer<typeof yjsVersionSavedSchema>;
export type YjsVersionView = z.infer<typeof yjsVersionViewSchema>;
export type YjsRestoredView = z.infer<typeof yjsRestoredSchema>;
