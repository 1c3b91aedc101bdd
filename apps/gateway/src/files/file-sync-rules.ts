import { resolveFileAccess, authorizeFile, type FilePrincipal, type Identity } from '@chorus/auth';
import { ChorusError, type PresenceView, type StoredFileRule } from '@chorus/protocol';
import type { GatewayDeps } from '../socket/connection';

/**
 * Per-file path rules applied to project file sync (docs/files.md, "File sync"): the same rules and the same
 * resolution (`resolveFileAccess`) as the document actions, at three places —
 *  - a guest's `request_files`: every path must be readable by the guest, checked before anything else (the
 *    host, the offer, the cache): a cached blob never answers a path the guest may not read;
 *  - a host's `file_manifest`: the guest is sent only the entries both the host and the guest may read, and how
 *    many others were withheld (a count, never their names);
 *  - a host's chunk: re-checked against the rules in force now (they may have changed since the manifest).
 */
/** Whether `principal` may read `path` under `rules` (read or edit access: anything but `none`). */
export function mayRead(rules: readonly StoredFileRule[], principal: FilePrincipal, path: string): boolean {
  return resolveFileAccess(rules, principal, path).access !== 'none';
}

/**
 * Throws PERMISSION_DENIED naming the rule (detail `rule`, field `file_paths`, `paths`: the refused ones among
 * `paths`, at most 100) unless `principal` may read every one of `paths`.
 */
export function requireReadable(rules: readonly StoredFileRule[], principal: FilePrincipal, paths: readonly string[]): void {
  if (rules.length === 0) return;
  const refused = paths.filter((p) => !mayRead(rules, principal, p));
  if (refused.length === 0) return;
  try {
    authorizeFile(rules, principal, refused[0], 'read');
  } catch (err) {
    const e = ChorusError.from(err);
    const more = refused.length > 1 ? ` (${refused.length - 1} more requested path(s) are refused too)` : '';
    throw new ChorusError(e.code, `${e.message}${more}`, { ...e.details, field: 'file_paths', paths: refused.slice(0, 100) });
  }
  // authorizeFile agrees with resolveFileAccess: unreachable, but fail closed all the same.
  throw new ChorusError('PERMISSION_DENIED', `You may not read ${refused[0]}.`, { field: 'file_paths', paths: refused.slice(0, 100) });
}

/**
 * Who another peer of a session is, for the rules: its user id (presence) and its role (the session's
 * participants). Cached per session for `maxAgeMs` (5 s, like the rules' copy): a manifest and the chunks that
 * follow cost one look-up, and a role change takes effect within that bound for chunks already under way (a new
 * manifest after `role_changed` is checked against the new role once the copy expired).
 */
export class PeerPrincipals {
  private readonly roles = new Map<string, { at: number; byUser: Promise<Map<string, FilePrincipal['role']>> }>();

  constructor(
    private readonly maxAgeMs = 5_000,
    private readonly maxSessions = 10_000,
  ) {}

  /**
   * The principal of `peerId` (null: not in the session now, or no longer a participant — nothing is readable
   * for it). `actor` is the caller's identity (the session service checks it may list participants); `peers`: a
   * presence list already read, if any.
   */
  async of(deps: Pick<GatewayDeps, 'presence' | 'sessions'>, sessionId: string, peerId: string, actor: Identity, peers?: readonly PresenceView[]): Promise<FilePrincipal | null> {
    const list = peers ?? (await deps.presence.call('presence.who', { session_id: sessionId }));
    const userId = list.find((p) => p.peer_id === peerId)?.user_id;
    if (userId === undefined) return null;
    const role = (await this.rolesOf(deps, sessionId, actor)).get(userId);
    return role === undefined ? null : { role, user_id: userId };
  }

  private rolesOf(deps: Pick<GatewayDeps, 'sessions'>, sessionId: string, actor: Identity): Promise<Map<string, FilePrincipal['role']>> {
    const now = Date.now();
    const hit = this.roles.get(sessionId);
    if (hit && now - hit.at < this.maxAgeMs) return hit.byUser;
    if (this.roles.size >= this.maxSessions) this.roles.delete(this.roles.keys().next().value as string);
    const byUser = deps.sessions.call('participant.list', { actor, session_id: sessionId }).then((list) => new Map(list.map((p) => [p.user_id, p.role])));
    const entry = { at: now, byUser };
    this.roles.set(sessionId, entry);
    // A failed look-up is not kept: the next manifest asks again (this one fails with the error).
    byUser.catch(() => {
      if (this.roles.get(sessionId) === entry) this.roles.delete(sessionId);
    });
    return byUser;
  }

  /** A role changed or a participant left: the next look-up reads the participants again. */
  invalidate(sessionId: string): void {
    this.roles.delete(sessionId);
  }
}
