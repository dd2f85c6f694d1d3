import type { Command } from 'commander';
import { printResult } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';

export function registerMigrate(program: Command): void {
  withJson(
    program.command('migrate').description('apply database migrations (safe to run twice or concurrently)'),
  ).action((options: JsonOption) =>
    runCommand(options, async ({ config }) => {
      const { migrate } = await import('../../app/migrate.ts');
      const result = await migrate(config);
      printResult(options, { ok: true, ...result }, () =>
        result.applied === 0
          ? `Database at ${result.location} is up to date (${result.total} migrations).`
          : `Applied ${result.applied} of ${result.total} migrations to ${result.location}.`,
      );
    }),
  );
}
