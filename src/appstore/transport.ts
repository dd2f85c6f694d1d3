import { setMaxListeners } from 'node:events';
import https from 'node:https';
import got, { type Got, RequestError } from 'got';
import { AppError } from '../errors.ts';
import { sharedAgentFor } from './agents.ts';

/*
 * One HTTP attempt, nothing more: got with its own retries and HTTP errors turned off, so the
 * retry rules live in one visible place (client.ts + retry.ts). Bodies are read as text and
 * parsed by the caller, so a malformed or truncated body is an outcome, not a crash.
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

  return {
    async get(url, headers) {
      if (stop.signal.aborted) throw clientClosedError();
      try {
        const response = await instanceFor(url, options).get(url, { headers, signal: stop.signal });
        return { status: response.statusCode, headers: response.headers, body: response.body };
      } catch (error) {
        if (stop.signal.aborted) throw clientClosedError();
        if (error instanceof RequestError) {
          // A fresh error without got's `options` (which hold the Authorization header).
          throw new NetworkFailure(error.code || 'ERR_NETWORK', describeNetworkError(error));
        }
        throw error;
      }
    },
    close() {
      stop.abort();
    },
  };
}

function describeNetworkError(error: RequestError): string {
  const code = error.code || 'network error';
  if (error.name === 'TimeoutError') return `timed out (${code})`;
  return `${code}: ${error.message}`;
}
