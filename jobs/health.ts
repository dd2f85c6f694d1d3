import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../src/log/logger.ts';

export interface HealthChecks {
  /** Each resolves when the dependency answers; rejects (or times out) otherwise. */
  [name: string]: () => Promise<unknown>;
}

/** A handler mounted under a path prefix (e.g. the operator console under `/console`). */
export interface MountedRoute {
  prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS}ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz`: the process is up. `/readyz`: every dependency answers (503 naming the ones that do
 * not). `/metrics`: Prometheus text format.
 */
export async function startHealthServer(options: {
  port: number;
  host: string;
  registry: Registry;
  checks: HealthChecks;
  logger: Logger;
  /** Extra handlers, matched by path prefix before the built-in endpoints; they answer any method. */
  routes?: MountedRoute[];
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const mounted = options.routes?.find((r) => path === r.prefix || path.startsWith(`${r.prefix}/`));
    if (mounted) return mounted.handle(req, res);
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = (status: number, body: unknown) =>
      send(status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      void (async () => {
        const names = Object.keys(options.checks);
        const results = await Promise.all(names.map((name) => runCheck(options.checks[name]!)));
        const checks = Object.fromEntries(names.map((name, i) => [name, results[i]]));
        const ready = results.every((r) => r.ok);
        json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
      })();
      return;
    }
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((text) => send(200, options.registry.contentType, text))
        .catch((error: unknown) => {
          options.logger.warn({ err: error }, 'metrics collection failed');
          send(500, 'text/plain; charset=utf-8', 'metrics collection failed\n');
        });
      return;
    }
    json(404, { error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics'] });
  });
  // A scrape in flight must not hold a shutting-down process.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  options.logger.info({ port, host: options.host }, 'health and metrics server listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
