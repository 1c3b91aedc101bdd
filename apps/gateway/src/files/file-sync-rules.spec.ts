import { ChorusError, type StoredFileRule } from '@chorus/protocol';
import { mayRead, requireReadable } from './file-sync-rules';

// The path rules as file sync applies them (docs/files.md, "File sync under the rules"): read access per path,
// and the refusal of a request naming the rule, the field and the refused paths only.

const rules: StoredFileRule[] = [
  { name: 'infra-hidden-from-bob', pattern: 'infra/**', user_id: 'bob', access: 'none' },
  { name: 'secrets-hidden-viewers', pattern: 'secrets/**', role: 'viewer', access: 'none' },
  { name: 'docs-readonly-agents', pattern: 'docs/**', role: 'agent', access: 'read' },
];
const bob = { role: 'editor' as const, user_id: 'bob' };
const vic = { role: 'viewer' as const, user_id: 'vic' };
const bot = { role: 'agent' as const, user_id: 'bot' };

it('reads what no rule hides, read-only paths included; not what a rule makes `none`', () => {
  expect(mayRead(rules, bob, 'src/main.ts')).toBe(true);
  expect(mayRead(rules, bob, 'infra/main.tf')).toBe(false);
  expect(mayRead(rules, vic, 'infra/main.tf')).toBe(true);
  expect(mayRead(rules, vic, 'secrets/key.pem')).toBe(false);
  expect(mayRead(rules, bot, 'docs/readme.md')).toBe(true);
});

it('refuses a request naming the first refused path\'s rule, listing only the refused paths', () => {
  requireReadable(rules, bob, ['src/a.ts', 'docs/b.md']);
  requireReadable([], bob, ['infra/main.tf']);
  let err: unknown;
  try {
    requireReadable(rules, bob, ['src/a.ts', 'infra/main.tf', 'infra/vars.tf']);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ChorusError);
  const e = err as ChorusError;
  expect(e.code).toBe('PERMISSION_DENIED');
  expect(e.details).toEqual({ field: 'file_paths', rule: 'infra-hidden-from-bob', paths: ['infra/main.tf', 'infra/vars.tf'] });
  expect(e.message).toMatch(/^File rule "infra-hidden-from-bob" .* infra\/main\.tf.*\(1 more requested path\(s\) are refused too\)$/);
});

it('lists at most 100 refused paths', () => {
  const paths = Array.from({ length: 150 }, (_, i) => `infra/f${i}.tf`);
  const err = (() => {
    try {
      requireReadable(rules, bob, paths);
    } catch (e) {
      return e as ChorusError;
    }
    return undefined;
  })();
  expect(err?.details.paths).toEqual(paths.slice(0, 100));
  expect(err?.message).toContain('149 more requested path(s)');
});
