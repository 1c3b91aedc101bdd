import { io, type Socket } from 'socket.io-client';

export type Json = Record<string, unknown>;

/**
 * REST POST as a member of a benchmark: each call comes from an address of its own (X-Forwarded-For through one
 * trusted proxy hop — start the gateway with TRUSTED_PROXIES=1), since a scenario's hundreds of sign-ins and
 * invite redemptions outgrow one address's REST budget (600 a minute).
 */
let nextAddress = 0;
export async function post(base: string, path: string, body: Json, token?: string): Promise<Json> {
  const n = nextAddress++;
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** A Socket.IO connection over the websocket transport, no reconnection (a benchmark counts what it lost). */
export function connect(base: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = io(base, { transports: ['websocket'], auth: { token, protocol_version: 1 }, reconnection: false, forceNew: true });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}
