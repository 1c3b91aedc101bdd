'use strict';
// Where a load test's access tokens come from, so it can run against a deployed cluster (DEV_TOKENS off):
//
//   1. a file of tokens (LOAD_TOKENS_FILE): CSV `user_id,token` per line, given to Artillery as its `payload`
//      by run.js (each virtual user takes the next row; Artillery's own way to hand data to VUs, on every worker);
//   2. minted here from a configured secret (LOAD_JWT_SECRET = the gateway's JWT_SECRET; LOAD_JWT_ISSUER and
//      LOAD_JWT_AUDIENCE when the gateway sets AUTH_ISSUER/AUTH_AUDIENCE): HS256 access tokens as a
//      backend-for-frontend would mint them (docs/identity.md), one user per virtual user;
//   3. the dev-token endpoint (POST /api/v1/auth/dev-token), only for DEV_TOKENS=true targets such as
//      cluster:local (the default when neither of the above is set).
const { createHmac } = require('node:crypto');

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** An HS256 access token with the claims Chorus reads (sub, name, kind, exp; iss/aud when configured). */
function mintAccessToken(secret, { userId, displayName, kind = 'human', ttlS = 3600, issuer, audience }) {
  const nowS = Math.floor(Date.now() / 1000);
  const claims = { typ: 'access', sub: userId, name: displayName, kind, iat: nowS, exp: nowS + ttlS, ...(issuer ? { iss: issuer } : {}), ...(audience ? { aud: audience } : {}) };
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** Which source this run uses, from the environment (the runner and Artillery's workers see the same). */
function tokenSource(env = process.env) {
  if (env.LOAD_TOKENS_FILE) return { kind: 'file', path: env.LOAD_TOKENS_FILE };
  if (env.LOAD_JWT_SECRET) {
    if (env.LOAD_JWT_SECRET.length < 32) throw new Error('LOAD_JWT_SECRET must be the gateway JWT_SECRET (at least 32 characters)');
    return { kind: 'mint', secret: env.LOAD_JWT_SECRET, issuer: env.LOAD_JWT_ISSUER || undefined, audience: env.LOAD_JWT_AUDIENCE || undefined };
  }
  return { kind: 'dev' };
}

/**
 * The access token of a virtual user: the payload row Artillery gave it (vars.user_id / vars.token), a minted
 * one, or a dev token. Returns {userId, token}: with a file the user id is the file's, not ours.
 */
async function accessTokenFor(vars, rest, userId, displayName, env = process.env) {
  const source = tokenSource(env);
  if (source.kind === 'file') {
    if (typeof vars.token !== 'string' || vars.token === '') throw new Error(`LOAD_TOKENS_FILE is set but this virtual user got no token row (is ${source.path} empty?)`);
    return { userId: vars.user_id || userId, token: vars.token };
  }
  if (source.kind === 'mint') return { userId, token: mintAccessToken(source.secret, { userId, displayName, issuer: source.issuer, audience: source.audience }) };
  return { userId, token: await rest.devToken(userId, displayName) };
}

module.exports = { accessTokenFor, mintAccessToken, tokenSource };
