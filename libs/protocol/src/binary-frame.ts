// The /ws binary frame of a compact file chunk (`file_data`), both directions: a 4-byte big-endian length, that
// many bytes of UTF-8 JSON (the message without `data`), then the data. Socket.IO carries the same message with
// `data` as a binary attachment instead. Browser-safe (no Buffer).

/** The largest header a binary frame may declare (the rest of the frame is data). */
export const BINARY_HEADER_MAX_BYTES = 256 * 1024;

export function encodeBinaryFrame(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length);
  out.set(json, 4);
  out.set(data, 4 + json.length);
  return out;
}

/** The header (parsed JSON, unchecked) and the data (a view, not a copy), or why the frame cannot be read. */
export function decodeBinaryFrame(frame: Uint8Array): { ok: true; header: unknown; data: Uint8Array } | { ok: false; reason: string } {
  if (frame.length < 4) return { ok: false, reason: 'a binary frame starts with a 4-byte header length' };
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  if (length > BINARY_HEADER_MAX_BYTES || 4 + length > frame.length) return { ok: false, reason: `the header length ${length} does not fit the frame (at most ${BINARY_HEADER_MAX_BYTES})` };
  try {
    const header: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.subarray(4, 4 + length)));
    return { ok: true, header, data: frame.subarray(4 + length) };
  } catch {
    return { ok: false, reason: 'the header is not UTF-8 JSON' };
  }
}
