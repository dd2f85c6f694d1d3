import type { Command } from 'commander';
import type { Database } from '../../db/client.ts';
import type { AppContext } from '../app/context.ts';
import { closeSharedAgents } from '../appstore/agents.ts';
import type { Config } from '../config/env.ts';
import type { Logger } from '../log/logger.ts';
import { flagOf } from './fields.ts';
import { printJson } from './output.ts';

/*
 * What every command runs through. It loads nothing heavy itself: configuration, logging, the
 * database driver and the queue are imported when a command first needs them, so `--help`, a
 * usage error or a command that reads Postgres pays only for what it uses.
 */

export interface Cli {
  config: Config;
  logger: Logger;
  /** The application context: opens the database now, the queue on first use. Closed at the end. */
  app(): Promise<AppContext>;
  /** The database alone (opened by app() too). */
  database(): Promise<Database>;
}

/** Options every command takes. */
export interface JsonOption {
  json?: boolean;
}

/** Adds `--json` to a command. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON');
}

/** Exit codes: 0 success, 1 failure, 2 usage (bad arguments or options, whichever layer found them). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Runs a command body with config, logger and (on demand) the database and queue, then closes
 * everything. Errors become one clear line (or a JSON object with --json) and exit code 1, or 2
 * when the input was refused.
 */
export async function runCommand(options: JsonOption, body: (cli: Cli) => Promise<void>): Promise<void> {
  let database: Promise<Database> | undefined;
  let queue: { close(): Promise<void> } | undefined;
  let databaseUrl: string | undefined;
  try {
    const { loadConfig } = await import('../config/env.ts');
    const { createLogger, setLogger } = await import('../log/logger.ts');
    const config = loadConfig();
    databaseUrl = config.databaseUrl;
    // Logs go to stderr so that stdout stays the command's result (tables or JSON).
    const logger = createLogger({
      level: config.log.level,
      format: config.log.format,
      fd: 2,
      prettyInline: true,
    });
    setLogger(logger);
    const openDatabase = () => {
      database ??= import('../../db/client.ts').then(({ openDatabase: open }) =>
        open({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }),
      );
      return database;
    };
    let app: Promise<AppContext> | undefined;
    const cli: Cli = {
      config,
      logger,
      database: openDatabase,
      app: () => {
        app ??= (async () => {
          const { db } = await openDatabase();
          const { lazyQueue } = await import('../app/context.ts');
          const lazy = lazyQueue(config);
          queue = lazy;
          return { db, config, logger, queue: lazy.queue, queueEvents: lazy.queueEvents, redis: lazy.redis };
        })();
        return app;
      },
    };
    await body(cli);
  } catch (error) {
    process.exitCode = await reportError(options, error, databaseUrl);
  } finally {
    await queue?.close();
    const opened = await database?.catch(() => undefined);
    await opened?.close();
    // One command per process: the keep-alive sockets to Apple go with it.
    closeSharedAgents();
  }
}

/** Prints the error (flags instead of field names) and returns the exit code it deserves. */
export async function reportError(
  options: JsonOption,
  error: unknown,
  databaseUrl?: string,
): Promise<number> {
  const { AppError, InvalidInputError, errorKind, errorMessage } = await import('../errors.ts');
  const { ConfigError } = await import('../config/env.ts');
  const { scrubSecrets } = await import('../log/logger.ts');
  const { asAppError } = await import('../database/errors.ts');
  const shown = asAppError(error, { doing: 'this command', databaseUrl });
  const usage = shown instanceof InvalidInputError;
  const message = scrubSecrets(
    shown instanceof InvalidInputError ? `${flagOf(shown.field)}: ${shown.reason}` : errorMessage(shown),
  );
  if (options.json) {
    printJson({
      ok: false,
      error: {
        kind: shown instanceof ConfigError ? 'config' : errorKind(shown),
        message,
        ...(shown instanceof InvalidInputError ? { field: shown.field } : {}),
      },
    });
  } else {
    process.stderr.write(`error: ${message}\n`);
    const known = shown instanceof AppError || shown instanceof ConfigError;
    if (!known && shown instanceof Error && shown.stack && process.env.LOG_LEVEL === 'debug') {
      process.stderr.write(`${scrubSecrets(shown.stack)}\n`);
    }
  }
  return usage ? EXIT.usage : EXIT.failure;
}
