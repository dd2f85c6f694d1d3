import type { Command } from 'commander';
import { AppError } from '../../errors.ts';
import { runCommand, withJson } from '../context.ts';

// Stub: the issue that owns these commands replaces this module.
const notYet = (options: { json?: boolean }) =>
  runCommand(options, async () => {
    throw new AppError('not_implemented', 'This command is not implemented yet.');
  });

export function registerSchedule(program: Command): void {
  withJson(
    program
      .command('schedule <project>')
      .description('sync a project periodically')
      .option('--every <duration>', 'interval, e.g. 6h, 30m, 1d')
      .option('--cron <expression>', 'cron expression, e.g. "0 */6 * * *"'),
  ).action(notYet);
  withJson(program.command('unschedule <project>').description('stop syncing a project periodically')).action(
    notYet,
  );
  withJson(program.command('schedules').description('list schedules')).action(notYet);
}
