import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { boundText } from '../src/errors.ts';
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

export interface CheckResult {
  ok: boolean;
  error?: string;
}

/** Runs every check at once, each bounded by a timeout. */
export async function runChecks(checks: HealthChecks): Promise<Record<string, CheckResult>> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => runCheck(checks[name]!)));
  return Object.fromEntries(names.map((name, i) => [name, results[i]!]));
}

async function runCheck(check: () => Promise<unknown>): Promise<CheckResult> {
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

/** Check results as /readyz shows them: which dependency failed, never its error text (the log has it). */
export function withoutErrorText(checks: Record<string, CheckResult>): Record<string, { ok: boolean }> {
  return Object.fromEntries(Object.entries(checks).map(([name, result]) => [name, { ok: result.ok }]));
}

/**
 * `/healthz`: the process is up. `/readyz`: every dependency answers (503 naming the ones that do
 * not, never their error text: the log has it). `/metrics`: Prometheus text format. With a token,
 * `/readyz` and `/metrics` want `Authorization: Bearer <token>`; `/healthz` stays open. A group's
 * supervisor passes `metrics` and `readiness` that cover all its processes.
 */
export async function startHealthServer(options: {
  port: number;
  host: string;
  logger: Logger;
  /** One process's metrics... */
  registry?: Registry;
  /** ...or a whole group's (the supervisor aggregates its children's). */
  metrics?: () => Promise<{ contentType: string; text: string }>;
  /** One process's dependencies... */
  checks?: HealthChecks;
  /** ...or a whole group's readiness. */
  readiness?: () => Promise<{ ready: boolean } & Record<string, unknown>>;
  /** METRICS_TOKEN: when set, /readyz and /metrics require it. */
  token?: string | undefined;
  /** Extra handlers, matched by path prefix before the built-in endpoints; they answer any method. */
  routes?: MountedRoute[];
}): Promise<HealthServer> {
  const readiness =
    options.readiness ??
    (async () => {
      const checks = await runChecks(options.checks ?? {});
      const failed = Object.keys(checks).filter((name) => !checks[name]!.ok);
      for (const name of failed) {
        const error = checks[name]!.error ?? '';
        options.logger.warn({ dependency: name, error: boundText(error, 500) }, 'readiness check failed');
      }
      return {
        ready: failed.length === 0,
        ...(failed.length ? { failed } : {}),
        checks: withoutErrorText(checks),
      };
    });
  const registry = options.registry;
  const metrics =
    options.metrics ??
    (async () => ({
      contentType: registry?.contentType ?? 'text/plain',
      text: (await registry?.metrics()) ?? '',
    }));
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
    if ((path === '/readyz' || path === '/metrics') && options.token && !hasBearerToken(req, options.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return json(401, { error: 'unauthorized: send Authorization: Bearer <METRICS_TOKEN>' });
    }
    if (path === '/readyz') {
      readiness()
        .then(({ ready, ...rest }) =>
          json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...rest }),
        )
        .catch((error: unknown) => {
          options.logger.warn({ reason: boundText(String(error), 500) }, 'readiness check failed');
          json(503, { status: 'not ready' });
        });
      return;
    }
    if (path === '/metrics') {
      metrics()
        .then(({ contentType, text }) => send(200, contentType, text))
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
