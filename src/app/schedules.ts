import { InvalidInputError } from '../errors.ts';
import { parseProjectId } from '../projects/id.ts';
import { type ScheduleRow, type ScheduleSpec, writeSchedule } from '../projects/store.ts';
import { scheduleId } from '../queue/contract.ts';
import {
  checkMinimumInterval,
  isStoredScheduler,
  listSchedules as listStoredSchedules,
  reconcileSchedules,
  type ScheduleDescription,
  type ScheduleListing,
  scheduleOffsetMs,
  validateCron,
} from '../queue/schedules.ts';
import { DURATION_HINT, formatDuration, parseDuration } from '../time/duration.ts';
import type { AppContext } from './context.ts';

/** `every`: seconds, or a duration such as `30m`, `6h`, `1d`, `1h30m`. `cron`: 5 fields, in UTC. */
export interface ScheduleInput {
  projectId: string;
  every?: number | string | undefined;
  cron?: string | undefined;
}

export type ScheduleInfo = ScheduleDescription;

const MAX_EVERY_SECONDS = 366 * 86_400;

/** Exactly one of `every` and `cron`, each checked by the one grammar for it. */
export function parseScheduleInput(
  input: Omit<ScheduleInput, 'projectId'>,
  minIntervalSeconds = 1,
): ScheduleSpec {
  const spec = parseSpec(input);
  checkMinimumInterval(spec, minIntervalSeconds);
  return spec;
}

function parseSpec(input: Omit<ScheduleInput, 'projectId'>): ScheduleSpec {
  const hasEvery = input.every !== undefined;
  const hasCron = input.cron !== undefined;
  if (hasEvery === hasCron) {
    throw new InvalidInputError(
      'schedule',
      'give exactly one of every (e.g. 6h) or cron (e.g. "0 */6 * * *")',
    );
  }
  if (hasCron) {
    if (typeof input.cron !== 'string')
      throw new InvalidInputError('cron', 'must be a string such as "0 */6 * * *"');
    return { cron: validateCron(input.cron) };
  }
  if (typeof input.every === 'number') {
    if (!Number.isInteger(input.every) || input.every < 1 || input.every > MAX_EVERY_SECONDS) {
      throw new InvalidInputError(
        'every',
        `must be a whole number of seconds from 1 to ${MAX_EVERY_SECONDS}, or a duration; ${DURATION_HINT}`,
      );
    }
    return { every: input.every };
  }
  if (typeof input.every === 'string')
    return { every: parseDuration(input.every, 'every', { max: MAX_EVERY_SECONDS }) };
  throw new InvalidInputError('every', `must be a number of seconds or a duration; ${DURATION_HINT}`);
}

function describeRow(row: ScheduleRow): Omit<ScheduleInfo, 'nextRunAt'> {
  const everySeconds = row.scheduleEverySeconds;
  return {
    projectId: row.id,
    every: everySeconds ? formatDuration(everySeconds) : null,
    everySeconds,
    cron: row.scheduleCron,
    offsetMs: everySeconds ? scheduleOffsetMs(row.id, everySeconds * 1000) : null,
  };
}

/** Mirrors one project's schedule into Redis and returns when it runs next. */
async function mirror(ctx: AppContext, projectId: string): Promise<string | null> {
  const handle = await ctx.queue();
  await reconcileSchedules(ctx, handle, { projectIds: [projectId] });
  const scheduler = await handle.queue.getJobScheduler(scheduleId(projectId));
  return isStoredScheduler(scheduler) && scheduler.next ? new Date(scheduler.next).toISOString() : null;
}

/** Sets the project's periodic sync (replacing any other); the workers pick it up at once. */
export async function schedule(ctx: AppContext, input: ScheduleInput): Promise<ScheduleInfo> {
  const projectId = parseProjectId(input?.projectId);
  const spec = parseScheduleInput(input, ctx.config.limits.scheduleMinIntervalSeconds);
  // Redis is reached first: a schedule stored in Postgres but not mirrored would only start at
  // the workers' next periodic reconcile.
  await ctx.queue();
  const { row } = await writeSchedule(ctx, projectId, spec);
  return { ...describeRow(row), nextRunAt: await mirror(ctx, projectId) };
}

/** Removes the project's periodic sync; `removed` is false when it had none. */
export async function unschedule(
  ctx: AppContext,
  input: { projectId: string },
): Promise<{ projectId: string; removed: boolean }> {
  const projectId = parseProjectId(input?.projectId);
  await ctx.queue();
  const { had } = await writeSchedule(ctx, projectId, null);
  // Mirrored even when Postgres had none: Redis may still hold a stale scheduler.
  await mirror(ctx, projectId);
  return { projectId, removed: had };
}

/** Every schedule in Postgres, with what Redis says about its next run. */
export async function listSchedules(ctx: AppContext): Promise<{ schedules: ScheduleListing[] }> {
  const redis = ctx.redis ? await ctx.redis() : await ctx.queue();
  return { schedules: await listStoredSchedules(ctx, redis) };
}

export type { ScheduleListing };
