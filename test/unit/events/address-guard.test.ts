import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { checkAddress, checkWebhookUrl, classifyAddress } from '../../../src/events/policy.ts';
import { guardedLookup, type Resolver, sendWebhook } from '../../../src/events/send.ts';

/*
 * The address guard, table-driven: every non-public range (IPv4 and IPv6, in each notation a URL
 * or a resolver may use) is refused when an endpoint is registered (the URL's literal host) and
 * when a request connects (a name that resolves to it: DNS rebinding).
 */

const strict = { allowHttpLoopback: false, allowPrivateAddresses: false };
const loopbackOk = { allowHttpLoopback: true, allowPrivateAddresses: false };
const internal = { allowHttpLoopback: false, allowPrivateAddresses: true };

/** [address as written, the range it is in, how the refusal words it]. */
const REFUSED: [string, string, RegExp][] = [
  // IPv4, dotted and in the other notations URLs accept (WHATWG URL normalises them)
  ['127.0.0.1', 'loopback', /loopback/],
  ['127.255.255.254', 'loopback', /loopback/],
  ['2130706433', 'loopback', /loopback/],
  ['0x7f000001', 'loopback', /loopback/],
  ['0177.0.0.1', 'loopback', /loopback/],
  ['127.1', 'loopback', /loopback/],
  ['0.0.0.0', 'unspecified', /unspecified/],
  ['10.0.0.1', 'private', /private address/],
  ['10.1', 'private', /private address/],
  ['172.16.0.1', 'private', /private address/],
  ['172.31.255.255', 'private', /private address/],
  ['192.168.1.20', 'private', /private address/],
  ['0xc0a80101', 'private', /private address/],
  ['169.254.169.254', 'linkLocal', /link-local/],
  ['100.64.0.1', 'carrierGradeNat', /carrier-grade NAT/],
  ['192.0.0.8', 'reserved', /reserved/],
  ['192.0.2.1', 'reserved', /reserved or documentation/],
  ['198.51.100.7', 'reserved', /reserved or documentation/],
  ['203.0.113.9', 'reserved', /reserved or documentation/],
  ['198.18.0.1', 'reserved', /reserved/],
  ['192.88.99.1', 'reserved', /reserved/],
  ['240.0.0.1', 'reserved', /reserved/],
  ['255.255.255.255', 'broadcast', /broadcast/],
  ['224.0.0.1', 'multicast', /multicast/],
  ['239.255.255.250', 'multicast', /multicast/],
  // IPv6
  ['::1', 'loopback', /loopback/],
  ['0:0:0:0:0:0:0:1', 'loopback', /loopback/],
  ['::', 'unspecified', /unspecified/],
  ['fe80::1', 'linkLocal', /link-local/],
  ['febf::1', 'linkLocal', /link-local/],
  ['fc00::1', 'uniqueLocal', /unique-local/],
  ['fd12:3456:789a::1', 'uniqueLocal', /unique-local/],
  ['fec0::1', 'deprecatedSiteLocal', /site-local/],
  ['ff02::1', 'multicast', /multicast/],
  ['2001:db8::1', 'reserved', /documentation/],
  ['3fff::1', 'reserved', /reserved/],
  ['100::1', 'discard', /discard/],
  ['2001:2::1', 'benchmarking', /benchmarking/],
  ['2001:20::1', 'orchid2', /ORCHID/],
  // IPv6 forms that carry an IPv4 address
  ['::ffff:127.0.0.1', 'loopback', /loopback/],
  ['::ffff:7f00:1', 'loopback', /loopback/],
  ['::ffff:10.0.0.1', 'private', /private address/],
  ['::ffff:169.254.169.254', 'linkLocal', /link-local/],
  ['::ffff:0:10.0.0.1', 'rfc6145', /IPv4-translated/],
  ['::127.0.0.1', 'ipv4Compatible', /IPv4-compatible/],
  ['::7f00:1', 'ipv4Compatible', /IPv4-compatible/],
  ['0:0:0:0:0:0:10.0.0.1', 'ipv4Compatible', /IPv4-compatible/],
  ['::8.8.8.8', 'ipv4Compatible', /IPv4-compatible/],
  ['2002:c0a8:101::1', '6to4', /6to4/],
  ['2002:7f00:1::', '6to4', /6to4/],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo', /Teredo/],
  ['64:ff9b::7f00:1', 'rfc6052', /NAT64/],
  ['64:ff9b::10.0.0.1', 'rfc6052', /NAT64/],
  ['64:ff9b:1::a00:1', 'rfc6052', /NAT64/],
];

