import type { Command } from 'commander';
import { runWorker } from '../../../jobs/main.ts';
import { runCommand, withJson } from '../context.ts';

export function registerWorker(program: Command): void {
  withJson(
    program
      .command('worker')
      .description('run the worker (the main job): processes syncs and verifications, keeps schedules'),
  ).action((options: { json?: boolean }) =>
    runCommand(options, async ({ config, logger }) => {
      const code = await runWorker(config, logger);
      process.exitCode = code;
      // Everything is closed; if a stray handle still holds the event loop, do not linger.
      setTimeout(() => process.exit(code), 2_000).unref();
    }),
  );
}
