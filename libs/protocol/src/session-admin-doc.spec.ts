import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { createInviteBodySchema, createSessionBodySchema } from './rest';
import { createTemplateBodySchema, updateSessionBodySchema } from './rest-session-admin';
import { parseSessionEventBody } from './session-events';

// docs/session-admin.md must not drift from the code: every JSON example marked with the schema (or the event
// type) it shows parses as that.

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'session-admin.md'), 'utf8');
const SCHEMAS: Record<string, z.ZodType> = { updateSessionBodySchema, createInviteBodySchema, createTemplateBodySchema, createSessionBodySchema };

function marked(kind: 'schema' | 'event'): Array<{ name: string; json: unknown }> {
  return [...doc.matchAll(new RegExp(`<!-- ${kind}: ([A-Za-z_]+) -->\\n\`\`\`json\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => ({ name: m[1], json: JSON.parse(m[2]) as unknown }));
}

describe('docs/session-admin.md', () => {
  it('has request bodies that validate against their schemas', () => {
    const examples = marked('schema');
    expect(examples.map((e) => e.name).sort()).toEqual(Object.keys(SCHEMAS).sort());
    for (const { name, json } of examples) {
      const parsed = SCHEMAS[name].safeParse(json);
      expect({ name, ok: parsed.success ? true : parsed.error.message }).toEqual({ name, ok: true });
    }
  });

  it('has event payloads that parse as their event type', () => {
    const examples = marked('event');
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const { name, json } of examples) {
      const parsed = parseSessionEventBody(name, json);
      expect({ name, ok: parsed.ok ? true : parsed.reason }).toEqual({ name, ok: true });
    }
  });
});
