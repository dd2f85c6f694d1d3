import type { Router } from 'express';
import type { Registry } from 'prom-client';
import { failureReason } from '../src/errors.ts';
import type { MountedRoute } from '../src/http/server.ts';
import type { Logger } from '../src/log/logger.ts';

export interface HealthChecks {
  /** Each resolves when the dependency answers; rejects (or times out) otherwise. */
  [name: string]: () => Promise<unknown>;
}

export { hasBearerToken } from '../src/http/probes.ts';
export type { MountedRoute } from '../src/http/server.ts';

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

/** Check results as /readyz shows them: which dependency failed, never its error text (the log has it). */
export function withoutErrorText(checks: Record<string, CheckResult>): Record<string, { ok: boolean }> {
  return Object.fromEntries(Object.entries(checks).map(([name, result]) => [name, { ok: result.ok }]));
}

/**
 * The worker's HTTP server (the one express app of src/http/server.ts): `/healthz`: the process is up. `/readyz`: every dependency answers (503 naming the ones that do
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
  /** The HTTP API (src/http/api), served under /api/v1. */
  api?: Router | undefined;
}): Promise<HealthServer> {
  const readiness =
    options.readiness ??
    (async () => {
      const checks = await runChecks(options.checks ?? {});
      const failed = Object.keys(checks).filter((name) => !checks[name]!.ok);
      for (const name of failed) {
        const error = checks[name]!.error ?? '';
        options.logger.warn({ dependency: name, error: failureReason(error, 500) }, 'readiness check failed');
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
  const { createHttpApp, listen } = await import('../src/http/server.ts');
  const app = createHttpApp({
    logger: options.logger,
    probes: { logger: options.logger, readiness, metrics, token: options.token },
    mounts: options.routes ?? [],
    ...(options.api ? { api: options.api } : {}),
  });
  const server = await listen(app, options.port, options.host);
  const { port } = server;
  options.logger.info({ port, host: options.host }, 'health and metrics server listening');
  return { port, close: server.close };
}
