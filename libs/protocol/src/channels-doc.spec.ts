import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILT_IN_CHANNELS } from './channels';
import { parseClientMessage } from './validate';

// docs/protocol.md's Channels section documents every built-in channel (and custom ones) with a `publish` whose
// data its schema accepts, so the documented shapes cannot drift from libs/protocol.

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'protocol.md'), 'utf8');

function channelSections(): Map<string, string[]> {
  const start = doc.indexOf('\n## Channels\n');
  if (start < 0) throw new Error('docs/protocol.md has no "## Channels" section');
  const body = doc.slice(start + 13).split(/\n## /)[0];
  const out = new Map<string, string[]>();
  for (const part of body.split(/\n### /).slice(1)) {
    const name = /^`([^`]+)`/.exec(part)?.[1];
    if (name) out.set(name, [...part.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]));
  }
  return out;
}

describe('docs/protocol.md Channels', () => {
  const sections = channelSections();

  it('documents every built-in channel and custom channels, each with a publish its schema accepts', () => {
    expect([...sections.keys()].sort()).toEqual([...Object.keys(BUILT_IN_CHANNELS), 'x-<name>'].sort());
    for (const [name, examples] of sections) {
      expect({ name, examples: examples.length > 0 }).toEqual({ name, examples: true });
      for (const json of examples) {
        const parsed = parseClientMessage('publish', JSON.parse(json));
        expect({ name, result: parsed.ok ? 'ok' : parsed.error.message }).toEqual({ name, result: 'ok' });
        const channel = parsed.ok && parsed.value.type === 'publish' ? parsed.value.channel : '';
        expect(name === 'x-<name>' ? channel.startsWith('x-') : channel === name).toBe(true);
      }
    }
  });

  it('would refuse data of the wrong shape for each built-in channel (the examples are not vacuous)', () => {
    for (const name of Object.keys(BUILT_IN_CHANNELS)) {
      const parsed = parseClientMessage('publish', { session_id: '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d', channel: name, data: { unexpected: true } });
      expect({ name, code: parsed.ok ? 'ok' : parsed.error.code }).toEqual({ name, code: 'VALIDATION_ERROR' });
    }
  });
});
