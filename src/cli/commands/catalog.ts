import type { Command } from 'commander';
import { AppError } from '../../errors.ts';
import { runCommand, withJson } from '../context.ts';

// Stub: the issue that owns these commands replaces this module.
const notYet = (options: { json?: boolean }) =>
  runCommand(options, async () => {
    throw new AppError('not_implemented', 'This command is not implemented yet.');
  });

export function registerCatalogQueries(program: Command): void {
  withJson(program.command('status <project>').description('credential status, last runs')).action(notYet);
  withJson(program.command('products <project>').description('stored products')).action(notYet);
  withJson(
    program
      .command('changes <project>')
      .description('change log')
      .option('--since <time>', 'ISO date-time or duration like 24h'),
  ).action(notYet);
  withJson(program.command('rules <project>').description('revenue-attribution rules in force')).action(
    notYet,
  );
}
