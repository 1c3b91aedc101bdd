import { z } from 'zod';
import { displayNameSchema, participantKindSchema, roleSchema, sessionIdSchema, userIdSchema, type ParticipantKind, type Role } from '@chorus/protocol';
import { TokenError, type TokenSigner, type TokenVerifier } from './jwt';

/** Who is calling: from an access token (REST `Authorization: Bearer`, Socket.IO handshake `auth.token`). */
export interface Identity {
  readonly user_id: string;
  readonly display_name: string;
  readonly kind: ParticipantKind;
  /**
   * Set on an agent credential (docs/agents.md): the one session this identity may act in. Elsewhere it is
   * refused as if it were not a participant, and it cannot create sessions.
   */
  readonly session_scope?: string;
}

/** What a join token grants: one user, one session, one role, for a few minutes. */
export interface JoinGrant extends Identity {
  readonly session_id: string;
  readonly role: Role;
}

/**
 * The claim of an agent credential's session (Identity.session_scope). Not `scope`: OAuth providers put their
 * space-separated scopes there.
 */
export const SESSION_SCOPE_CLAIM = 'chorus_sid';

const accessClaims = z.object({ typ: z.literal('access'), sub: userIdSchema, name: displayNameSchema, kind: participantKindSchema, chorus_sid: sessionIdSchema.optional() });
const joinClaims = accessClaims.extend({ typ: z.literal('join'), sid: sessionIdSchema, role: roleSchema });

export class IdentityTokens {
  constructor(
    private readonly signer: TokenSigner,
    private readonly verifier: TokenVerifier,
  ) {}

  /** `audience`: the `iss` and `aud` the verifier checks when AUTH_ISSUER / AUTH_AUDIENCE are set. */
  mintAccess(identity: Identity, ttlSeconds: number, audience: { iss?: string | undefined; aud?: readonly string[] | undefined } = {}): string {
    const extra = { ...(audience.iss !== undefined ? { iss: audience.iss } : {}), ...(audience.aud !== undefined && audience.aud.length > 0 ? { aud: [...audience.aud] } : {}) };
    const scope = identity.session_scope !== undefined ? { [SESSION_SCOPE_CLAIM]: identity.session_scope } : {};
    return this.signer.sign({ typ: 'access', sub: identity.user_id, name: identity.display_name, kind: identity.kind, ...extra, ...scope }, ttlSeconds);
  }

  mintJoin(grant: JoinGrant, ttlSeconds: number): string {
    const scope = grant.session_scope !== undefined ? { [SESSION_SCOPE_CLAIM]: grant.session_scope } : {};
    return this.signer.sign({ typ: 'join', sub: grant.user_id, name: grant.display_name, kind: grant.kind, sid: grant.session_id, role: grant.role, ...scope }, ttlSeconds);
  }

  /** Throws TokenError for anything but a valid access token. */
  verifyAccess(token: string): Identity {
    const parsed = accessClaims.safeParse(this.verifier.verify(token));
    if (!parsed.success) throw new TokenError('wrong_kind');
    const d = parsed.data;
    return { user_id: d.sub, display_name: d.name, kind: d.kind, ...(d.chorus_sid !== undefined ? { session_scope: d.chorus_sid } : {}) };
  }

  /** Throws TokenError for anything but a valid join token. */
  verifyJoin(token: string): JoinGrant {
    const parsed = joinClaims.safeParse(this.verifier.verify(token));
    if (!parsed.success) throw new TokenError('wrong_kind');
    const c = parsed.data;
    return { user_id: c.sub, display_name: c.name, kind: c.kind, session_id: c.sid, role: c.role, ...(c.chorus_sid !== undefined ? { session_scope: c.chorus_sid } : {}) };
  }
}
