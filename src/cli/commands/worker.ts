import type { Command } from 'commander';
import { type JsonOption, runCommand, withJson } from '../run.ts';

export function registerWorker(program: Command): void {
  withJson(
    program
      .command('worker')
      .description('run the worker (the main job): processes syncs and verifications, keeps schedules'),
  ).action((options: JsonOption) =>
    runCommand(options, async ({ config, logger }) => {
      const { runWorker } = await import('../../../jobs/main.ts');
      const code = await runWorker(config, logger);
      process.exitCode = code;
      // Everything is closed; if a stray handle still holds the event loop, do not linger.
      setTimeout(() => process.exit(code), 2_000).unref();
    }),
  );
}
