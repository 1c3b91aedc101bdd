import { createHmac } from 'node:crypto';

/**
 * The token of an invite created by a transport request, derived from the request id with a server secret.
 * The reply of `invite.create` carries the token in clear and the database keeps only its hash, so a
 * redelivery (the first delivery committed, then its replica died or stalled before replying) could not
 * answer with the stored invite's token unless it can compute it again. HMAC-SHA256 with a domain prefix:
 * unguessable without the secret (request ids are not secret), and the same 24 bytes as a random token.
 */
export function inviteTokenFor(secret: string, requestId: string): string {
  return createHmac('sha256', secret).update(`chorus:invite-token:${requestId}`).digest().subarray(0, 24).toString('base64url');
}
