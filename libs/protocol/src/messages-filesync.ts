import { z } from 'zod';
import { text } from './text';
import { messageIdSchema } from './errors';
import { peerIdSchema, sessionIdSchema, userIdSchema } from './fields';

// Project file sync, host to guests (the Pulsar seed's flow, verbatim): a guest asks the session's file host for
// its manifest, diffs it against its own files, asks for what it lacks, and the host answers in chunks. The server
// relays each message to exactly one peer (the `peers` audience of the one outbound road), stamps the sender
// (`from_peer_id`) and checks what it can: who may host, the manifest's paths and caps, that a guest asks only for
// paths of the manifest it was sent and that a host sends only those. Content is verified by sha256 in the SDK.

const id = messageIdSchema.optional();
const session_id = sessionIdSchema;

/** Caps (also in docs/file-sync.md). A manifest's JSON must fit one message under the 1 MiB transport ceiling. */
export const FILE_SYNC_LIMITS = {
  /** Entries of one manifest. */
  manifestEntries: 5_000,
  /** Characters of `manifest_json`. */
  manifestJsonChars: 960_000,
  /** Bytes of one file (as the manifest states it). */
  fileBytes: 256 * 1024 * 1024,
  /** Bytes of one session's project: the sum of a manifest's sizes. */
  sessionBytes: 2 * 1024 * 1024 * 1024,
  /** Characters of one `files_chunk`'s `files_json` (`[[path, [bytes…]]]` costs up to 4 characters a byte). */
  filesJsonChars: 990_000,
  /** Paths of one `request_files`. */
  requestPaths: 5_000,
  /** Characters of one path. */
  pathChars: 1_024,
} as const;

/**
 * A project path in its one normal form: '/'-separated and relative, without empty, '.' or '..' segments, no
 * backslash, no control character (NUL included), no drive letter. `normalizeFilePath` turns what a disk walk
 * produces (`./src\\main.rs`) into it, or says why it cannot (absolute, `..`).
 */
export function normalizeFilePath(raw: string): { ok: true; path: string } | { ok: false; reason: string } {
  // eslint-disable-next-line no-control-regex -- control characters (NUL first) are what must be refused
  if (/[\u0000-\u001f\u007f]/.test(raw)) return { ok: false, reason: 'contains a control character (NUL included)' };
  const slashed = raw.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) return { ok: false, reason: 'is absolute' };
  const segments = slashed.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, reason: 'contains ".."' };
  if (segments.length === 0) return { ok: false, reason: 'is empty' };
  const path = segments.join('/');
  if (path.length > FILE_SYNC_LIMITS.pathChars) return { ok: false, reason: `is longer than ${FILE_SYNC_LIMITS.pathChars} characters` };
  return { ok: true, path };
}

/** A path exactly in normal form (the wire accepts no other spelling, so one file has one name everywhere). */
export const filePathSchema = text()
  .min(1)
  .max(FILE_SYNC_LIMITS.pathChars)
  .superRefine((p, ctx) => {
    const n = normalizeFilePath(p);
    if (!n.ok) ctx.addIssue({ code: 'custom', message: `path ${n.reason}` });
    else if (n.path !== p) ctx.addIssue({ code: 'custom', message: `path is not in normal form (send "${n.path}")` });
  });

export const sha256HexSchema = text().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256');

/** One file of a manifest (the seed's fields): path, sha256 `hash`, `size` in bytes, `modified` (epoch ms or an ISO date). */
export const manifestEntrySchema = z.strictObject({
  path: filePathSchema,
  hash: sha256HexSchema,
  size: z.number().int().nonnegative().max(FILE_SYNC_LIMITS.fileBytes),
  modified: z.union([z.number().nonnegative(), text().max(64)]),
});
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;

/** What `manifest_json` holds: `{"files": [...]}`, paths unique, within the caps. */
export const manifestSchema = z
  .strictObject({ files: z.array(manifestEntrySchema).max(FILE_SYNC_LIMITS.manifestEntries) })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    let total = 0;
    m.files.forEach((f, i) => {
      if (seen.has(f.path)) ctx.addIssue({ code: 'custom', path: ['files', i, 'path'], message: `duplicated path "${f.path}"` });
      seen.add(f.path);
      total += f.size;
    });
    if (total > FILE_SYNC_LIMITS.sessionBytes) ctx.addIssue({ code: 'custom', path: ['files'], message: `the project is ${total} bytes; at most ${FILE_SYNC_LIMITS.sessionBytes} per session` });
  });
