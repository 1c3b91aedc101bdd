import { SERVER_EXAMPLES } from '@chorus/protocol';
import { outboundCodec, type OutboundMessage } from './outbound';

// The road's codec: a compact file chunk's bytes cross beside its JSON (split → broker → parse), never inside it.

const chunk = (data: Uint8Array): OutboundMessage => ({
  kind: 'push',
  message: { ...SERVER_EXAMPLES.file_data, data },
  audience: { to: 'peers', peer_ids: ['bob-cli'] },
  origin_node: 'node-a',
});

/** What a broker does: the JSON text and the bytes beside it, as another node reads them. */
function acrossTheRoad(message: OutboundMessage): OutboundMessage {
  const parts = outboundCodec.split(message);
  if (!parts) return outboundCodec.parse(JSON.parse(JSON.stringify(message)));
  return outboundCodec.parse(JSON.parse(JSON.stringify(parts.json)), Uint8Array.from(parts.binary));
}

describe('outboundCodec', () => {
  it('takes a file_data push\'s bytes out of its JSON and puts them back as `data`', () => {
    const bytes = Uint8Array.from({ length: 1_000 }, (_, i) => (i * 7) % 256);
    const parts = outboundCodec.split(chunk(bytes));
    expect(parts).toBeDefined();
    expect(JSON.stringify(parts?.json)).not.toContain('"data"');
    expect(parts?.binary).toBe(bytes);
    const back = acrossTheRoad(chunk(bytes));
    if (back.kind !== 'push' || back.message.type !== 'file_data') throw new Error(`not a file_data push: ${JSON.stringify(back)}`);
    expect(Buffer.from(back.message.data ?? []).equals(Buffer.from(bytes))).toBe(true);
    expect(back.message.data_b64).toBeUndefined();
  });

  it('leaves every other message JSON only (a file_manifest: a push of the same feature)', () => {
    const push: OutboundMessage = { kind: 'push', message: SERVER_EXAMPLES.file_manifest, audience: { to: 'session' }, origin_node: 'node-a' };
    expect(outboundCodec.split(push)).toBeUndefined();
    expect(acrossTheRoad(push)).toEqual(push);
  });

  it("still reads a chunk an older gateway sent as base64 (a rolling deploy)", () => {
    const legacy = { kind: 'push', message: { ...SERVER_EXAMPLES.file_data, data_b64: Buffer.from('hello').toString('base64') }, audience: { to: 'peers', peer_ids: ['bob-cli'] }, origin_node: 'old' };
    const parsed = outboundCodec.parse(legacy);
    expect(parsed.kind === 'push' && parsed.message.type === 'file_data' ? parsed.message.data_b64 : undefined).toBe('aGVsbG8=');
  });

  it('refuses bytes beside anything but a file_data push without data in its JSON', () => {
    const typing = { kind: 'push', message: SERVER_EXAMPLES.file_manifest, audience: { to: 'session' }, origin_node: 'node-a' };
    expect(() => outboundCodec.parse(typing, Uint8Array.of(1))).toThrow(/only a file_data push/);
    const both = { kind: 'push', message: { ...SERVER_EXAMPLES.file_data, data_b64: 'AQ==' }, audience: { to: 'peers', peer_ids: ['bob-cli'] }, origin_node: 'node-a' };
    expect(() => outboundCodec.parse(both, Uint8Array.of(1))).toThrow(/only a file_data push/);
  });
});
