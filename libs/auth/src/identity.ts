import { z } from 'zod';
import { displayNameSchema, participantKindSchema, roleSchema, sessionIdSchema, userIdSchema, type ParticipantKind, type Role } from '@chorus/protocol';
import { TokenError, type TokenSigner, type TokenVerifier } from './jwt';

/** Who is calling: from an access token (REST `Authorization: Bearer`, Socket.IO handshake `auth.token`). */
export interface Identity {
  readonly user_id: string;
  readonly display_name: string;
  readonly kind: ParticipantKind;
}

/** What a join token grants: one user, one session, one role, for a few minutes. */
export interface JoinGrant extends Identity {
  readonly session_id: string;
  readonly role: Role;
}

const accessClaims = z.object({ typ: z.literal('access'), sub: userIdSchema, name: displayNameSchema, kind: participantKindSchema });
const joinClaims = accessClaims.extend({ typ: z.literal('join'), sid: sessionIdSchema, role: roleSchema });

export class IdentityTokens {
  constructor(
    private readonly signer: TokenSigner,
    private readonly verifier: TokenVerifier,
  ) {}

  /** `audience`: the `iss` and `aud` the verifier checks when AUTH_ISSUER / AUTH_AUDIENCE are set. */
  mintAccess(identity: Identity, ttlSeconds: number, audience: { iss?: string | undefined; aud?: readonly string[] | undefined } = {}): string {
    const extra = { ...(audience.iss !== undefined ? { iss: audience.iss } : {}), ...(audience.aud !== undefined && audience.aud.length > 0 ? { aud: [...audience.aud] } : {}) };
    return this.signer.sign({ typ: 'access', sub: identity.user_id, name: identity.display_name, kind: identity.kind, ...extra }, ttlSeconds);
  }

  mintJoin(grant: JoinGrant, ttlSeconds: number): string {
    return this.signer.sign({ typ: 'join', sub: grant.user_id, name: grant.display_name, kind: grant.kind, sid: grant.session_id, role: grant.role }, ttlSeconds);
  }

  /** Throws TokenError for anything but a valid access token. */
  verifyAccess(token: string): Identity {
    const parsed = accessClaims.safeParse(this.verifier.verify(token));
    if (!parsed.success) throw new TokenError('wrong_kind');
    return { user_id: parsed.data.sub, display_name: parsed.data.name, kind: parsed.data.kind };
  }

  /** Throws TokenError for anything but a valid join token. */
  verifyJoin(token: string): JoinGrant {
    const parsed = joinClaims.safeParse(this.verifier.verify(token));
    if (!parsed.success) throw new TokenError('wrong_kind');
    const c = parsed.data;
    return { user_id: c.sub, display_name: c.name, kind: c.kind, session_id: c.sid, role: c.role };
  }
}
