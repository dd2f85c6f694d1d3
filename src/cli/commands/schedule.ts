import type { Command } from 'commander';
import { printResult, renderTable } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';

export function describeSchedule(schedule: { every: string | null; cron: string | null }): string {
  return schedule.every
    ? `every ${schedule.every}`
    : schedule.cron
      ? `cron "${schedule.cron}" (UTC)`
      : 'none';
}

export function registerSchedule(program: Command): void {
  withJson(
    program
      .command('schedule <project>')
      .description('sync a project periodically (give one of --every and --cron)')
      .option('--every <duration>', 'interval, e.g. 30m, 6h, 1d, 2w or 1h30m')
      .option('--cron <expression>', 'cron expression in UTC, e.g. "0 */6 * * *"'),
  ).action((project: string, options: JsonOption & { every?: string; cron?: string }) =>
    runCommand(options, async (cli) => {
      const { schedule } = await import('../../app/schedules.ts');
      const info = await schedule(await cli.app(), {
        projectId: project,
        every: options.every,
        cron: options.cron,
      });
      printResult(
        options,
        { ok: true, ...info },
        () =>
          `Project ${info.projectId} syncs ${describeSchedule(info)}; next run ${info.nextRunAt ?? 'when a worker picks it up'}.`,
      );
    }),
  );

  withJson(program.command('unschedule <project>').description('stop syncing a project periodically')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const { unschedule } = await import('../../app/schedules.ts');
        const result = await unschedule(await cli.app(), { projectId: project });
        printResult(options, { ok: true, ...result }, () =>
          result.removed
            ? `Project ${result.projectId} is no longer synced periodically.`
            : `Project ${result.projectId} had no schedule.`,
        );
      }),
  );

  withJson(program.command('schedules').description('list schedules')).action((options: JsonOption) =>
    runCommand(options, async (cli) => {
      const { listSchedules } = await import('../../app/schedules.ts');
      const { schedules } = await listSchedules(await cli.app());
      printResult(options, { ok: true, schedules }, () =>
        schedules.length === 0
          ? 'No project is scheduled. Add one with `catalog-sync schedule <project> --every 6h`.'
          : renderTable(
              ['project', 'schedule', 'next run', 'in Redis'],
              schedules.map((s) => [
                s.projectId,
                describeSchedule(s),
                s.nextRunAt ?? '',
                s.inQueue ? 'yes' : 'no',
              ]),
            ),
      );
    }),
  );
}
