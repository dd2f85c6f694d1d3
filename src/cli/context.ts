import type { Command } from 'commander';
import { type Database, openDatabase } from '../../db/client.ts';
import { publicDatabaseError } from '../../db/errors.ts';
import { closeSharedAgents } from '../appstore/index.ts';
import { type Config, ConfigError, loadConfig } from '../config/env.ts';
import { AppError, errorKind, errorMessage } from '../errors.ts';
import { createLogger, type Logger, scrubSecrets, setLogger } from '../log/logger.ts';
import { printJson } from './output.ts';

export interface CliContext {
  config: Config;
  logger: Logger;
  /** Opened on first use, closed when the command ends (the embedded database must be). */
  database(): Promise<Database>;
}

/** Adds `--json` to a command. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON');
}

/**
 * Runs a command body with config, logger and database, then closes everything.
 * Errors become one clear line (or a JSON object with --json) and exit code 1.
 */
export async function runCommand(
  options: { json?: boolean },
  body: (context: CliContext) => Promise<void>,
): Promise<void> {
  let database: Database | undefined;
  let config: Config | undefined;
  try {
    const loaded = loadConfig();
    config = loaded;
    // Logs go to stderr so that stdout stays the command's result (tables or JSON).
    const logger = createLogger({ level: config.log.level, format: config.log.format, fd: 2 });
    setLogger(logger);
    const context: CliContext = {
      config: loaded,
      logger,
      database: async () => {
        database ??= await openDatabase({ databaseUrl: loaded.databaseUrl, dataDir: loaded.dataDir });
        return database;
      },
    };
    await body(context);
  } catch (error) {
    // A raw SQL or socket error becomes what is wrong and what to do (db/errors.ts).
    reportError(options, publicDatabaseError(error, { databaseUrl: config?.databaseUrl }));
    process.exitCode = 1;
  } finally {
    // One command per process: the keep-alive sockets to Apple go with it.
    closeSharedAgents();
    await database?.close();
  }
}

export function reportError(options: { json?: boolean }, error: unknown): void {
  const message = scrubSecrets(errorMessage(error));
  if (options.json) {
    printJson({
      ok: false,
      error: { kind: error instanceof ConfigError ? 'config' : errorKind(error), message },
    });
    return;
  }
  const known = error instanceof AppError || error instanceof ConfigError;
  process.stderr.write(`error: ${message}\n`);
  if (!known && error instanceof Error && error.stack && process.env.LOG_LEVEL === 'debug') {
    process.stderr.write(`${scrubSecrets(error.stack)}\n`);
  }
}
