import ipaddr from 'ipaddr.js';
import { InvalidInputError } from '../errors.ts';

/*
 * Where webhooks may go (pure; unit-tested). A registered URL must not become a way into the
 * internal network (SSRF): https only, and only to public addresses, checked when the endpoint is
 * registered AND, after DNS resolution, for every request (a name may later resolve elsewhere:
 * DNS rebinding). Plain http is allowed only to loopback and only when explicitly configured.
 *
 * Addresses are classified by ipaddr.js (IANA's special-purpose ranges, IPv4 and IPv6). Only
 * `unicast` is public. IPv6 forms that carry an IPv4 address are judged as follows: mapped
 * (`::ffff:a.b.c.d`) as that IPv4 address; compatible (`::a.b.c.d`, which ipaddr.js reads as
 * mapped, so it is recognised here before it is parsed), 6to4, Teredo, NAT64 and the translated
 * forms are refused outright: what they reach depends on a relay, not on the address.
 */

export interface AddressPolicy {
  /** http:// to loopback, and loopback addresses (tests, local development). */
  allowHttpLoopback: boolean;
  /** Private, link-local, loopback, CGNAT, … (an operator who knows the receiver is internal). */
  allowPrivateAddresses: boolean;
}

export const MAX_URL_LENGTH = 2_000;

/** What each non-public range is, in words for the error. */
const RANGE_WORDS: Record<string, string> = {
  unspecified: 'the unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT (shared) address',
  private: 'a private address',
  reserved: 'a reserved or documentation address',
  as112: 'an AS112 (DNS sink) address',
  amt: 'an AMT relay address',
  benchmarking: 'a benchmarking address',
  uniqueLocal: 'a unique-local (private) IPv6 address',
  deprecatedSiteLocal: 'a site-local (private) IPv6 address',
  discard: 'a discard-only IPv6 address',
  rfc6145: 'an IPv4-translated IPv6 address',
  rfc6052: 'a NAT64 address (it reaches an IPv4 address through a translator)',
  '6to4': 'a 6to4 address (it reaches an IPv4 address through a relay)',
  teredo: 'a Teredo address (it reaches an IPv4 address through a relay)',
  as112v6: 'an AS112 (DNS sink) address',
  deprecatedOrchid: 'an ORCHID (non-routable) address',
  orchid2: 'an ORCHIDv2 (non-routable) address',
  droneRemoteIdProtocolEntityTags: 'a DRIP entity tag (non-routable) address',
  segmentRouting: 'a segment-routing address',
  ipv4Compatible: 'an IPv4-compatible IPv6 address (deprecated; it embeds an IPv4 address)',
};

export type AddressClass = { range: string; loopback: boolean; public: boolean; text: string };

/**
 * The range of an IP address (IPv4 or IPv6, brackets allowed); undefined when it is not one.
 * Mapped IPv6 addresses are judged as their IPv4 address.
 */
export function classifyAddress(input: string): AddressClass | undefined {
  const text = input.trim().replace(/^\[|\]$/g, '');
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  if (text.includes(':')) {
    if (!ipaddr.IPv6.isValid(text)) return undefined;
    const v6 = ipaddr.IPv6.parse(text);
    const parts = v6.parts;
    // ipaddr.js reads `::a.b.c.d` as `::ffff:a.b.c.d`: look at what was written.
    if (/^(0{0,4}:){0,6}:?(\d+\.){3}\d+$/.test(text) && !/ffff:/i.test(text)) {
      const normalised = new URL(`http://[${text}]/`).hostname;
      if (!/^\[::ffff:/i.test(normalised))
        return { range: 'ipv4Compatible', loopback: false, public: false, text };
    }
    if (parts.slice(0, 6).every((p) => p === 0) && !(parts[6] === 0 && (parts[7] === 0 || parts[7] === 1))) {
      return { range: 'ipv4Compatible', loopback: false, public: false, text };
    }
    address = v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
  } else {
    if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
    address = ipaddr.IPv4.parse(text);
  }
  const range = address.range();
  return { range, loopback: range === 'loopback', public: range === 'unicast', text };
}

export type AddressVerdict = { ok: true } | { ok: false; reason: string };

/** Whether a request may go to this IP address. */
export function checkAddress(addressInput: string, policy: AddressPolicy): AddressVerdict {
  const found = classifyAddress(addressInput);
  if (!found) return { ok: false, reason: `${addressInput} is not an IP address` };
  if (found.public) return { ok: true };
  if (found.loopback) {
    return policy.allowHttpLoopback || policy.allowPrivateAddresses
      ? { ok: true }
      : {
          ok: false,
          reason: `${addressInput} is a loopback address (allowed only with WEBHOOKS_ALLOW_HTTP_LOOPBACK=true, for development and tests)`,
        };
  }
  if (policy.allowPrivateAddresses) return { ok: true };
  return {
    ok: false,
    reason: `${addressInput} is ${RANGE_WORDS[found.range] ?? `a non-public address (${found.range})`}, not a public one (set WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=true only if the receiver is meant to be internal)`,
  };
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return classifyAddress(host)?.loopback === true;
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
  // The address first: `http://10.0.0.1` is refused for where it points, not for its scheme.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (classifyAddress(host)) {
    const verdict = checkAddress(host, policy);
    if (!verdict.ok) throw new InvalidInputError('url', `refused: ${verdict.reason}.`);
  } else if (loop && !(policy.allowHttpLoopback || policy.allowPrivateAddresses)) {
    throw new InvalidInputError('url', `refused: ${url.hostname} is a loopback name.`);
  }
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
  return url.toString();
}
