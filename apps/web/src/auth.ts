import { ChorusRest } from '@chorus/client';

// Sign-in with a dev token (POST /api/v1/auth/dev-token, on servers with DEV_TOKENS=true). Kept in
// sessionStorage: per tab, so two windows of one browser can be two different people.

export interface SignedIn {
  token: string;
  userId: string;
  displayName: string;
  kind: 'human' | 'agent';
}

const KEY = 'chorus.auth';

export function currentUser(): SignedIn | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as SignedIn;
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

/** A user id from the display name plus a random suffix, so two people named alike stay two users. */
function userIdFor(displayName: string): string {
  const slug = displayName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'user';
  return `${slug}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function signIn(baseUrl: string, displayName: string, kind: 'human' | 'agent'): Promise<SignedIn> {
  const userId = userIdFor(displayName);
  const token = await ChorusRest.devToken(baseUrl, { user_id: userId, display_name: displayName, kind });
  const user: SignedIn = { token, userId, displayName, kind };
  sessionStorage.setItem(KEY, JSON.stringify(user));
  return user;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

/**
 * The gateways to connect to: `?gateways=http://a,http://b` (kept for the tab), else this page's origin. Several
 * let the SDK fail over between gateways without a load balancer (the tests and the benchmark use it).
 */
export function gatewayUrls(): string[] {
  const fromQuery = new URLSearchParams(location.search).get('gateways');
  if (fromQuery) sessionStorage.setItem('chorus.gateways', fromQuery);
  const list = (fromQuery ?? sessionStorage.getItem('chorus.gateways') ?? '').split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  return list.length > 0 ? list : [location.origin];
}
