import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { createInviteBodySchema, createSessionBodySchema } from './rest';
import { createTemplateBodySchema, updateSessionBodySchema } from './rest-session-admin';
import { parseSessionEventBody } from './session-events';
import { refusalForMembers, type AccessRefusedPayload } from './session-events-admin';

// docs/session-admin.md must not drift from the code: every JSON example marked with the schema (or the event
// type) it shows parses as that.

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'session-admin.md'), 'utf8');
const SCHEMAS: Record<string, z.ZodType> = { updateSessionBodySchema, createInviteBodySchema, createTemplateBodySchema, createSessionBodySchema };

function marked(kind: 'schema' | 'event' | 'member-view'): Array<{ name: string; json: unknown }> {
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

  it('shows the members\' view of the REST refusal it shows: refusalForMembers of it, and a valid payload', () => {
    const [member] = marked('member-view');
    expect(member.name).toBe('access_refused');
    expect(parseSessionEventBody('access_refused', member.json).ok).toBe(true);
    const recorded = marked('event').find((e) => e.name === 'access_refused' && (e.json as AccessRefusedPayload).action === 'document.history');
    expect(refusalForMembers(recorded?.json as AccessRefusedPayload)).toEqual(member.json);
  });
});
