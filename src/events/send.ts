import {
  lookup as dnsLookup,
  type LookupAddress,
  type LookupAllOptions,
  type LookupOneOptions,
} from 'node:dns';
import { performance } from 'node:perf_hooks';
import got from 'got';
import { errorMessage } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';
import { type AddressPolicy, checkAddress, checkWebhookUrl } from './policy.ts';
import { signatureHeader } from './secrets.ts';

/*
 * One signed POST to a webhook endpoint (the I/O edge of the dispatcher). The URL is checked
 * again here, and every address its name resolves to is checked before connecting, to the
 * address that was checked (a custom `lookup`): a name cannot be re-pointed at the internal
 * network after registration. No redirects, a timeout on the whole exchange, and at most
 * RESPONSE_EXCERPT_BYTES of the response body are read.
 */

export const RESPONSE_EXCERPT_BYTES = 1_024;
const USER_AGENT = 'catalog-sync-webhooks/1';

export interface SendInput {
  url: string;
  msgId: string;
  body: string;
  /** Current secret first; a rotated-out one while its grace lasts. */
  secrets: readonly string[];
  timeoutMs: number;
  policy: AddressPolicy;
  now?: Date;
  /** Name resolution (default: the system's); every address it gives is checked before connecting. */
  resolve?: Resolver;
}

export interface SendResult {
  /** Undefined when no response came (timeout, refused, DNS, address policy). */
  statusCode: number | undefined;
  latencyMs: number;
  excerpt: string | null;
  error: string | null;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** How names are resolved: `dns.lookup` with `all: true` (a test gives its own answers). */
export type Resolver = (
  hostname: string,
  options: { family: number; all: true },
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolver: Resolver = (hostname, options, callback) =>
  dnsLookup(hostname, options, (error, addresses) => callback(error, addresses as LookupAddress[]));

/** A `lookup` for the socket: resolve, refuse if ANY address is not allowed, connect to a checked one. */
export function guardedLookup(policy: AddressPolicy, resolve: Resolver = systemResolver) {
  return (
    hostname: string,
    options: LookupOneOptions | LookupAllOptions | number,
    callback: LookupCallback,
  ) => {
    const opts = typeof options === 'number' ? { family: options } : options;
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : (opts.family ?? 0);
    resolve(hostname, { family, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const list = addresses as LookupAddress[];
      if (list.length === 0)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      for (const entry of list) {
        const verdict = checkAddress(entry.address, policy);
        if (!verdict.ok) {
          const refused: NodeJS.ErrnoException = new Error(
            `refused to connect to ${hostname}: ${verdict.reason}`,
          );
          refused.code = 'EADDRREFUSED_POLICY';
          return callback(refused, '');
        }
      }
      if ('all' in opts && opts.all) return callback(null, list);
      const first = list[0]!;
      return callback(null, first.address, first.family);
    });
  };
}

function excerptOf(buffer: Buffer): string | null {
  if (buffer.length === 0) return null;
  // Printable text only, secrets scrubbed: the excerpt is shown to operators.
  const text = buffer
    .subarray(0, RESPONSE_EXCERPT_BYTES)
    .toString('utf8')
    .replace(/[^\P{C}\n\t]/gu, '');
  return scrubSecrets(text);
}

export async function sendWebhook(input: SendInput): Promise<SendResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  try {
    checkWebhookUrl(input.url, input.policy);
  } catch (error) {
    return { statusCode: undefined, latencyMs: 0, excerpt: null, error: scrubSecrets(errorMessage(error)) };
  }
  const at = input.now ?? new Date();
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': input.msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatureHeader(input.secrets, input.msgId, at, input.body),
  };
  let statusCode: number | undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    const stream = got.stream.post(input.url, {
      body: input.body,
      headers,
      followRedirect: false,
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: input.timeoutMs },
      dnsLookup: guardedLookup(input.policy, input.resolve) as never,
      decompress: false,
    });
    stream.on('response', (response: { statusCode: number }) => {
      statusCode = response.statusCode;
    });
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      chunks.push(buffer);
      size += buffer.length;
      if (size >= RESPONSE_EXCERPT_BYTES) {
        stream.destroy();
        break;
      }
    }
    return { statusCode, latencyMs: latency(), excerpt: excerptOf(Buffer.concat(chunks)), error: null };
  } catch (error) {
    // A status already received counts (the body broke off); otherwise no response came.
    return {
      statusCode,
      latencyMs: latency(),
      excerpt: excerptOf(Buffer.concat(chunks)),
      error: scrubSecrets(errorMessage(error)).slice(0, 500),
    };
  }
}