export type Manifest = z.infer<typeof manifestSchema>;

/** What `files_json` holds: `[[path, [byte, …]], …]`. A path in several chunks of one answer continues there. */
export const filesPayloadSchema = z.array(z.tuple([filePathSchema, z.array(z.number().int().min(0).max(255))])).max(FILE_SYNC_LIMITS.requestPaths);
export type FilesPayload = z.infer<typeof filesPayloadSchema>;

/**
 * `filesPayloadSchema` without zod's per-element cost (a 128 KiB chunk is 131,072 numbers: zod takes ~200 ms, this
 * loop ~1 ms). The same rules: a list of [normal path, [integer 0–255, …]]; the error names the offending place.
 */
export function parseFilesPayload(value: unknown): { ok: true; value: FilesPayload } | { ok: false; field: string; message: string } {
  if (!Array.isArray(value)) return { ok: false, field: '', message: 'must be a list of [path, [bytes…]]' };
  if (value.length > FILE_SYNC_LIMITS.requestPaths) return { ok: false, field: '', message: `at most ${FILE_SYNC_LIMITS.requestPaths} entries` };
  for (let i = 0; i < value.length; i++) {
    const entry: unknown = value[i];
    if (!Array.isArray(entry) || entry.length !== 2) return { ok: false, field: `${i}`, message: 'must be [path, [bytes…]]' };
    const path = filePathSchema.safeParse(entry[0]);
    if (!path.success) return { ok: false, field: `${i}.0`, message: path.error.issues[0]?.message ?? 'invalid path' };
    const bytes: unknown = entry[1];
    if (!Array.isArray(bytes)) return { ok: false, field: `${i}.1`, message: 'must be a list of bytes' };
    for (let j = 0; j < bytes.length; j++) {
      const b: unknown = bytes[j];
      if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) return { ok: false, field: `${i}.1.${j}`, message: 'a byte is an integer from 0 to 255' };
    }
  }
  return { ok: true, value: value as FilesPayload };
}

/** The session's current file host, as `who`, `joined` and `file_host` show it (null: nobody shares). */
export const fileHostSchema = z.strictObject({ peer_id: peerIdSchema, user_id: userIdSchema });
export type FileHost = z.infer<typeof fileHostSchema>;

/** Compact format: chunk size negotiated in `request_files` (the server clamps it to these bounds). */
export const FILE_CHUNK_BYTES = { min: 16 * 1024, default: 256 * 1024, max: 768 * 1024 } as const;
export const transferIdSchema = text().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only');
/** Where a file's bytes lie in a compact chunk: bytes [offset, offset + length) of `path`. */
export const chunkEntrySchema = z.strictObject({ path: filePathSchema, offset: z.number().int().nonnegative().max(FILE_SYNC_LIMITS.fileBytes), length: z.number().int().nonnegative().max(FILE_CHUNK_BYTES.max) });
export type ChunkEntry = z.infer<typeof chunkEntrySchema>;
/** The binary of a compact chunk: only the transport's binary part (never JSON) can carry it. */
const binarySchema = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'binary data (a Socket.IO binary attachment, or the /ws binary frame after its header)');
/** Compact-format fields of `request_files`: the guest's wishes (format, chunk size, compression) and resume. */
const compactRequest = {
  format: z.enum(['seed', 'compact']).optional(),
  transfer_id: transferIdSchema.optional(),
  chunk_size: z.number().int().positive().max(16 * 1024 * 1024).optional(),
  compression: z.enum(['none', 'deflate']).optional(),
  /** Resume: chunks of `transfer_id` the guest already has and verified; the host sends only the others. */
  skip_chunks: z.array(z.number().int().nonnegative().max(1_000_000)).max(100_000).optional(),
};

const chunkIndex = z.number().int().nonnegative().max(1_000_000);
const totalChunks = z.number().int().positive().max(1_000_001);

// ---- client → server ----

export const shareProjectSchema = z.strictObject({ type: z.literal('share_project'), id, session_id });
export const unshareProjectSchema = z.strictObject({ type: z.literal('unshare_project'), id, session_id });

/**
 * A guest asks for the host's manifest. The seed's `peer_id`: the sender itself (the seed restates it) or the
 * peer asked; `to_peer_id` names the peer asked. Neither: the session's file host.
 */
