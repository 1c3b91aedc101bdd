import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { ChorusError, displayNameSchema, participantKindSchema, sessionIdSchema, userIdSchema, type ParticipantKind } from '@chorus/protocol';
import { SESSION_SCOPE_CLAIM, type Identity } from './identity';
import { TokenError } from './jwt';

/**
 * Algorithms a JWKS key set may sign with. HS* is never among them: a JWKS holds public keys, and accepting an
 * HMAC token "signed" with a public key's bytes is the classic HS/RS confusion.
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** Which claim carries what (AUTH_CLAIM_*): identity providers name them differently. */
export interface ClaimMapping {
  readonly userId: string;
  readonly displayName: string;
  readonly kind: string;
  /** The kind of a token without the kind claim. */
  readonly defaultKind: ParticipantKind;
}

export const DEFAULT_CLAIMS: ClaimMapping = { userId: 'sub', displayName: 'name', kind: 'kind', defaultKind: 'human' };

/** Where the verification key comes from: our shared secret (HS256), or an identity provider's key set. */
export type AccessKeySource =
  | { readonly kind: 'hs256'; readonly secret: string }
  | {
      readonly kind: 'jwks';
      readonly url: string;
      readonly algorithms: readonly AsymmetricAlgorithm[];
      /** How long a fetched key set is used before it is fetched again. */
      readonly cacheMaxAgeMs: number;
      /** A token with an unknown `kid` refetches the key set at most this often (rotation vs. a flood of forged kids). */
      readonly cooldownMs: number;
      readonly timeoutMs: number;
    };

export interface AccessVerifierOptions {
  readonly source: AccessKeySource;
  /** `iss` must equal this, when set (always set with a JWKS). */
  readonly issuer?: string | undefined;
  /** `aud` must contain one of these, when set. */
  readonly audience?: readonly string[] | undefined;
  /** Leeway on `exp` and `nbf`, for clocks that disagree a little. */
  readonly clockSkewS: number;
  readonly claims: ClaimMapping;
}

/** A verified access token: who, and until when (a socket is closed or re-authenticated at that instant). */
export interface VerifiedAccess {
  readonly identity: Identity;
  /**
   * When this verifier stops accepting the token: its `exp` plus the clock-skew leeway. A connection closes
   * then, not at `exp` — closing earlier than a handshake would refuse lets a client with a just-expired token
   * connect, be closed at once, and reconnect in a loop for the whole leeway.
   */
  readonly expires_at_ms: number;
}

/**
 * Verifies access tokens with `jose`: HS256 with JWT_SECRET (our dev tokens and a backend-for-frontend that
 * shares the secret), or an identity provider's asymmetric keys from a JWKS URL (cached; a new `kid` refetches,
 * rate-limited). Only the configured algorithms verify — `alg: none` and HS/RS confusion never do — and `exp` is
 * required. Failures are TokenErrors with a reason; a key set that cannot be fetched is ours: UNAVAILABLE.
 */
export class AccessTokenVerifier {
  private readonly verifyJwt: (token: string, options: JWTVerifyOptions) => Promise<JWTPayload>;
  private readonly algorithms: string[];

  constructor(private readonly options: AccessVerifierOptions) {
    const source = options.source;
    if (source.kind === 'hs256') {
      if (Buffer.byteLength(source.secret) < 32) throw new Error('JWT secret must be at least 32 bytes');
      const key = new TextEncoder().encode(source.secret);
      this.algorithms = ['HS256'];
      this.verifyJwt = async (token, o) => (await jwtVerify(token, key, o)).payload;
    } else {
      if (source.algorithms.length === 0) throw new Error('A JWKS verifier needs at least one algorithm');
      const keys = createRemoteJWKSet(new URL(source.url), { cacheMaxAge: source.cacheMaxAgeMs, cooldownDuration: source.cooldownMs, timeoutDuration: source.timeoutMs });
      this.algorithms = [...source.algorithms];
      this.verifyJwt = async (token, o) => (await jwtVerify(token, keys, o)).payload;
    }
  }

  get mode(): AccessKeySource['kind'] {
    return this.options.source.kind;
  }

  async verify(token: string, nowMs = Date.now()): Promise<VerifiedAccess> {
    const { issuer, audience, clockSkewS } = this.options;
    let payload: JWTPayload;
    try {
      payload = await this.verifyJwt(token, {
        algorithms: this.algorithms,
        ...(issuer !== undefined ? { issuer } : {}),
        ...(audience !== undefined && audience.length > 0 ? { audience: [...audience] } : {}),
        clockTolerance: clockSkewS,
        currentDate: new Date(nowMs),
        requiredClaims: ['exp'],
      });
    } catch (err) {
      throw tokenErrorOf(err);
    }
    // Our own HS256 secret also signs join tokens: only `typ: "access"` is an access token there.
    if (this.options.source.kind === 'hs256' && payload.typ !== 'access') throw new TokenError('wrong_kind');
    return { identity: this.identityOf(payload), expires_at_ms: ((payload.exp as number) + clockSkewS) * 1000 };
  }

  private identityOf(payload: JWTPayload): Identity {
    const claims = this.options.claims;
    const user = userIdSchema.safeParse(payload[claims.userId]);
    if (!user.success) throw new TokenError('bad_claims');
    // A provider without a display-name claim: the user id stands in (docs/identity.md).
    const rawName = payload[claims.displayName];
    const name = displayNameSchema.safeParse(rawName === undefined ? user.data.slice(0, 100) : rawName);
    if (!name.success) throw new TokenError('bad_claims');
    const rawKind = payload[claims.kind];
    const kind = participantKindSchema.safeParse(rawKind === undefined ? claims.defaultKind : rawKind);
    if (!kind.success) throw new TokenError('bad_claims');
    // An agent credential (docs/agents.md): acts in this one session only. A malformed scope is refused, never
    // dropped — dropping it would widen the token.
    const rawScope = payload[SESSION_SCOPE_CLAIM];
    const scope = rawScope === undefined ? undefined : sessionIdSchema.safeParse(rawScope);
    if (scope !== undefined && !scope.success) throw new TokenError('bad_claims');
    return { user_id: user.data, display_name: name.data, kind: kind.data, ...(scope?.success ? { session_scope: scope.data } : {}) };
  }
}

/** jose's failures → our reasons. Anything that is not about the token (the key set unreachable) is UNAVAILABLE. */
function tokenErrorOf(err: unknown): Error {
  if (err instanceof errors.JWTExpired) return new TokenError('expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return new TokenError('wrong_issuer');
    if (err.claim === 'aud') return new TokenError('wrong_audience');
    return new TokenError('bad_claims');
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return new TokenError('bad_algorithm');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenError('bad_signature');
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenError('unknown_key');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JWKSMultipleMatchingKeys) return new TokenError('malformed');
  return new ChorusError('UNAVAILABLE', `The identity provider's signing keys could not be fetched (${(err as Error)?.message ?? String(err)}); retry shortly.`, { retry_after_ms: 1_000 });
}
