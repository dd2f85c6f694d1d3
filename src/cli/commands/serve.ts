import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.ts';
import type { MountedRoute } from '../../http/server.ts';
import { type Cli, runCommand, withJson } from '../run.ts';

/*
 * `serve`: the HTTP API (and the operator console when a console token is set) on its own,
 * loopback by default; `console`: the console alone. Both serve the one express app of
 * src/http/server.ts, as the worker does beside /metrics.
 */

interface ServeOptions {
  json?: boolean;
  port?: string;
  host?: string;
}

export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65_535) {
    throw new InvalidInputError('port', 'must be a whole number from 0 to 65535 (0 picks a free port).');
  }
  return port;
}

export function registerServe(program: Command): void {
  withJson(
    program
      .command('serve')
      .description('serve the HTTP API under /api/v1 (and the console under /console when configured)')
      .option('--port <n>', 'port to listen on (default API_PORT, 9466; 0 picks a free one)')
      .option('--host <address>', 'interface to listen on (default API_HOST, 127.0.0.1)'),
  ).action((options: ServeOptions) =>
    runCommand(options, (cli) =>
      serveHttp(cli, {
        ...options,
        port: parsePort(options.port, cli.config.api.port),
        host: options.host ?? cli.config.api.host,
        api: true,
        console: cli.config.console.enabled,
      }),
    ),
  );
}

/** Serves until SIGINT/SIGTERM; prints where (a JSON line with --json). */
export async function serveHttp(
  cli: Cli,
  options: { json?: boolean | undefined; port: number; host: string; api: boolean; console: boolean },
): Promise<void> {
  const app = await cli.app();
  const { createHttpApp, listen } = await import('../../http/server.ts');
  const mounts: MountedRoute[] = [];
  let consoleServer: { close(): Promise<void> } | undefined;
  if (options.console) {
    const handle = await app.queue();
    const { createConsole } = await import('../../console/index.ts');
    const { db, config, logger } = app;
    const created = await createConsole({
      ctx: { db, config, logger },
      access: config.console,
      queue: handle,
    });
    consoleServer = created;
    // Browsers ask for /favicon.ico on their own; the console draws it.
    mounts.push(
      { prefix: '/console', handle: created.handle },
      { prefix: '/favicon.ico', handle: created.handle },
    );
  }
  const api = options.api ? (await import('../../http/api/index.ts')).apiRouter({ ctx: app }) : undefined;
  const server = await listen(
    createHttpApp({
      logger: cli.logger,
      mounts,
      ...(api ? { api } : {}),
      ...(options.console ? { home: '/console/projects' } : {}),
    }),
    options.port,
    options.host,
  );
  const base = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${server.port}`;
  const urls = {
    ...(options.api ? { api: `${base}/api/v1`, openapi: `${base}/api/v1/openapi.json` } : {}),
    ...(options.console ? { console: `${base}/console` } : {}),
  };
  if (options.json)
    process.stdout.write(
      `${JSON.stringify({ ok: true, port: server.port, url: urls.console ?? urls.api, ...urls })}\n`,
    );
  else {
    if (urls.api) process.stdout.write(`HTTP API listening on ${urls.api} (OpenAPI: ${urls.openapi})\n`);
    if (urls.console) process.stdout.write(`Operator console listening on ${urls.console}\n`);
    process.stdout.write('Stop with Ctrl-C.\n');
  }
  cli.logger.info({ port: server.port, host: options.host, ...urls }, 'HTTP server listening');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  await consoleServer?.close();
}
