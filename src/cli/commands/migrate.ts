import type { Command } from 'commander';
import { migrateDatabase } from '../../../db/migrate.ts';
import { runCommand, withJson } from '../context.ts';
import { printResult } from '../output.ts';

export function registerMigrate(program: Command): void {
  withJson(
    program.command('migrate').description('apply database migrations (safe to run twice or concurrently)'),
  ).action((options: { json?: boolean }) =>
    runCommand(options, async ({ config }) => {
      const result = await migrateDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      printResult(options, { ok: true, ...result }, () =>
        result.applied === 0
          ? `Database at ${result.location} is up to date (${result.total} migrations).`
          : `Applied ${result.applied} of ${result.total} migrations to ${result.location}.`,
      );
    }),
  );
}
