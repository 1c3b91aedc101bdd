import { z } from 'zod';
import { DISCONNECT_CODES } from './disconnect';
import { CLIENT_MESSAGES, MAX_FRAME_BYTES, SERVER_MESSAGES, type ClientMessageType, type ServerMessageType } from './registry';
import { PROTOCOL_VERSION } from './version';
import { WS_PATH, wsAuthSchema } from './ws';

// The AsyncAPI 3 description of the socket protocol, generated from the same registry and zod schemas that
// validate every message: it cannot drift from the checks. The gateway serves it at ASYNCAPI_PATH beside the
// OpenAPI document; docs/protocol.md stays the prose reference.

/** Where the gateway serves the document (the OpenAPI JSON is at /api/docs-json). */
export const ASYNCAPI_PATH = '/api/asyncapi.json';

type JsonSchema = Record<string, unknown>;
type Ref = { $ref: string };

export interface AsyncApiDocument {
  asyncapi: '3.0.0';
  info: { title: string; version: string; description: string };
  defaultContentType: string;
  servers: Record<string, { host: string; protocol: string; pathname: string; description: string }>;
  channels: Record<string, { address: string; title: string; description: string; servers: Ref[]; messages: Record<string, Ref> }>;
  operations: Record<string, { action: 'send' | 'receive'; channel: Ref; title: string; messages: Ref[]; reply?: { channel: Ref; messages: Ref[] } }>;
  components: { messages: Record<string, { name: string; title: string; contentType: string; payload: JsonSchema }> };
}

/** AsyncAPI's default schema format is a superset of JSON Schema draft 7. */
function payloadOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io, target: 'draft-7', unrepresentable: 'any' }) as JsonSchema;
  return json;
}

const msgRef = (name: string): Ref => ({ $ref: `#/components/messages/${name}` });

/**
 * @param host the public host clients connect to (the document's servers); the gateway passes its PUBLIC_URL's.
 */
export function buildAsyncApiDocument(host = 'chorus.example.com', protocol: 'ws' | 'wss' = 'wss'): AsyncApiDocument {
  const messages: AsyncApiDocument['components']['messages'] = {};
  for (const [type, spec] of Object.entries(CLIENT_MESSAGES) as [ClientMessageType, (typeof CLIENT_MESSAGES)[ClientMessageType]][]) {
    messages[`client.${type}`] = { name: type, title: `${type} (client → server, at most ${spec.maxBytes} bytes, acked with ${spec.reply})`, contentType: 'application/json', payload: payloadOf(spec.schema, 'input') };
  }
  for (const [type, schema] of Object.entries(SERVER_MESSAGES) as [ServerMessageType, z.ZodType][]) {
    messages[`server.${type}`] = { name: type, title: `${type} (server → client)`, contentType: 'application/json', payload: payloadOf(schema, 'output') };
  }
  messages['ws.auth'] = { name: 'auth', title: 'auth (/ws only: the first frame when no token came with the upgrade)', contentType: 'application/json', payload: payloadOf(wsAuthSchema, 'input') };
  messages['server.disconnect_notice'].title = `disconnect_notice (server → client, right before it closes; names: ${Object.keys(DISCONNECT_CODES).join(', ')})`;

  const all = Object.keys(messages);
  const channelMessages = (names: string[]) => Object.fromEntries(names.map((n) => [n, msgRef(n)]));
  const socketioMessages = all.filter((n) => n !== 'ws.auth');
  const channels: AsyncApiDocument['channels'] = {
    socketio: {
      address: '/socket.io/',
      title: 'Socket.IO',
      description: 'Socket.IO 4 (websocket transport). A request is `socket.emit(type, payload, ack)`: the event name is the message type and the ack carries the reply (or an `error`). Pushes arrive as events named by their type. The token goes in the handshake (`auth.token`).',
      servers: [{ $ref: '#/servers/socketio' }],
      messages: channelMessages(socketioMessages),
    },
    ws: {
      address: WS_PATH,
      title: 'Plain WebSocket',
      description: `JSON text frames of at most ${MAX_FRAME_BYTES} bytes: a request is {type, id, ...payload} and its reply carries the same id; pushes carry no id. Authenticate with an Authorization header, a ticket, or an \`auth\` first frame.`,
      servers: [{ $ref: '#/servers/ws' }],
      messages: channelMessages(all),
    },
  };
  const operations: AsyncApiDocument['operations'] = {};
  for (const channel of ['socketio', 'ws'] as const) {
    for (const [type, spec] of Object.entries(CLIENT_MESSAGES) as [ClientMessageType, (typeof CLIENT_MESSAGES)[ClientMessageType]][]) {
      operations[`${channel}.${type}`] = {
        action: 'receive',
        channel: { $ref: `#/channels/${channel}` },
        title: `The gateway receives ${type}`,
        messages: [{ $ref: `#/channels/${channel}/messages/client.${type}` }],
        reply: { channel: { $ref: `#/channels/${channel}` }, messages: [{ $ref: `#/channels/${channel}/messages/server.${spec.reply}` }, { $ref: `#/channels/${channel}/messages/server.error` }] },
      };
    }
    const pushes = all.filter((n) => n.startsWith('server.'));
    operations[`${channel}.push`] = { action: 'send', channel: { $ref: `#/channels/${channel}` }, title: 'The gateway pushes server messages', messages: pushes.map((n) => ({ $ref: `#/channels/${channel}/messages/${n}` })) };
  }
  operations['ws.auth'] = { action: 'receive', channel: { $ref: '#/channels/ws' }, title: 'The gateway receives the auth frame', messages: [{ $ref: '#/channels/ws/messages/ws.auth' }], reply: { channel: { $ref: '#/channels/ws' }, messages: [{ $ref: '#/channels/ws/messages/server.hello' }, { $ref: '#/channels/ws/messages/server.error' }] } };

  return {
    asyncapi: '3.0.0',
    info: { title: 'Chorus real-time protocol', version: String(PROTOCOL_VERSION), description: 'Generated from libs/protocol (the schemas every inbound message is validated with). Prose, limits and examples: docs/protocol.md.' },
    defaultContentType: 'application/json',
    servers: {
      socketio: { host, protocol, pathname: '/socket.io/', description: 'Socket.IO endpoint of any gateway' },
      ws: { host, protocol, pathname: WS_PATH, description: 'Plain WebSocket endpoint of any gateway' },
    },
    channels,
    operations,
    components: { messages },
  };
}
