import type Redis from 'ioredis';
import { hashToken, newSecretToken, type VerifiedAccess } from '@chorus/auth';

/** How long a /ws ticket lives: from the REST call to the WebSocket upgrade that follows it. */
export const WS_TICKET_TTL_S = 30;

/**
 * Single-use tickets for opening /ws from a browser, whose WebSocket cannot send an Authorization header: the
 * ticket rides in the URL instead of the long-lived access token (URLs end up in access logs). A contract:
 * `take` returns a ticket's identity (with its access token's expiry) at most once cluster-wide (atomically) and never after its expiry. Only the
 * SHA-256 of a ticket is stored.
 */
export interface WsTicketStore {
  put(ticketHash: string, access: VerifiedAccess, ttlMs: number): Promise<void>;
  take(ticketHash: string): Promise<VerifiedAccess | undefined>;
}

export class RedisWsTicketStore implements WsTicketStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(hash: string): string {
    return `${this.prefix}:ws-ticket:${hash}`;
  }

  async put(ticketHash: string, access: VerifiedAccess, ttlMs: number): Promise<void> {
    await this.redis.set(this.key(ticketHash), JSON.stringify(access), 'PX', ttlMs);
  }

  async take(ticketHash: string): Promise<VerifiedAccess | undefined> {
    // GETDEL: one gateway wins, every other sees nothing (Redis ≥ 6.2).
    const raw = await this.redis.getdel(this.key(ticketHash));
    return raw === null ? undefined : identityOf(raw);
  }
}

export class MemoryWsTicketStore implements WsTicketStore {
  private readonly tickets = new Map<string, { access: VerifiedAccess; expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async put(ticketHash: string, access: VerifiedAccess, ttlMs: number): Promise<void> {
    const t = this.now();
    // Expired tickets are dropped as new ones come: the map stays as small as the tickets alive.
    for (const [hash, entry] of this.tickets) if (entry.expires <= t) this.tickets.delete(hash);
    this.tickets.set(ticketHash, { access, expires: t + ttlMs });
  }

  async take(ticketHash: string): Promise<VerifiedAccess | undefined> {
    const entry = this.tickets.get(ticketHash);
    this.tickets.delete(ticketHash);
    return entry !== undefined && entry.expires > this.now() ? entry.access : undefined;
  }
}

/** Mints and redeems tickets over a store. */
export class WsTickets {
  constructor(
    private readonly store: WsTicketStore,
    readonly ttlS = WS_TICKET_TTL_S,
  ) {}

  async mint(access: VerifiedAccess): Promise<{ ticket: string; expires_in: number }> {
    const ticket = newSecretToken();
    // The whole identity travels with the ticket (a field added to Identity must not be lost through /ws).
    await this.store.put(hashToken(ticket), { identity: { ...access.identity }, expires_at_ms: access.expires_at_ms }, this.ttlS * 1000);
    return { ticket, expires_in: this.ttlS };
  }

  take(ticket: string): Promise<VerifiedAccess | undefined> {
    return this.store.take(hashToken(ticket));
  }
}

function identityOf(raw: string): VerifiedAccess | undefined {
  const v = JSON.parse(raw) as { identity?: { user_id?: unknown; display_name?: unknown; kind?: unknown }; expires_at_ms?: unknown };
  const i = v.identity;
  const valid = i !== undefined && typeof i.user_id === 'string' && typeof i.display_name === 'string' && (i.kind === 'human' || i.kind === 'agent') && typeof v.expires_at_ms === 'number';
  return valid ? (v as VerifiedAccess) : undefined;
}
