import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { boundText } from '../src/errors.ts';
import type { Logger } from '../src/log/logger.ts';

export interface HealthChecks {
  /** Each resolves when the dependency answers; rejects (or times out) otherwise. */
  [name: string]: () => Promise<unknown>;
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

/** Whether the request carries `Authorization: Bearer <token>`, compared in constant time. */
export function hasBearerToken(req: Pick<IncomingMessage, 'headers'>, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (.+)$/i.exec(header);
  if (!match) return false;
  // Hashing first gives equal lengths, so timingSafeEqual leaks neither content nor length.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * `/healthz`: the process is up. `/readyz`: every dependency answers (503 naming the ones that do
 * not, never their error text: the log has it). `/metrics`: Prometheus text format. With a token,
 * `/readyz` and `/metrics` want `Authorization: Bearer <token>`; `/healthz` stays open.
 */
export async function startHealthServer(options: {
  port: number;
  host: string;
  registry: Registry;
  checks: HealthChecks;
  logger: Logger;
  /** METRICS_TOKEN: when set, /readyz and /metrics require it. */
  token?: string | undefined;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = (status: number, body: unknown) =>
      send(status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if ((path === '/readyz' || path === '/metrics') && options.token && !hasBearerToken(req, options.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return json(401, { error: 'unauthorized: send Authorization: Bearer <METRICS_TOKEN>' });
    }
    if (path === '/readyz') {
      void (async () => {
        const names = Object.keys(options.checks);
        const results = await Promise.all(names.map((name) => runCheck(options.checks[name]!)));
        const failed = names.filter((_, i) => !results[i]!.ok);
        for (const name of failed) {
          const error = results[names.indexOf(name)]!.error ?? '';
          options.logger.warn({ dependency: name, error: boundText(error, 500) }, 'readiness check failed');
        }
        const checks = Object.fromEntries(names.map((name, i) => [name, { ok: results[i]!.ok }]));
        const ready = failed.length === 0;
        json(ready ? 200 : 503, {
          status: ready ? 'ready' : 'not ready',
          ...(ready ? {} : { failed }),
          checks,
        });
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
