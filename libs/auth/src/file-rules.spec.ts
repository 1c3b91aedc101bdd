import { ChorusError, fileRulesBodySchema } from '@chorus/protocol';
import { authorizeFile, matchesGlob, normalizeFileRules, resolveFileAccess } from './file-rules';

// Per-file permissions: glob matching, which rule decides, that rules only narrow the role, and the refusal names
// the rule (docs/files.md).

describe('matchesGlob', () => {
  it.each([
    ['docs/**', 'docs/a.md', true],
    ['docs/**', 'docs/deep/er/b.md', true],
    ['docs/**', 'docs', true],
    ['docs/**', 'src/docs/a.md', false],
    ['**/*.md', 'README.md', true],
    ['**/*.md', 'a/b/c.md', true],
    ['**/*.md', 'a/b/c.mdx', false],
    ['*.tf', 'main.tf', true],
    ['*.tf', 'infra/main.tf', false],
    ['infra/*.tf', 'infra/main.tf', true],
    ['src/?.rs', 'src/a.rs', true],
    ['src/?.rs', 'src/ab.rs', false],
    ['src/**/test/*', 'src/x/y/test/a.ts', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
  ])('%s ~ %s → %s', (glob, path, expected) => {
    expect(matchesGlob(glob, path)).toBe(expected);
  });

  it('stays fast on a pathological glob (no exponential backtracking)', () => {
    const started = performance.now();
    expect(matchesGlob('**/**/**/**/**/**/**/x', 'a/'.repeat(40) + 'y')).toBe(false);
    expect(matchesGlob('*a*a*a*a*a*a*b', 'a'.repeat(200))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('resolveFileAccess / authorizeFile', () => {
  const rules = normalizeFileRules([
    { name: 'infra-readonly-agents', pattern: 'infra/**', role: 'agent', access: 'read' },
    { name: 'secrets-hidden', pattern: 'secrets/**', role: 'editor', access: 'none' },
    { pattern: 'infra/**', user_id: 'carol', access: 'edit' },
    { pattern: 'docs/**', role: 'viewer', access: 'edit' },
  ]);

  it('names unnamed rules rule-<n> and refuses duplicate names', () => {
    expect(rules.map((r) => r.name)).toEqual(['infra-readonly-agents', 'secrets-hidden', 'rule-3', 'rule-4']);
    expect(() => normalizeFileRules([{ name: 'x', pattern: 'a', role: 'agent', access: 'read' }, { name: 'x', pattern: 'b', role: 'agent', access: 'read' }])).toThrow(/named "x"/);
  });

  it('a role rule narrows: an agent reads infra/ but may not edit it; other paths follow the role', () => {
    expect(resolveFileAccess(rules, { role: 'agent', user_id: 'bot' }, 'infra/main.tf')).toMatchObject({ access: 'read', rule: { name: 'infra-readonly-agents' } });
    expect(resolveFileAccess(rules, { role: 'agent', user_id: 'bot' }, 'src/main.rs')).toEqual({ access: 'edit', rule: null });
    expect(resolveFileAccess(rules, { role: 'editor', user_id: 'bob' }, 'infra/main.tf')).toEqual({ access: 'edit', rule: null });
  });

  it('a participant rule wins over a role rule; a rule never widens the role (a viewer stays read-only)', () => {
    expect(resolveFileAccess(rules, { role: 'agent', user_id: 'carol' }, 'infra/main.tf')).toMatchObject({ access: 'edit', rule: { name: 'rule-3' } });
    expect(resolveFileAccess(rules, { role: 'viewer', user_id: 'vic' }, 'docs/a.md')).toMatchObject({ access: 'read' });
  });

  it('refuses with PERMISSION_DENIED naming the rule (message and detail)', () => {
    const refusal = (() => {
      try {
        authorizeFile(rules, { role: 'agent', user_id: 'bot' }, 'infra/main.tf', 'edit');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(ChorusError);
    expect((refusal as ChorusError).code).toBe('PERMISSION_DENIED');
    expect((refusal as ChorusError).details).toEqual({ field: 'doc_id', rule: 'infra-readonly-agents' });
    expect((refusal as ChorusError).message).toContain('"infra-readonly-agents"');
    expect((refusal as ChorusError).toWire()).toMatchObject({ code: 'PERMISSION_DENIED', rule: 'infra-readonly-agents', field: 'doc_id' });
    expect(() => authorizeFile(rules, { role: 'editor', user_id: 'bob' }, 'secrets/key.pem', 'read')).toThrow(/"secrets-hidden"/);
    expect(() => authorizeFile(rules, { role: 'agent', user_id: 'bot' }, 'infra/main.tf', 'read')).not.toThrow();
    expect(() => authorizeFile([], { role: 'viewer', user_id: 'vic' }, 'a.txt', 'edit')).toThrow(/Role "viewer" may not edit a.txt/);
  });

  it('the REST body schema refuses a rule naming both or neither of role and user_id, and absolute or dotted globs', () => {
    expect(fileRulesBodySchema.safeParse({ rules: [{ pattern: 'a/**', access: 'read' }] }).success).toBe(false);
    expect(fileRulesBodySchema.safeParse({ rules: [{ pattern: 'a/**', role: 'agent', user_id: 'x', access: 'read' }] }).success).toBe(false);
    expect(fileRulesBodySchema.safeParse({ rules: [{ pattern: '/etc/**', role: 'agent', access: 'read' }] }).success).toBe(false);
    expect(fileRulesBodySchema.safeParse({ rules: [{ pattern: '../x', role: 'agent', access: 'read' }] }).success).toBe(false);
    expect(fileRulesBodySchema.safeParse({ rules: [{ pattern: 'infra/**', role: 'agent', access: 'read' }] }).success).toBe(true);
  });
});

describe('matchesGlob agrees with a plain recursive matcher', () => {
  // The reference: exponential in the worst case, fine on small inputs.
  const reference = (g: string[], p: string[]): boolean => {
    if (g.length === 0) return p.length === 0;
    if (g[0] === '**') return reference(g.slice(1), p) || (p.length > 0 && reference(g, p.slice(1)));
    const re = new RegExp(`^${g[0].replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'u');
    return p.length > 0 && re.test(p[0]) && reference(g.slice(1), p.slice(1));
  };
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  it('on 3,000 seeded random globs and paths', () => {
    for (let i = 0; i < 3_000; i++) {
      const glob = Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(['**', '*', 'a', 'b', 'a*', '*b', '?', 'ab', 'a?b'])).join('/');
      const path = Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(['a', 'b', 'ab', 'aab', 'ba', 'abb'])).join('/');
      const collapsed = glob.split('/').filter((s, j, all) => !(s === '**' && all[j - 1] === '**'));
      expect({ glob, path, match: matchesGlob(glob, path) }).toEqual({ glob, path, match: reference(collapsed, path.split('/')) });
    }
  });
});
