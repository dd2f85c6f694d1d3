import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { InvalidInputError, PreconditionError } from '../../errors.ts';
import { type Cli, runCommand, withJson } from '../run.ts';

interface ConsoleCommandOptions {
  json?: boolean;
  port?: string;
  host?: string;
}

export const DEFAULT_CONSOLE_PORT = 9465;

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_CONSOLE_PORT;
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65_535) {
    throw new InvalidInputError('port', 'must be a whole number from 0 to 65535 (0 picks a free port).');
  }
  return port;
}

export function registerConsole(program: Command): void {
  withJson(
    program
      .command('console')
      .description('run the operator console on its own (the worker also serves it under /console)')
      .option('--port <n>', `port to listen on (default ${DEFAULT_CONSOLE_PORT}; 0 picks a free one)`)
      .option('--host <address>', 'interface to listen on (default 127.0.0.1)'),
  ).action((options: ConsoleCommandOptions) => runCommand(options, (cli) => runConsole(cli, options)));
}

async function runConsole(cli: Cli, options: ConsoleCommandOptions): Promise<void> {
  const port = parsePort(options.port);
  const host = options.host ?? '127.0.0.1';
  if (!cli.config.console.enabled) {
    throw new PreconditionError(
      'The console is off: set CONSOLE_TOKEN (operator) and/or CONSOLE_READ_TOKEN (read-only), ' +
        'at least 16 characters each (`openssl rand -base64 24` makes one), then start it again.',
    );
  }
  const app = await cli.app();
  const handle = await app.queue();
  const { createConsole } = await import('../../console/index.ts');
  // Loaded by this command only: `--help` and the other commands load no HTTP server.
  const { createServer } = await import('node:http');
  {
    const { db, config, logger } = app;
    const consoleServer = await createConsole({
      ctx: { db, config, logger },
      access: config.console,
      queue: handle,
    });
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path === '/console' || path.startsWith('/console/') || path === '/favicon.ico') {
        return consoleServer.handle(req, res);
      }
      if (path === '/') {
        res.writeHead(303, { location: '/console/projects' });
        return res.end();
      }
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not found: the console is under /console\n');
    });
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new InvalidInputError(
                'port',
                `${port} is already in use; pass another --port (0 picks a free one).`,
              )
            : error,
        ),
      );
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/console`;
    if (options.json) process.stdout.write(`${JSON.stringify({ ok: true, url, port: address.port })}\n`);
    else process.stdout.write(`Operator console listening on ${url}\nStop with Ctrl-C.\n`);
    cli.logger.info({ port: address.port, host }, 'console listening');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await consoleServer.close();
  }
}
