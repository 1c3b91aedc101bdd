import type Redis from 'ioredis';
import { hashToken, newSecretToken, type Identity } from '@chorus/auth';

/** How long a /ws ticket lives: from the REST call to the WebSocket upgrade that follows it. */
export const WS_TICKET_TTL_S = 30;

/**
 * Single-use tickets for opening /ws from a browser, whose WebSocket cannot send an Authorization header: the
 * ticket rides in the URL instead of the long-lived access token (URLs end up in access logs). A contract:
 * `take` returns a ticket's identity at most once cluster-wide (atomically) and never after its expiry. Only the
 * SHA-256 of a ticket is stored.
 */
export interface WsTicketStore {
  put(ticketHash: string, identity: Identity, ttlMs: number): Promise<void>;
  take(ticketHash: string): Promise<Identity | undefined>;
}

export class RedisWsTicketStore implements WsTicketStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(hash: string): string {
    return `${this.prefix}:ws-ticket:${hash}`;
  }

  async put(ticketHash: string, identity: Identity, ttlMs: number): Promise<void> {
    await this.redis.set(this.key(ticketHash), JSON.stringify(identity), 'PX', ttlMs);
  }

  async take(ticketHash: string): Promise<Identity | undefined> {
    // GETDEL: one gateway wins, every other sees nothing (Redis ≥ 6.2).
    const raw = await this.redis.getdel(this.key(ticketHash));
    return raw === null ? undefined : identityOf(raw);
  }
}

export class MemoryWsTicketStore implements WsTicketStore {
  private readonly tickets = new Map<string, { identity: Identity; expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async put(ticketHash: string, identity: Identity, ttlMs: number): Promise<void> {
    const t = this.now();
    // Expired tickets are dropped as new ones come: the map stays as small as the tickets alive.
    for (const [hash, entry] of this.tickets) if (entry.expires <= t) this.tickets.delete(hash);
    this.tickets.set(ticketHash, { identity, expires: t + ttlMs });
  }

  async take(ticketHash: string): Promise<Identity | undefined> {
    const entry = this.tickets.get(ticketHash);
    this.tickets.delete(ticketHash);
    return entry !== undefined && entry.expires > this.now() ? entry.identity : undefined;
  }
}

/** Mints and redeems tickets over a store. */
export class WsTickets {
  constructor(
    private readonly store: WsTicketStore,
    readonly ttlS = WS_TICKET_TTL_S,
  ) {}

  async mint(identity: Identity): Promise<{ ticket: string; expires_in: number }> {
    const ticket = newSecretToken();
    await this.store.put(hashToken(ticket), { user_id: identity.user_id, display_name: identity.display_name, kind: identity.kind }, this.ttlS * 1000);
    return { ticket, expires_in: this.ttlS };
  }

  take(ticket: string): Promise<Identity | undefined> {
    return this.store.take(hashToken(ticket));
  }
}

function identityOf(raw: string): Identity | undefined {
  const v = JSON.parse(raw) as Partial<Identity>;
  return typeof v.user_id === 'string' && typeof v.display_name === 'string' && (v.kind === 'human' || v.kind === 'agent') ? (v as Identity) : undefined;
}
