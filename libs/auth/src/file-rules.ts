import { ChorusError, type FileAccess, type Role, type StoredFileRule } from '@chorus/protocol';
import { can } from './policy';

/**
 * Per-file permissions: path rules per role or per participant, on top of the session-wide role matrix
 * (policy.ts). Pure and framework-free, so every place that touches a file asks the same function: the gateway's
 * document handlers (open, submit_op, lock, resolve_conflict), and file-sync or any other feature that reads or
 * writes project files (`authorizeFile`). docs/files.md.
 *
 * Resolution, for a principal (its role and user id) and a path:
 *  1. the first rule naming the principal's `user_id` whose pattern matches, else
 *  2. the first rule naming its role whose pattern matches, else
 *  3. no rule: the role decides alone (`document.edit` → edit, else read).
 * A rule only narrows: the access is the lesser of the rule's and the role's (a viewer's `edit` rule still reads).
 */

export type FileAction = 'read' | 'edit';

export interface FilePrincipal {
  readonly role: Role;
  readonly user_id: string;
}

export interface FileDecision {
  readonly access: FileAccess;
  /** The rule that decided, or null when the role alone did. */
  readonly rule: StoredFileRule | null;
}

const RANK: Record<FileAccess, number> = { none: 0, read: 1, edit: 2 };

function roleAccess(role: Role): FileAccess {
  if (can(role, 'document.edit')) return 'edit';
  return can(role, 'document.read') ? 'read' : 'none';
}

/** A glob split once: its segments, and per segment whether it is a literal (no `*` or `?`). */
interface CompiledGlob {
  readonly segments: readonly string[];
  readonly literal: readonly boolean[];
  readonly globstars: number;
}

const compiled = new Map<string, CompiledGlob>();
const MAX_COMPILED = 10_000;

function compile(glob: string): CompiledGlob {
  const known = compiled.get(glob);
  if (known) return known;
  // Consecutive `**` are one.
  const segments = glob.split('/').filter((seg, i, all) => !(seg === '**' && all[i - 1] === '**'));
  const result = { segments, literal: segments.map((seg) => !/[*?]/.test(seg)), globstars: segments.filter((seg) => seg === '**').length };
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(glob, result);
  return result;
}

/** Whether `path` matches `glob` (`**` any number of segments, `*` within a segment, `?` one character). */
export function matchesGlob(glob: string, path: string): boolean {
  return matchCompiled(compile(glob), path.split('/'));
}

function segmentMatches(g: CompiledGlob, gi: number, name: string): boolean {
  return g.literal[gi] ? g.segments[gi] === name : matchSegment(g.segments[gi], name);
}

function matchCompiled(g: CompiledGlob, p: readonly string[]): boolean {
  const seg = g.segments;
  // Quick reject on a literal first segment (most rules name a directory), then a direct walk when the glob has
  // at most one `**` (linear). Several `**` go through the memo, which bounds the work by glob × path segments (a
  // hostile glob of many `**` would otherwise backtrack exponentially).
  if (seg.length > 0 && g.literal[0] && (p.length === 0 || p[0] !== seg[0])) return false;
  if (g.globstars === 0) {
    if (seg.length !== p.length) return false;
    for (let i = 0; i < seg.length; i++) if (!segmentMatches(g, i, p[i])) return false;
    return true;
  }
  if (g.globstars === 1) {
    const star = seg.indexOf('**');
    const tail = seg.length - star - 1;
    if (p.length < star + tail) return false;
    for (let i = 0; i < star; i++) if (!segmentMatches(g, i, p[i])) return false;
    for (let i = 0; i < tail; i++) if (!segmentMatches(g, star + 1 + i, p[p.length - tail + i])) return false;
    return true;
  }
  const memo = new Map<number, boolean>();
  const match = (gi: number, pi: number): boolean => {
    const k = gi * (p.length + 1) + pi;
    const known = memo.get(k);
    if (known !== undefined) return known;
    let result: boolean;
    if (gi === seg.length) result = pi === p.length;
    else if (seg[gi] === '**') result = match(gi + 1, pi) || (pi < p.length && match(gi, pi + 1));
    else result = pi < p.length && segmentMatches(g, gi, p[pi]) && match(gi + 1, pi + 1);
    memo.set(k, result);
    return result;
  };
  return match(0, 0);
}

/** One segment against `*` and `?` wildcards: linear-time greedy match with backtracking to the last `*`. */
function matchSegment(glob: string, name: string): boolean {
  const g = [...glob];
  const n = [...name];
  let gi = 0;
  let ni = 0;
  let star = -1;
  let mark = 0;
  while (ni < n.length) {
    if (gi < g.length && (g[gi] === '?' || g[gi] === n[ni])) {
      gi++;
      ni++;
    } else if (gi < g.length && g[gi] === '*') {
      star = gi++;
      mark = ni;
    } else if (star >= 0) {
      gi = star + 1;
      ni = ++mark;
    } else {
      return false;
    }
  }
  while (gi < g.length && g[gi] === '*') gi++;
  return gi === g.length;
}

/** The access `principal` has to `path` under `rules`, and the rule that decided it. */
export function resolveFileAccess(rules: readonly StoredFileRule[], principal: FilePrincipal, path: string): FileDecision {
  const base = roleAccess(principal.role);
  const segments = path.split('/');
  const matches = (r: StoredFileRule) => matchCompiled(compile(r.pattern), segments);
  const rule =
    rules.find((r) => r.user_id !== undefined && r.user_id === principal.user_id && matches(r)) ??
    rules.find((r) => r.role !== undefined && r.role === principal.role && matches(r)) ??
    null;
  if (!rule) return { access: base, rule: null };
  return { access: RANK[rule.access] < RANK[base] ? rule.access : base, rule };
}

/**
 * Throws PERMISSION_DENIED (field `doc_id`, detail `rule`) unless `principal` may `action` the file at `path`.
 * The role matrix is checked by the caller first (authorize); this adds the path rules.
 */
export function authorizeFile(rules: readonly StoredFileRule[], principal: FilePrincipal, path: string, action: FileAction): void {
  const decision = resolveFileAccess(rules, principal, path);
  if (RANK[decision.access] >= RANK[action]) return;
  const verb = action === 'edit' ? 'edit' : 'read';
  if (!decision.rule) throw new ChorusError('PERMISSION_DENIED', `Role "${principal.role}" may not ${verb} ${path}.`, { field: 'doc_id' });
  const r = decision.rule;
  const whom = r.user_id !== undefined ? `user ${r.user_id}` : `role ${r.role}`;
  throw new ChorusError('PERMISSION_DENIED', `File rule "${r.name}" (${r.pattern} is ${r.access === 'none' ? 'hidden' : `${r.access}-only`} for ${whom}) forbids you to ${verb} ${path}; ask a session owner or admin.`, {
    field: 'doc_id',
    rule: r.name,
  });
}

/** Names every rule (`rule-<n>` for those without a name) and refuses duplicate names: the stored form. */
export function normalizeFileRules(rules: ReadonlyArray<Omit<StoredFileRule, 'name'> & { name?: string }>): StoredFileRule[] {
  const seen = new Set<string>();
  return rules.map((r, i) => {
    const name = r.name ?? `rule-${i + 1}`;
    if (seen.has(name)) throw ChorusError.validation(`rules.${i}.name`, `Two rules are named "${name}"; names must be unique.`);
    seen.add(name);
    return { name, pattern: r.pattern, ...(r.role !== undefined ? { role: r.role } : {}), ...(r.user_id !== undefined ? { user_id: r.user_id } : {}), access: r.access };
  });
}
