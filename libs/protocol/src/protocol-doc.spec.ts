import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_MESSAGES, SERVER_MESSAGES } from './registry';
import { ERROR_CODES } from './errors';
import { isClientMessageType } from './registry';
import { parseClientMessage, parseServerMessageStrict } from './validate';
import { wsAuthSchema } from './ws';

// docs/protocol.md must not drift from the code: every message has a section, every example in it
// validates against the schema of its section, and every error code is in the error table.

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'protocol.md'), 'utf8');

function sections(heading: string): Map<string, string[]> {
  const start = doc.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/protocol.md has no "## ${heading}" section`);
  const rest = doc.slice(start + heading.length + 5);
  const body = rest.split(/\n## /)[0];
  const result = new Map<string, string[]>();
  for (const part of body.split(/\n### /).slice(1)) {
    const name = /^`([a-z_]+)`/.exec(part)?.[1];
    if (!name) continue;
    const examples = [...part.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);
    result.set(name, examples);
  }
  return result;
}

describe('docs/protocol.md', () => {
  const client = sections('Client messages');
  const server = sections('Server messages');

  it('documents every client message with a valid example', () => {
    for (const type of Object.keys(CLIENT_MESSAGES)) {
      const examples = client.get(type);
      expect({ type, documented: examples !== undefined && examples.length > 0 }).toEqual({ type, documented: true });
      for (const json of examples ?? []) {
        const parsed = parseClientMessage(type, JSON.parse(json));
        expect({ type, result: parsed.ok ? 'ok' : parsed.error.message }).toEqual({ type, result: 'ok' });
      }
    }
  });

  it('documents every server message with a valid example', () => {
    for (const type of Object.keys(SERVER_MESSAGES)) {
      const examples = server.get(type);
      expect({ type, documented: examples !== undefined && examples.length > 0 }).toEqual({ type, documented: true });
      for (const json of examples ?? []) {
        const parsed = parseServerMessageStrict(JSON.parse(json));
        expect({ type, result: parsed.ok ? parsed.value.type : parsed.error.message }).toEqual({ type, result: type });
      }
    }
  });

  it('documents no message that does not exist', () => {
    expect([...client.keys()].filter((t) => !(t in CLIENT_MESSAGES))).toEqual([]);
    expect([...server.keys()].filter((t) => !(t in SERVER_MESSAGES))).toEqual([]);
  });

  it('has /ws frames that validate: client frames as their message (or auth), server frames strictly', () => {
    const start = doc.indexOf('\n## Plain WebSocket (/ws)\n');
    expect(start).toBeGreaterThan(0);
    const section = doc.slice(start + 1).split(/\n## /)[0];
    const examples = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]) as { type: string });
    expect(examples.length).toBeGreaterThanOrEqual(5);
    const results = examples.map((frame) => {
      // A frame is a client message when the server may receive it: its type is one of them and it is not a reply.
      if (frame.type === 'auth') return wsAuthSchema.safeParse(frame).success ? 'ok' : 'auth invalid';
      const asServer = parseServerMessageStrict(frame);
      if (asServer.ok) return 'ok';
      if (isClientMessageType(frame.type)) {
        const asClient = parseClientMessage(frame.type, frame);
        return asClient.ok ? 'ok' : asClient.error.message;
      }
      return asServer.error.message;
    });
    expect(results).toEqual(examples.map(() => 'ok'));
  });

  it('lists every error code with its HTTP status and retryability', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(doc).toContain(`| \`${code}\` | ${spec.http} | ${spec.retryable ? 'yes' : 'no'} |`);
    }
  });
});
