import type { Command } from 'commander';
import { InvalidInputError, PreconditionError } from '../../errors.ts';
import { type Cli, runCommand, withJson } from '../run.ts';
import { serveHttp } from './serve.ts';

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
  // The one HTTP app of `serve` and the worker, with the console alone mounted.
  await serveHttp(cli, { json: options.json, port, host, api: false, console: true });
}
