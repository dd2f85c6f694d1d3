import { setMaxListeners } from 'node:events';
import https from 'node:https';
import got, { type Got, RequestError } from 'got';
import { AppError } from '../errors.ts';
import { sharedAgentFor } from './agents.ts';
import { responseTooLargeError } from './errors.ts';

/*
 * One HTTP attempt, nothing more: got with its own retries and HTTP errors turned off, so the
 * retry rules live in one visible place (client.ts + retry.ts). Bodies are read as text and
 * parsed by the caller, so a malformed or truncated body is an outcome, not a crash.
 * The body is read as a stream AFTER decompression and counted chunk by chunk: past
 * `maxResponseBytes` the request is destroyed at once (a 1 MiB gzip that inflates to 1 GiB
 * never reaches memory, and the event loop is never held long enough to lose a job lock).
 * Connections come from the process-wide keep-alive agents (agents.ts), shared by all clients.
 */

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The request got no usable HTTP answer (reset, timeout, refused, aborted body). */
export class NetworkFailure extends Error {
  override name = 'NetworkFailure';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface TransportOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** Largest body accepted, counted after decompression (APP_STORE_CONNECT_MAX_RESPONSE_BYTES). */
  maxResponseBytes: number;
}

export interface Transport {
  get(url: URL, headers: Record<string, string>): Promise<RawResponse>;
  /**
   * Stops this transport: requests in flight are aborted and later ones refused. The shared
   * sockets stay open for other clients (closeSharedAgents() ends them at process shutdown).
   */
  close(): void;
}

export function clientClosedError(): AppError {
  return new AppError(
    'client_closed',
    'This App Store Connect client was closed; create a new client to send more requests.',
  );
}

/**
 * got instances per shared agent and timeouts: building one per client costs CPU on every sync.
 * Keyed weakly by agent, so those of agents dropped by closeSharedAgents() go with them.
 */
const instances = new WeakMap<object, Map<string, Got>>();

function instanceFor(url: URL, options: TransportOptions): Got {
  const agent = sharedAgentFor(url);
  let byTimeouts = instances.get(agent);
  if (!byTimeouts) {
    byTimeouts = new Map();
    instances.set(agent, byTimeouts);
  }
  const key = `${options.connectTimeoutMs} ${options.responseTimeoutMs}`;
  let instance = byTimeouts.get(key);
  if (!instance) {
    instance = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      responseType: 'text',
      http2: false,
      agent: agent instanceof https.Agent ? { https: agent } : { http: agent },
      timeout: {
        connect: options.connectTimeoutMs,
        secureConnect: options.connectTimeoutMs,
        // Until the response headers arrive, then between body chunks.
        response: options.responseTimeoutMs,
        read: options.responseTimeoutMs,
      },
    });
    byTimeouts.set(key, instance);
  }
  return instance;
}

export function createTransport(options: TransportOptions): Transport {
  const stop = new AbortController();
  // One abort listener per request in flight: as many as the client's concurrency allows.
  setMaxListeners(0, stop.signal);
  let closed = false;
  let inFlight = 0;

  return {
    async get(url, headers) {
      if (closed) throw clientClosedError();
      inFlight++;
      try {
        return await readBounded(
          instanceFor(url, options),
          url,
          headers,
          stop.signal,
          options.maxResponseBytes,
        );
      } catch (error) {
        if (closed) throw clientClosedError();
        if (error instanceof RequestError) {
          // A fresh error without got's `options` (which hold the Authorization header).
          throw new NetworkFailure(error.code || 'ERR_NETWORK', describeNetworkError(error));
        }
        throw error;
      } finally {
        inFlight--;
      }
    },
    close() {
      closed = true;
      // Only when something is in flight: aborting the signal runs the listeners every finished
      // request left on it, 0.1 ms of worker CPU per sync that closes its client after the fetch
      // (test/bench/sync-cpu.ts profile). Later requests are refused by `closed` either way.
      if (inFlight > 0) stop.abort();
    },
  };
}

function describeNetworkError(error: RequestError): string {
  const code = error.code || 'network error';
  if (error.name === 'TimeoutError') return `timed out (${code})`;
  return `${code}: ${error.message}`;
}

/**
 * Streams one GET, counting decompressed bytes; destroys the request past `limit`. Read with
 * 'data' events rather than `for await`: the async iterator's promise per chunk and its
 * end-of-stream bookkeeping were about 0.02 ms of CPU per request, and every sync makes several.
 */
function readBounded(
  instance: Got,
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal,
  limit: number,
): Promise<RawResponse> {
  const request = instance.stream(url, { headers, signal });
  return new Promise((resolve, reject) => {
    let status = 0;
    let responseHeaders: RawResponse['headers'] = {};
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // Every way out destroys the stream (got's does not destroy itself) and settles once.
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      if (!request.destroyed) request.destroy();
      outcome();
    };
    request.once('response', (response: { statusCode: number; headers: RawResponse['headers'] }) => {
      status = response.statusCode;
      responseHeaders = response.headers;
    });
    request.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settle(() => reject(responseTooLargeError(`GET ${url.pathname}`, limit)));
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', (error) => settle(() => reject(error)));
    request.once('end', () =>
      settle(() =>
        resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks, size).toString('utf8') }),
      ),
    );
  });
}
