import http from 'node:http';
import https from 'node:https';
import got, { RequestError } from 'got';

/*
 * One HTTP attempt, nothing more: got with its own retries and HTTP errors turned off, so the
 * retry rules live in one visible place (client.ts + retry.ts). Bodies are read as text and
 * parsed by the caller, so a malformed or truncated body is an outcome, not a crash.
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
  /** Sockets per host kept by the keep-alive agents (match the request concurrency). */
  maxSockets: number;
}

export interface Transport {
  get(url: URL, headers: Record<string, string>): Promise<RawResponse>;
  /** Destroys the keep-alive sockets. */
  close(): void;
}

export function createTransport(options: TransportOptions): Transport {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: options.maxSockets,
  };
  const agent = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  const client = got.extend({
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'text',
    http2: false,
    agent,
    timeout: {
      connect: options.connectTimeoutMs,
      secureConnect: options.connectTimeoutMs,
      // Until the response headers arrive, then between body chunks.
      response: options.responseTimeoutMs,
      read: options.responseTimeoutMs,
    },
  });

  return {
    async get(url, headers) {
      try {
        const response = await client.get(url, { headers });
        return { status: response.statusCode, headers: response.headers, body: response.body };
      } catch (error) {
        if (error instanceof RequestError) {
          // A fresh error without got's `options` (which hold the Authorization header).
          throw new NetworkFailure(error.code || 'ERR_NETWORK', describeNetworkError(error));
        }
        throw error;
      }
    },
    close() {
      agent.http.destroy();
      agent.https.destroy();
    },
  };
}

function describeNetworkError(error: RequestError): string {
  const code = error.code || 'network error';
  if (error.name === 'TimeoutError') return `timed out (${code})`;
  return `${code}: ${error.message}`;
}
