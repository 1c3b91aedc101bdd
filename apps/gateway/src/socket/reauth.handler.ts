import { TokenError, type AccessTokenVerifier } from '@chorus/auth';
import { ChorusError } from '@chorus/protocol';
import type { Handler } from './connection';

/**
 * `reauth`: a fresh access token of the same user moves the connection's expiry (the edge's expiry timer, on
 * firing, finds the later expiry and re-arms). A refused token leaves the connection as it was — it still
 * closes at the old expiry; another user's token is PERMISSION_DENIED: a connection's identity never changes
 * under its memberships.
 */
export function reauthHandler(tokens: AccessTokenVerifier): Handler<'reauth'> {
  return async (connection, message, deps) => {
    let access;
    try {
      access = await tokens.verify(message.token);
    } catch (err) {
      // Not the token's fault (the key set unreachable): UNAVAILABLE passes through, the client retries.
      if (!(err instanceof TokenError)) throw err;
      throw new ChorusError('UNAUTHENTICATED', `The access token was refused (${err.reason.replace('_', ' ')}); obtain a new one.`);
    }
    if (access.identity.user_id !== connection.data.identity.user_id) {
      throw new ChorusError('PERMISSION_DENIED', 'The new access token is for another user: a connection keeps its user (open a new connection instead).');
    }
    connection.data.tokenExpiresAtMs = Math.max(connection.data.tokenExpiresAtMs, access.expires_at_ms);
    deps.metrics.reauthenticated.inc();
    return { type: 'reauthed', token_expires_at: connection.data.tokenExpiresAtMs };
  };
}