const PUBLIC = [
  '8.8.8.8',
  '93.184.216.34',
  '1.1.1.1',
  '2606:4700:4700::1111',
  '2a00:1450:4001:82a::200e',
  '::ffff:8.8.8.8',
];

const LOOPBACK_NAMES = ['localhost', 'LOCALHOST', 'localhost.', 'api.localhost', 'a.b.localhost'];

const asUrlHost = (address: string) => (address.includes(':') ? `[${address}]` : address);

/** A resolver that answers every name with `addresses`. */
const answering =
  (...addresses: string[]): Resolver =>
  (_hostname, _options, callback) =>
    callback(
      null,
      addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })),
    );

function lookupWith(policy: typeof strict, resolver: Resolver) {
  return new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
    guardedLookup(policy, resolver)('receiver.example', { all: true }, (error, address) =>
      resolve({ error, address }),
    ),
  );
}

describe('the address guard', () => {
  it('covers at least 40 literals and names', () => {
    expect(REFUSED.length + LOOPBACK_NAMES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(REFUSED)('classifies %s as %s', (address, range) => {
    // The classification of the literal as written (the URL form of hex/octal IPv4 is checked below).
    const found = classifyAddress(new URL(`https://${asUrlHost(address)}/`).hostname);
    expect(found?.range).toBe(range);
  });

  it.each(REFUSED)('refuses %s at registration', (address, _range, words) => {
    expect(() => checkWebhookUrl(`https://${asUrlHost(address)}/hook`, strict)).toThrow(/^url: refused: /);
    expect(() => checkWebhookUrl(`https://${asUrlHost(address)}/hook`, strict)).toThrow(words);
    // Plain http to a non-public address is refused for where it points, not for its scheme.
    expect(() => checkWebhookUrl(`http://${asUrlHost(address)}/hook`, strict)).toThrow(/refused/);
  });

  it.each(REFUSED)('refuses %s at connect time, behind a name', async (address, _range, words) => {
    const resolved = new URL(`https://${asUrlHost(address)}/`).hostname.replace(/^\[|\]$/g, '');
    const { error } = await lookupWith(strict, answering('93.184.216.34', resolved));
    expect(error?.code).toBe('EADDRREFUSED_POLICY');
    expect(error?.message).toMatch(words);
    // And a whole delivery to that name fails before any connection.
    const result = await sendWebhook({
      url: 'https://receiver.example/hook',
      msgId: 'evt_guard',
      body: '{}',
      secrets: [`whsec_${Buffer.alloc(32, 1).toString('base64')}`],
      timeoutMs: 2_000,
      policy: strict,
      resolve: answering(resolved),
    });
    expect(result.statusCode).toBeUndefined();
    expect(result.error).toMatch(/refused to connect to receiver\.example/);
  });

  it.each(LOOPBACK_NAMES)('refuses the loopback name %s at registration', (name) => {
    expect(() => checkWebhookUrl(`https://${name}/hook`, strict)).toThrow(/loopback name/);
    expect(checkWebhookUrl(`http://${name}:8080/hook`, loopbackOk)).toMatch(/^http:\/\//);
  });

  it.each(PUBLIC)('accepts the public address %s, at registration and at connect time', async (address) => {
    expect(checkAddress(address, strict)).toEqual({ ok: true });
    expect(checkWebhookUrl(`https://${asUrlHost(address)}/hook`, strict)).toMatch(/^https:\/\//);
    const { error, address: chosen } = await lookupWith(strict, answering(address));
    expect(error).toBeNull();
    expect(chosen).toEqual([{ address, family: address.includes(':') ? 6 : 4 }]);
  });

  it('lets loopback through only when allowed, and everything internal only when allowed', () => {
    expect(checkAddress('127.0.0.1', loopbackOk)).toEqual({ ok: true });
    expect(checkAddress('::ffff:127.0.0.1', loopbackOk)).toEqual({ ok: true });
    expect(checkAddress('10.0.0.1', loopbackOk).ok).toBe(false);
    expect(checkAddress('::127.0.0.1', loopbackOk).ok).toBe(false);
    for (const [address] of REFUSED) {
      expect(checkAddress(new URL(`https://${asUrlHost(address)}/`).hostname, internal).ok, address).toBe(
        true,
      );
    }
  });

  it('says what is wrong with http to a public host and with things that are not addresses', () => {
    expect(() => checkWebhookUrl('http://10.0.0.1/', strict)).toThrow(/10\.0\.0\.1 is a private address/);
    expect(() => checkWebhookUrl('http://example.com/', strict)).toThrow(/must use https/);
    expect(checkAddress('not-an-address', strict)).toEqual({
      ok: false,
      reason: 'not-an-address is not an IP address',
    });
  });
});
