import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isClientMessageType } from './registry';
import { parseClientMessage } from './validate';

// docs/file-sync.md must not drift from the code: its JSON examples are client messages that validate.

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'file-sync.md'), 'utf8');

it('has examples that validate as the client messages they show', () => {
  const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]) as { type: string });
  expect(examples.length).toBeGreaterThan(0);
  const results = examples.map((e) => {
    if (!isClientMessageType(e.type)) return `unknown type ${e.type}`;
    const parsed = parseClientMessage(e.type, e);
    return parsed.ok ? 'ok' : parsed.error.message;
  });
  expect(results).toEqual(examples.map(() => 'ok'));
});
