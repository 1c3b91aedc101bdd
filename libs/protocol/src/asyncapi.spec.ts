import { buildAsyncApiDocument } from './asyncapi';
import { CLIENT_MESSAGES, SERVER_MESSAGES } from './registry';
import { parseClientMessage } from './validate';
import { CLIENT_EXAMPLES } from './examples';

// The AsyncAPI 3 document is generated from the registry: every message type is in it, every reference
// resolves, and the payload schemas describe what the validators accept.

const doc = buildAsyncApiDocument();

/** Resolves a local JSON pointer (#/a/b/c) in the document, or undefined. */
function resolve(ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), doc);
}

function refsIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refsIn(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && !v.startsWith('#/$defs') && !v.startsWith('#/definitions')) out.push(v);
      else if (k !== 'payload') refsIn(v, out);
    }
  }
  return out;
}

describe('AsyncAPI document', () => {
  it('is AsyncAPI 3.0.0 with the protocol version and both transports', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(Object.keys(doc.servers).sort()).toEqual(['socketio', 'ws']);
    expect(doc.channels.ws.address).toBe('/ws');
    expect(doc.channels.socketio.address).toBe('/socket.io/');
  });

  it('has every client and server message, and an operation with the right reply for each request on each transport', () => {
    for (const type of Object.keys(CLIENT_MESSAGES) as (keyof typeof CLIENT_MESSAGES)[]) {
      expect(doc.components.messages[`client.${type}`]?.name).toBe(type);
      for (const channel of ['socketio', 'ws']) {
        const op = doc.operations[`${channel}.${type}`];
        expect(op?.action).toBe('receive');
        expect(op?.reply?.messages.map((m) => m.$ref)).toEqual([`#/channels/${channel}/messages/server.${CLIENT_MESSAGES[type].reply}`, `#/channels/${channel}/messages/server.error`]);
      }
    }
    for (const type of Object.keys(SERVER_MESSAGES)) expect(doc.components.messages[`server.${type}`]?.name).toBe(type);
  });

  it('every $ref resolves (operations → channels → components)', () => {
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(100);
    expect(refs.filter((r) => resolve(r) === undefined)).toEqual([]);
    // Operation messages must be messages of the operation's channel (AsyncAPI 3 rule).
    for (const op of Object.values(doc.operations)) {
      for (const m of [...op.messages, ...(op.reply?.messages ?? [])]) expect(m.$ref.startsWith(`${op.channel.$ref}/messages/`)).toBe(true);
    }
  });

  it('payload schemas say what the validators check: the type tag, required fields, closed objects', () => {
    const join = doc.components.messages['client.join'].payload as { type: string; properties: Record<string, { const?: string }>; required: string[]; additionalProperties?: boolean };
    expect(join.type).toBe('object');
    expect(join.required).toEqual(expect.arrayContaining(['session_id']));
    // The payload of every documented example validates, and its schema lists each of its fields.
    for (const [type, example] of Object.entries(CLIENT_EXAMPLES)) {
      expect(parseClientMessage(type as keyof typeof CLIENT_MESSAGES, example).ok).toBe(true);
      const props = Object.keys((doc.components.messages[`client.${type}`].payload as { properties?: object }).properties ?? {});
      expect(props).toEqual(expect.arrayContaining(Object.keys(example as object)));
    }
  });

  it('is plain JSON (serves as is)', () => {
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});
