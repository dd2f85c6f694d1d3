#!/usr/bin/env node
// First, so that an older Node.js gets one sentence, not a stack trace.
import '../config/node-version.ts';
// Before any command loads the database layer (why: the module's comment).
import '../startup/resolve-hook.ts';
import { Command, CommanderError } from 'commander';
import { registerAttribution } from './commands/attribution.ts';
import { registerCatalogQueries } from './commands/catalog.ts';
import { registerConsole } from './commands/console.ts';
import { registerCredentials } from './commands/credentials.ts';
import { registerDetails } from './commands/details.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerSchedule } from './commands/schedule.ts';
import { registerServe } from './commands/serve.ts';
import { registerSimulator } from './commands/simulator.ts';
import { registerSync } from './commands/sync.ts';
import { registerTokens } from './commands/tokens.ts';
import { registerWebhooks } from './commands/webhooks.ts';
import { registerWorker } from './commands/worker.ts';

/** The operator CLI. Each concern registers its commands from its own module. */
export function buildProgram(): Command {
  const program = new Command('catalog-sync')
    .description('Keeps App Store catalogs (IAPs, subscriptions, grace period) true in Postgres.')
    .showHelpAfterError('(run `catalog-sync --help` for the list of commands)')
    .exitOverride();
  registerMigrate(program);
  registerWorker(program);
  registerSimulator(program);
  registerCredentials(program);
  registerSync(program);
  registerSchedule(program);
  registerCatalogQueries(program);
  registerWebhooks(program);
  registerDetails(program);
  registerConsole(program);
  registerServe(program);
  registerTokens(program);
  registerAttribution(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors (unknown command, missing argument) exit 2.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    throw error;
  }
}

await main(process.argv);
