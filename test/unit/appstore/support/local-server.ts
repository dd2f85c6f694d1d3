import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../../../../src/log/logger.ts';

/*
 * A tiny in-process HTTP server for what the simulator cannot be asked to do (next links
 * to another host, repeated cursors), plus helpers shared by the client tests.
 */

export interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen[]) => void;

export interface LocalServer {
  baseUrl: string;
  seen: Seen[];
  close(): Promise<void>;
}

export async function startLocalServer(handler: Handler): Promise<LocalServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res, seen);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export const testKey = (() => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
})();

/** A logger writing JSON lines into `lines`, with the project's redaction and scrubbing. */
export function captureLogger(level = 'debug'): {
  logger: Logger;
  lines: string[];
  entries: () => Record<string, unknown>[];
} {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

export const app = (id: string) => ({
  type: 'apps',
  id,
  attributes: {
    name: `App ${id}`,
    bundleId: `com.example.app${id}`,
    sku: `SKU${id}`,
    primaryLocale: 'en-US',
  },
  links: { self: `/v1/apps/${id}` },
});
