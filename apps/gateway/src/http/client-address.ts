import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { TrustedProxies } from '@chorus/config';

/** The part of a request the client address is read from (an Express request, a Socket.IO handshake request, an upgrade). */
export type AddressedRequest = Pick<IncomingMessage, 'headers'> & { readonly socket?: { readonly remoteAddress?: string } | null };

/**
 * Who the client is, for every per-client limit (REST, invite and password guesses, WebSocket handshakes).
 *
 * X-Forwarded-For is a list each proxy appends its peer's address to, so only its right end can be believed,
 * and only as far as the proxies that wrote it are trusted: whatever lies left of the last trusted proxy was
 * written by the client, who can put anything there (a new rate-limit key per request). The chain read here is
 * `[...X-Forwarded-For, TCP peer]`; with `{hops: N}` the client is the entry N places left of the peer, with a
 * list the first address from the right that is not a trusted proxy. Trusting none (the default) uses the peer.
 */
export class ClientAddresses {
  private readonly trusted: BlockList | undefined;

  constructor(private readonly proxies: TrustedProxies) {
    if ('addresses' in proxies) {
      this.trusted = new BlockList();
      for (const entry of proxies.addresses) {
        const [address, bits] = entry.split('/') as [string, string | undefined];
        const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
        if (bits === undefined) this.trusted.addAddress(address, family);
        else this.trusted.addSubnet(address, Number(bits), family);
      }
    }
  }

  of(req: AddressedRequest): string {
    const peer = normalize(req.socket?.remoteAddress ?? '') || 'unknown';
    const hops = 'hops' in this.proxies ? this.proxies.hops : Number.POSITIVE_INFINITY;
    if (hops === 0) return peer;
    const header = req.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((h) => normalize(h.trim()));
    const chain = [...forwarded.filter((h) => h.length > 0), peer];
    if ('hops' in this.proxies) return chain[Math.max(0, chain.length - 1 - hops)] as string;
    let i = chain.length - 1;
    while (i > 0 && this.isTrusted(chain[i] as string)) i--;
    return chain[i] as string;
  }

  /**
   * The key per-client limits count under: the address for IPv4, its /64 network for IPv6 (as @nestjs/throttler
   * groups them). One IPv6 subscriber or host usually gets a whole /64, so counting single addresses would give a
   * client 2^64 fresh buckets.
   */
  limitKey(req: AddressedRequest): string {
    return groupIpv6(this.of(req));
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && (this.trusted?.check(address, family === 6 ? 'ipv6' : 'ipv4') ?? false);
  }
}

/**
 * `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1, so one client has one key and IPv4 CIDRs
 * match. Capped: an entry is a limiter key, and an IPv6 address has at most 45 characters.
 */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return (mapped ? (mapped[1] as string) : address).slice(0, 64);
}

/**
 * The same trust as Express's `trust proxy` setting, so `req.ip` (and with it `req.protocol`, `req.hostname`,
 * access logs) agrees with the limiters: a hop count, a list of addresses/CIDRs, or nobody.
 */
export function expressTrustProxy(proxies: TrustedProxies): boolean | number | string[] {
  if ('addresses' in proxies) return [...proxies.addresses];
  return proxies.hops === 0 ? false : proxies.hops;
}

/** `2001:db8:1:2:3:4:5:6` → `2001:db8:1:2::/64`; anything that is not IPv6 is returned as it is. */
export function groupIpv6(address: string): string {
  const plain = address.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) names an interface, not a host
  if (isIP(plain) !== 6) return address;
  const [head, tail] = plain.includes('::') ? (plain.split('::') as [string, string]) : [plain, undefined];
  const parts = (s: string) => (s === '' ? [] : s.split(':')).flatMap((g) => (g.includes('.') ? ipv4Groups(g) : [g]));
  const left = parts(head);
  const right = tail === undefined ? [] : parts(tail);
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/** The two 16-bit groups of an IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4). */
function ipv4Groups(v4: string): string[] {
  const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
