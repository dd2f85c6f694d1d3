import type { Command } from 'commander';
import { scheduleId } from '../../queue/contract.ts';
import { openQueue } from '../../queue/queue.ts';
import {
  clearSchedule,
  formatEvery,
  isStoredScheduler,
  listSchedules,
  parseEvery,
  reconcileSchedules,
  type ScheduleSpec,
  scheduleOffsetMs,
  setSchedule,
} from '../../queue/schedules.ts';
import type { ServiceContext } from '../../context.ts';
import { InvalidInputError } from '../../errors.ts';
import { runCommand, withJson } from '../context.ts';
import { printResult, renderTable } from '../output.ts';
import { serviceContextOf } from './catalog.ts';

/** Mirrors one project's schedule from Postgres into Redis (the worker also does it at start-up). */
async function reconcileProject(ctx: ServiceContext, projectId: string) {
  const handle = await openQueue(ctx.config, 'client');
  try {
    await reconcileSchedules(ctx, handle, { projectIds: [projectId] });
    const scheduler = await handle.queue.getJobScheduler(scheduleId(projectId));
    return isStoredScheduler(scheduler) && scheduler.next ? new Date(scheduler.next).toISOString() : null;
  } finally {
    await handle.close();
  }
}

function describe(schedule: { every: string | null; cron: string | null }): string {
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
      .description('sync a project periodically')
      .option('--every <duration>', 'interval, e.g. 6h, 30m, 1d')
      .option('--cron <expression>', 'cron expression, e.g. "0 */6 * * *"'),
  ).action((project: string, options: { json?: boolean; every?: string; cron?: string }) =>
    runCommand(options, async (cli) => {
      if ((options.every === undefined) === (options.cron === undefined)) {
        throw new InvalidInputError(
          'schedule',
          'give exactly one of --every (e.g. 6h) or --cron (e.g. "0 */6 * * *")',
        );
      }
      const spec: ScheduleSpec =
        options.every !== undefined ? { every: parseEvery(options.every) } : { cron: options.cron ?? '' };
      const ctx = await serviceContextOf(cli);
      const row = await setSchedule(ctx, project, spec);
      const nextRunAt = await reconcileProject(ctx, project);
      const every = row.scheduleEverySeconds ? formatEvery(row.scheduleEverySeconds) : null;
      const result = {
        ok: true,
        projectId: row.id,
        every,
        everySeconds: row.scheduleEverySeconds,
        cron: row.scheduleCron,
        offsetMs: row.scheduleEverySeconds ? scheduleOffsetMs(row.id, row.scheduleEverySeconds * 1000) : null,
        nextRunAt,
      };
      printResult(
        options,
        result,
        () =>
          `Project ${row.id} syncs ${describe(result)}; next run ${nextRunAt ?? 'when a worker picks it up'}.`,
      );
    }),
  );

  withJson(program.command('unschedule <project>').description('stop syncing a project periodically')).action(
    (project: string, options: { json?: boolean }) =>
      runCommand(options, async (cli) => {
        const ctx = await serviceContextOf(cli);
        const removed = await clearSchedule(ctx, project);
        // Reconciled even when Postgres had none: Redis may still hold a stale scheduler.
        await reconcileProject(ctx, project);
        printResult(options, { ok: true, projectId: project, removed }, () =>
          removed
            ? `Project ${project} is no longer synced periodically.`
            : `Project ${project} had no schedule.`,
        );
      }),
  );

  withJson(program.command('schedules').description('list schedules')).action((options: { json?: boolean }) =>
    runCommand(options, async (cli) => {
      const ctx = await serviceContextOf(cli);
      let handle: Awaited<ReturnType<typeof openQueue>> | undefined;
      try {
        handle = await openQueue(ctx.config, 'client');
        const schedules = await listSchedules(ctx, handle.queue);
        printResult(options, { ok: true, schedules }, () =>
          schedules.length === 0
            ? 'No project is scheduled. Add one with `catalog-sync schedule <project> --every 6h`.'
            : renderTable(
                ['project', 'schedule', 'next run', 'in Redis'],
                schedules.map((s) => [s.projectId, describe(s), s.nextRunAt ?? '', s.inQueue ? 'yes' : 'no']),
              ),
        );
      } finally {
        await handle?.close();
      }
    }),
  );
}
