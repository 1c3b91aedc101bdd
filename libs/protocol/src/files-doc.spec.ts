import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { conflictListSchema, fileRulesBodySchema, fileRulesViewSchema } from './messages-files';
import { isClientMessageType } from './registry';
import { parseClientMessage, parseServerMessageStrict } from './validate';

// docs/files.md must not drift from the code: every JSON example in it validates against the schema it shows —
// a client message, a server message (strictly), a REST body or a REST answer.

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'files.md'), 'utf8');
const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]) as Record<string, unknown>);

function check(example: Record<string, unknown>): string {
  if (typeof example.type === 'string') {
    const asServer = parseServerMessageStrict(example);
    if (asServer.ok) return 'ok';
    if (isClientMessageType(example.type)) {
      const asClient = parseClientMessage(example.type, example);
      return asClient.ok ? 'ok' : asClient.error.message;
    }
    return asServer.error.message;
  }
  const schema = 'conflicts' in example ? conflictListSchema : 'session_id' in example ? fileRulesViewSchema : fileRulesBodySchema;
  const parsed = schema.safeParse(example);
  return parsed.success ? 'ok' : parsed.error.message;
}

it('every example in docs/files.md validates', () => {
  expect(examples.length).toBeGreaterThanOrEqual(8);
  expect(examples.map(check)).toEqual(examples.map(() => 'ok'));
});

it('shows each message of the feature at least once', () => {
  const types = new Set(examples.map((e) => e.type));
  for (const type of ['close_document', 'document_closed', 'resolve_conflict', 'conflict_resolved', 'error']) expect({ type, shown: types.has(type) }).toEqual({ type, shown: true });
});
