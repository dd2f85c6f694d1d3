import type { Command } from 'commander';
import { AppError } from '../../errors.ts';
import { runCommand, withJson } from '../context.ts';

// Stub: the issue that owns these commands replaces this module.
const notYet = (options: { json?: boolean }) =>
  runCommand(options, async () => {
    throw new AppError('not_implemented', 'This command is not implemented yet.');
  });

export function registerSync(program: Command): void {
  withJson(
    program
      .command('sync <project>')
      .description('enqueue (or run inline) a sync')
      .option('--wait', 'wait for the queued sync to finish')
      .option('--inline', 'run the sync in this process'),
  ).action(notYet);
}
