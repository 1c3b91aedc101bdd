import { createHmac } from 'node:crypto';

/** One entry of RTCConfiguration.iceServers, as WebRTC takes it. */
export interface IceServer {
  readonly urls: readonly string[];
  readonly username?: string;
  readonly credential?: string;
}

/** The STUN/TURN servers of a deployment (VOICE_* configuration). */
export interface IceSettings {
  readonly stunUrls: readonly string[];
  readonly turnUrls: readonly string[];
  /** The secret shared with the TURN server (coturn `static-auth-secret`); without it no TURN is handed out. */
  readonly turnSecret: string | undefined;
  readonly turnTtlS: number;
}

/**
 * Time-limited TURN credentials ("TURN REST API", draft-uberti-behave-turn-rest; coturn `use-auth-secret`): the
 * username is `<expiry, unix seconds>:<user id>` and the password is base64(HMAC-SHA1(secret, username)). The
 * TURN server recomputes the HMAC and refuses the username once its expiry has passed, so nothing is stored and
 * a leaked credential is worth at most `ttlS` seconds of relay for one user.
 */
export function turnCredentials(secret: string, userId: string, ttlS: number, nowMs: number): { username: string; credential: string; expiresAt: number } {
  const expiresAt = Math.floor(nowMs / 1000) + ttlS;
  const username = `${expiresAt}:${userId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64'), expiresAt };
}

/**
 * The ICE servers one user gets: STUN as configured, TURN with that user's short-lived credentials. `expires_at`
 * (ms) says when to ask again; null when nothing in the answer expires.
 */
export function iceServersFor(settings: IceSettings, userId: string, nowMs: number): { ice_servers: IceServer[]; expires_at: number | null } {
  const servers: IceServer[] = [];
  if (settings.stunUrls.length > 0) servers.push({ urls: [...settings.stunUrls] });
  if (settings.turnUrls.length > 0 && settings.turnSecret !== undefined) {
    const turn = turnCredentials(settings.turnSecret, userId, settings.turnTtlS, nowMs);
    servers.push({ urls: [...settings.turnUrls], username: turn.username, credential: turn.credential });
    return { ice_servers: servers, expires_at: turn.expiresAt * 1000 };
  }
  return { ice_servers: servers, expires_at: null };
}
