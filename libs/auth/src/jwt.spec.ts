import { Hs256Tokens, TokenError } from './jwt';
import { IdentityTokens } from './identity';
import { hashPassword, hashToken, inviteCodePattern, newInviteCode, newSecretToken, verifyPassword } from './secrets';

const keys = new Hs256Tokens('k'.repeat(40));
const ids = new IdentityTokens(keys, keys);

describe('tokens', () => {
  it('round-trips access and join tokens and keeps them apart', () => {
    const access = ids.mintAccess({ user_id: 'u1', display_name: 'U', kind: 'agent' }, 60);
    expect(ids.verifyAccess(access)).toEqual({ user_id: 'u1', display_name: 'U', kind: 'agent' });
    expect(() => ids.verifyJoin(access)).toThrow(TokenError);
    const join = ids.mintJoin({ user_id: 'u1', display_name: 'U', kind: 'human', session_id: '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d', role: 'editor' }, 60);
    expect(ids.verifyJoin(join)).toMatchObject({ role: 'editor' });
    expect(() => ids.verifyAccess(join)).toThrow(TokenError);
  });

  it('rejects expired, tampered and foreign-key tokens', () => {
    const t = keys.sign({ sub: 'x' }, 10, Date.now() - 60_000);
    expect(() => keys.verify(t)).toThrow(expect.objectContaining({ reason: 'expired' }));
    const good = keys.sign({ sub: 'x' }, 60);
    const [h, , s] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', iat: 1, exp: 9e9 })).toString('base64url')}.${s}`;
    expect(() => keys.verify(tampered)).toThrow(expect.objectContaining({ reason: 'bad_signature' }));
    expect(() => new Hs256Tokens('z'.repeat(40)).verify(good)).toThrow(expect.objectContaining({ reason: 'bad_signature' }));
    expect(() => keys.verify('garbage')).toThrow(expect.objectContaining({ reason: 'malformed' }));
    expect(() => new Hs256Tokens('short')).toThrow();
  });
});

describe('secrets', () => {
  it('hashes passwords with scrypt and verifies them', async () => {
    const stored = await hashPassword('s3cret-pass');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(stored).not.toContain('s3cret-pass');
    expect(await verifyPassword('s3cret-pass', stored)).toBe(true);
    expect(await verifyPassword('wrong', stored)).toBe(false);
    expect(await verifyPassword('x', 'md5$abc')).toBe(false);
  });

  it('makes unguessable tokens (≥128 bits) and readable codes', () => {
    expect(Buffer.from(newSecretToken(), 'base64url').length * 8).toBeGreaterThanOrEqual(128);
    expect(hashToken('a')).toHaveLength(64);
    const codes = new Set(Array.from({ length: 200 }, () => newInviteCode()));
    expect(codes.size).toBeGreaterThan(195);
    for (const c of codes) expect(c).toMatch(inviteCodePattern);
  });
});
