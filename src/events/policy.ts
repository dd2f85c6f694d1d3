import { BlockList, isIP } from 'node:net';
import { InvalidInputError } from '../errors.ts';

/*
 * Where webhooks may go (pure; unit-tested). A registered URL must not become a way into the
 * internal network (SSRF): https only, and only to public addresses, checked when the endpoint is
 * registered AND, after DNS resolution, for every request (a name may later resolve elsewhere:
 * DNS rebinding). Plain http is allowed only to loopback and only when explicitly configured.
 */

export interface AddressPolicy {
  /** http:// to loopback, and loopback addresses (tests, local development). */
  allowHttpLoopback: boolean;
  /** Private, link-local, loopback, CGNAT, … (an operator who knows the receiver is internal). */
  allowPrivateAddresses: boolean;
}

export const MAX_URL_LENGTH = 2_000;

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Everything that is not a public unicast address (IANA special-purpose registries). */
const nonPublic = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  nonPublic.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  nonPublic.addSubnet(net, prefix, 'ipv6');
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) as its IPv4 address; others unchanged. */
function unmap(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

export type AddressVerdict = { ok: true } | { ok: false; reason: string };

/** Whether a request may go to this IP address. */
export function checkAddress(addressInput: string, policy: AddressPolicy): AddressVerdict {
  const address = unmap(addressInput.replace(/^\[|\]$/g, ''));
  const family = isIP(address);
  if (family === 0) return { ok: false, reason: `${addressInput} is not an IP address` };
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (loopback.check(address, type)) {
    return policy.allowHttpLoopback || policy.allowPrivateAddresses
      ? { ok: true }
      : { ok: false, reason: `${addressInput} is a loopback address` };
  }
  if (nonPublic.check(address, type) && !policy.allowPrivateAddresses) {
    return {
      ok: false,
      reason: `${addressInput} is a private, link-local or reserved address (set WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=true only if the receiver is meant to be internal)`,
    };
  }
  return { ok: true };
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const ip = unmap(host);
  const family = isIP(ip);
  return family !== 0 && loopback.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Checks a webhook URL as registered (no DNS here: names are checked at delivery). Returns the
 * normalised URL or throws InvalidInputError('url', what is wrong and what to do).
 */
export function checkWebhookUrl(input: string, policy: AddressPolicy): string {
  const text = input.trim();
  if (text.length === 0 || text.length > MAX_URL_LENGTH) {
    throw new InvalidInputError('url', `must be an https:// URL of at most ${MAX_URL_LENGTH} characters.`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidInputError('url', 'is not a valid URL; give the full https:// address of the receiver.');
  }
  if (url.username || url.password) {
    throw new InvalidInputError(
      'url',
      'must not carry a user name or password; the receiver authenticates requests by their signature.',
    );
  }
  if (url.hash) throw new InvalidInputError('url', 'must not have a #fragment.');
  const loop = isLoopbackHost(url.hostname);
  if (url.protocol === 'http:') {
    if (!(loop && policy.allowHttpLoopback)) {
      throw new InvalidInputError(
        'url',
        'must use https://. Plain http:// is accepted only for loopback receivers when WEBHOOKS_ALLOW_HTTP_LOOPBACK=true.',
      );
    }
  } else if (url.protocol !== 'https:') {
    throw new InvalidInputError('url', `must use https:// (not ${url.protocol}).`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(unmap(host)) !== 0) {
    const verdict = checkAddress(host, policy);
    if (!verdict.ok) throw new InvalidInputError('url', `refused: ${verdict.reason}.`);
  } else if (loop && !(policy.allowHttpLoopback || policy.allowPrivateAddresses)) {
    throw new InvalidInputError('url', `refused: ${url.hostname} is a loopback name.`);
  }
  return url.toString();
}
