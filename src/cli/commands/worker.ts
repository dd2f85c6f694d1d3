import { type Command, InvalidArgumentError } from 'commander';
import { runCommand, withJson } from '../run.ts';

function processCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 256)
    throw new InvalidArgumentError('must be a whole number from 1 to 256');
  return n;
}

export function registerWorker(program: Command): void {
  withJson(
    program
      .command('worker')
      .description('run the worker (the main job): processes syncs and verifications, keeps schedules')
      .option(
        '--processes <n>',
        'worker processes under one supervisor (default WORKER_PROCESSES, else one per available core; 1 = a single process)',
        processCount,
      ),
  ).action((options: { json?: boolean; processes?: number }) =>
    runCommand(options, async ({ config, logger }) => {
      // The worker (BullMQ, the supervisor) loads only for this command.
      const { runWorkerGroup } = await import('../../../jobs/supervisor.ts');
      const code = await runWorkerGroup(config, logger, { processes: options.processes });
      process.exitCode = code;
      // Everything is closed; if a stray handle still holds the event loop, do not linger.
      setTimeout(() => process.exit(code), 2_000).unref();
    }),
  );
}