export const requestFileManifestSchema = z.strictObject({
  type: z.literal('request_file_manifest'),
  id,
  session_id,
  peer_id: peerIdSchema.optional(),
  to_peer_id: peerIdSchema.optional(),
});
export const requestFilesSchema = z.strictObject({
  type: z.literal('request_files'),
  id,
  session_id,
  peer_id: peerIdSchema.optional(),
  to_peer_id: peerIdSchema.optional(),
  file_paths: z.array(filePathSchema).min(1).max(FILE_SYNC_LIMITS.requestPaths),
  ...compactRequest,
  /** false: only the host answers, never the server's file cache (docs/file-sync.md, "The cache"). Default true. */
  use_cache: z.boolean().optional(),
});
/** The host answers a guest (`peer_id`: that guest) with its manifest, a JSON string. */
export const fileManifestRequestSchema = z.strictObject({
  type: z.literal('file_manifest'),
  id,
  session_id,
  peer_id: peerIdSchema,
  manifest_json: text().max(FILE_SYNC_LIMITS.manifestJsonChars),
});
/** The host sends a guest (`peer_id`) chunk `chunk_index` of `total_chunks` of its answer. */
export const filesChunkRequestSchema = z
  .strictObject({
    type: z.literal('files_chunk'),
    id,
    session_id,
    peer_id: peerIdSchema,
    files_json: text().max(FILE_SYNC_LIMITS.filesJsonChars),
    chunk_index: chunkIndex,
    total_chunks: totalChunks,
  })
  .refine((m) => m.chunk_index < m.total_chunks, { path: ['chunk_index'], message: 'chunk_index must be below total_chunks' });

/**
 * A compact chunk (binary), host → guest `peer_id`: the bytes of `entries` in order (files packed, a big file
 * split over consecutive chunks), deflated when `encoding` says so; `sha256` of the raw (inflated) bytes.
 */
const fileDataHeader = {
  transfer_id: transferIdSchema,
  chunk_index: z.number().int().nonnegative().max(1_000_000),
  total_chunks: z.number().int().positive().max(1_000_001),
  encoding: z.enum(['none', 'deflate']),
  entries: z.array(chunkEntrySchema).min(1).max(2_048),
  sha256: sha256HexSchema,
};
export const fileDataRequestSchema = z
  .strictObject({ type: z.literal('file_data'), id, session_id, peer_id: peerIdSchema, ...fileDataHeader, data: binarySchema.optional() })
  .refine((m) => m.chunk_index < m.total_chunks, { path: ['chunk_index'], message: 'chunk_index must be below total_chunks' });

// ---- server → client ----

const from = { session_id, from_peer_id: peerIdSchema, from_user_id: userIdSchema };
export const requestFileManifestEventSchema = z.strictObject({ type: z.literal('request_file_manifest'), ...from });
export const requestFilesEventSchema = z.strictObject({
  type: z.literal('request_files'),
  ...from,
  file_paths: z.array(filePathSchema).max(FILE_SYNC_LIMITS.requestPaths),
  ...compactRequest,
});
/**
 * A compact chunk, as the guest receives it: `data` is binary (Socket.IO attachment; on /ws the binary frame
 * `[u32 header length][header JSON][data]`). Between gateways the road carries `data` as bytes beside the JSON
 * (docs/outbound.md); `data_b64` is the road format of older gateways, still read during a rolling deploy.
 */
export const fileDataEventSchema = z.strictObject({ type: z.literal('file_data'), ...from, ...fileDataHeader, data: binarySchema.optional(), data_b64: text().optional() });
/**
 * The manifest as the guest may see it: the server removed the entries the session's path rules do not let the
 * guest (or the host) read, and says how many in `withheld` (a count, never the names; docs/files.md).
 */
export const fileManifestEventSchema = z.strictObject({ type: z.literal('file_manifest'), ...from, manifest_json: text().max(FILE_SYNC_LIMITS.manifestJsonChars), withheld: z.number().int().nonnegative().optional() });
export const filesChunkEventSchema = z.strictObject({
  type: z.literal('files_chunk'),
  ...from,
  files_json: text().max(FILE_SYNC_LIMITS.filesJsonChars),
  chunk_index: chunkIndex,
  total_chunks: totalChunks,
});
/** The reply to a relayed file message: handed to the road for `to_peer_id` (delivery is not confirmed end to end). */
export const fileRelayedSchema = z.strictObject({ type: z.literal('file_relayed'), id, session_id, to_peer_id: peerIdSchema });
/** The session's file host changed: pushed to the session, and the reply to `share_project` / `unshare_project`. */
export const fileHostEventSchema = z.strictObject({ type: z.literal('file_host'), id, session_id, file_host: fileHostSchema.nullable() });
