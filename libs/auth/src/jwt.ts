import { createHmac, timingSafeEqual } from 'node:crypto';

// Compact HS256 JWTs on node:crypto: the join tokens the session service mints for the gateway, and dev access
// tokens. Access tokens are verified by AccessTokenVerifier (jose: HS256 or an identity provider's JWKS).

export type JwtClaims = Record<string, unknown> & { iat: number; exp: number };

/** Why a token was refused: said to the client (never the token itself), counted by the gateway. */
export type TokenRefusal = 'malformed' | 'bad_signature' | 'expired' | 'wrong_kind' | 'bad_claims' | 'wrong_issuer' | 'wrong_audience' | 'bad_algorithm' | 'unknown_key';

export class TokenError extends Error {
  constructor(readonly reason: TokenRefusal) {
    super(`token rejected: ${reason}`);
    this.name = 'TokenError';
  }
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export interface TokenSigner {
  sign(claims: Record<string, unknown>, ttlSeconds: number, nowMs?: number): string;
}

export interface TokenVerifier {
  /** Returns the claims of a valid, unexpired token; throws TokenError otherwise. */
  verify(token: string, nowMs?: number): JwtClaims;
}

export class Hs256Tokens implements TokenSigner, TokenVerifier {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (Buffer.byteLength(secret) < 32) throw new Error('JWT secret must be at least 32 bytes');
    this.key = Buffer.from(secret);
  }

  sign(claims: Record<string, unknown>, ttlSeconds: number, nowMs = Date.now()): string {
    const iat = Math.floor(nowMs / 1000);
    const body = b64url(JSON.stringify({ ...claims, iat, exp: iat + ttlSeconds }));
    return `${HEADER}.${body}.${this.mac(`${HEADER}.${body}`)}`;
  }

  verify(token: string, nowMs = Date.now()): JwtClaims {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) throw new TokenError('malformed');
    const expected = Buffer.from(this.mac(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new TokenError('bad_signature');
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      throw new TokenError('malformed');
    }
    if (typeof claims !== 'object' || claims === null) throw new TokenError('malformed');
    const { exp, iat } = claims as { exp?: unknown; iat?: unknown };
    if (typeof exp !== 'number' || typeof iat !== 'number') throw new TokenError('bad_claims');
    if (exp * 1000 <= nowMs) throw new TokenError('expired');
    return claims as JwtClaims;
  }

  private mac(input: string): string {
    return createHmac('sha256', this.key).update(input).digest('base64url');
  }
}
