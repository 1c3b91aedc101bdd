import type { AddressInfo } from 'node:net';
import express from 'express';
import type { TrustedProxies } from '@chorus/config';
import { ClientAddresses, expressTrustProxy } from './client-address';

// Express's `trust proxy` (req.ip, req.protocol, what access logs print) and ClientAddresses (every per-client
// limit) must name the same client for every TRUSTED_PROXIES setting: real HTTP requests through a real Express
// app, from 127.0.0.1, with forged and honest X-Forwarded-For headers.

async function answers(proxies: TrustedProxies, xffs: (string | undefined)[]): Promise<{ express: string; ours: string }[]> {
  const addresses = new ClientAddresses(proxies);
  const app = express();
  app.set('trust proxy', expressTrustProxy(proxies));
  app.get('/', (req, res) => {
    res.json({ express: (req.ip ?? '').replace(/^::ffff:/, ''), ours: addresses.of(req) });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const out: { express: string; ours: string }[] = [];
    for (const xff of xffs) {
      const res = await fetch(url, { headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });
      out.push((await res.json()) as { express: string; ours: string });
    }
    return out;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const HEADERS = [undefined, '198.51.100.7', 'spoofed-by-client, 198.51.100.7', '203.0.113.1, 10.0.0.9, 198.51.100.7', '2001:db8::5, 10.1.2.3'];

describe('TRUSTED_PROXIES means the same to Express and to the limiters', () => {
  it.each<[string, TrustedProxies, string[]]>([
    ['nobody', { hops: 0 }, ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']],
    ['one hop', { hops: 1 }, ['127.0.0.1', '198.51.100.7', '198.51.100.7', '198.51.100.7', '10.1.2.3']],
    ['two hops', { hops: 2 }, ['127.0.0.1', '198.51.100.7', 'spoofed-by-client', '10.0.0.9', '2001:db8::5']],
    ['a list', { addresses: ['127.0.0.1', '10.0.0.0/8'] }, ['127.0.0.1', '198.51.100.7', '198.51.100.7', '198.51.100.7', '2001:db8::5']],
  ])('%s', async (_name, proxies, expected) => {
    const got = await answers(proxies, HEADERS);
    expect(got.map((g) => g.express)).toEqual(expected);
    expect(got.map((g) => g.ours)).toEqual(expected);
  });
});
