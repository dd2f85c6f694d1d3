import type { Command } from 'commander';
import { AppError } from '../../errors.ts';
import { runCommand, withJson } from '../context.ts';

// Stub: the issue that owns these commands replaces this module.
const notYet = (options: { json?: boolean }) =>
  runCommand(options, async () => {
    throw new AppError('not_implemented', 'This command is not implemented yet.');
  });

export function registerWorker(program: Command): void {
  withJson(program.command('worker').description('run the worker (the main job)')).action(notYet);
}
