import type { IncomingMessage } from 'node:http';
import { ClientAddresses, groupIpv6 } from './client-address';

const req = (peer: string, xff?: string | string[]) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

describe('ClientAddresses', () => {
  it('trusts no proxy by default: X-Forwarded-For is ignored, the TCP peer is the client', () => {
    const none = new ClientAddresses({ hops: 0 });
    expect(none.of(req('203.0.113.9', '1.2.3.4'))).toBe('203.0.113.9');
    expect(none.of(req('::ffff:203.0.113.9'))).toBe('203.0.113.9');
  });

  it('with N hops takes the Nth address from the right, whatever the client put on the left', () => {
    const one = new ClientAddresses({ hops: 1 });
    expect(one.of(req('10.0.0.2', 'spoofed, 198.51.100.7'))).toBe('198.51.100.7');
    expect(one.of(req('10.0.0.2', ['spoofed', '198.51.100.7']))).toBe('198.51.100.7');
    expect(one.of(req('10.0.0.2'))).toBe('10.0.0.2');
    expect(new ClientAddresses({ hops: 2 }).of(req('10.0.0.2', 'spoofed, 198.51.100.7, 10.0.0.9'))).toBe('198.51.100.7');
  });

  it('with a list skips trusted proxies from the right and stops at the first untrusted address', () => {
    const list = new ClientAddresses({ addresses: ['10.0.0.0/8', '2001:db8::1'] });
    expect(list.of(req('10.1.2.3', '1.1.1.1, 198.51.100.7, 10.9.9.9'))).toBe('198.51.100.7');
    expect(list.of(req('::ffff:10.1.2.3', '198.51.100.7'))).toBe('198.51.100.7');
    expect(list.of(req('2001:db8::1', '2001:db8::99'))).toBe('2001:db8::99');
    // An untrusted peer's X-Forwarded-For is never read.
    expect(list.of(req('198.51.100.50', '1.1.1.1'))).toBe('198.51.100.50');
    // Only trusted hops: the leftmost is the best there is.
    expect(list.of(req('10.0.0.1', '10.0.0.2'))).toBe('10.0.0.2');
    expect(list.of(req('10.0.0.1', `x${'9'.repeat(500)}`))).toHaveLength(64);
  });

  it('limit keys group IPv6 by /64 and leave IPv4 alone', () => {
    const none = new ClientAddresses({ hops: 0 });
    expect(none.limitKey(req('203.0.113.9'))).toBe('203.0.113.9');
    expect(none.limitKey(req('::ffff:203.0.113.9'))).toBe('203.0.113.9');
    expect(none.limitKey(req('2001:db8:0:1:aaaa:bbbb:cccc:dddd'))).toBe('2001:db8:0:1::/64');
    expect(none.limitKey(req('2001:db8:0:1::7'))).toBe('2001:db8:0:1::/64');
    expect(new ClientAddresses({ hops: 1 }).limitKey(req('10.0.0.2', '2001:DB8:0:0001:1::1'))).toBe('2001:db8:0:1::/64');
  });

  it('expands every IPv6 spelling to the same /64', () => {
    for (const a of ['2001:db8::', '2001:db8::1', '2001:0db8:0000:0000:ffff::1', '2001:db8:0:0:1:2:3:4', '2001:db8::1.2.3.4']) expect(groupIpv6(a)).toBe('2001:db8:0:0::/64');
    expect(groupIpv6('::1')).toBe('0:0:0:0::/64');
    expect(groupIpv6('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(groupIpv6('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64');
    expect(groupIpv6('unknown')).toBe('unknown');
    expect(groupIpv6('198.51.100.7')).toBe('198.51.100.7');
  });
});
