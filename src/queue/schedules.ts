import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import type { JobSchedulerJson } from 'bullmq';
import type { ServiceContext } from '../context.ts';
import { InvalidInputError } from '../errors.ts';
import { loadScheduleRows, type ScheduleRow, type ScheduleSpec } from '../projects/store.ts';
import { formatDuration } from '../time/duration.ts';
import type { QueueRedis } from './connection.ts';
import { defaultJobOptions, SYNC_JOB, type SyncCatalogPayload, scheduleId } from './contract.ts';
import { withRedisLock } from './lock.ts';
import { readNextRuns } from './next-runs.ts';
import { mapPool } from './pool.ts';
import type { CatalogQueue } from './queue.ts';
import type { RedisConnection } from './redis.ts';

/*
 * Postgres (`projects.schedule_every_seconds` / `schedule_cron`) is the source of truth; BullMQ's
 * job schedulers (`sync:<projectId>`) mirror it. Every write to Redis goes through a reconcile
 * under a short Redis lock, so concurrent workers and CLI calls neither duplicate nor lose one,
 * and a Redis that lost its data gets every schedule back from Postgres.
 */

/** Cron is evaluated in UTC, whatever the worker host's zone. */
export const CRON_TZ = 'UTC';

const require = createRequire(import.meta.url);
/**
 * cron-parser (with luxon, 17 modules) is loaded by the first cron expression checked, not by the
 * read commands (`schedules`, `status`) that import this module for the listing.
 */
const cronParser = () => (require('cron-parser') as typeof import('cron-parser')).CronExpressionParser;

const CRON_ALIASES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly']);

/** Validates a cron expression (5 fields, or 6 with seconds, or @hourly-style aliases); returns it normalised. */
export function validateCron(expression: string): string {
  const normalised = expression.trim().replace(/\s+/g, ' ');
  const hint = 'use 5 fields (minute hour day-of-month month day-of-week), e.g. "0 */6 * * *"';
  const fields = normalised.split(' ').length;
  if (CRON_ALIASES.has(normalised)) return normalised;
  // `H` (hashed) fields are cron-parser 5 only; BullMQ evaluates schedules with cron-parser 4.
  if ((fields !== 5 && fields !== 6) || /(^|[ ,])H(?=$|[ ,/(])/i.test(normalised)) {
    throw new InvalidInputError('cron', `"${expression}" is not a cron expression; ${hint}`);
  }
  try {
    cronParser().parse(normalised, { tz: CRON_TZ }).next();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError(
      'cron',
      `"${expression}" is not a valid cron expression (${reason}); ${hint}`,
    );
  }
  return normalised;
}

/** Consecutive cron occurrences sampled to find its shortest gap (a cron can burst in one hour only). */
const CRON_SAMPLE_OCCURRENCES = 500;
/** A fixed start, so the verdict on an expression does not depend on when it was given. */
const CRON_SAMPLE_START = new Date('2025-01-01T00:00:00Z');

/** The shortest gap, in seconds, between consecutive occurrences of a (valid) cron expression. */
export function shortestCronGapSeconds(expression: string): number {
  const iterator = cronParser().parse(expression, { tz: CRON_TZ, currentDate: CRON_SAMPLE_START });
  let previous = iterator.next().getTime();
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 1; i < CRON_SAMPLE_OCCURRENCES && iterator.hasNext(); i++) {
    const next = iterator.next().getTime();
    shortest = Math.min(shortest, (next - previous) / 1000);
    previous = next;
  }
  return shortest;
}

/**
 * How long until a project's next scheduled sync, seen from a sync running at `now`: its interval
 * for `every` (the running sync is one of its occurrences), the next occurrence for cron; null
 * without a schedule. The detail refresh reads ahead by this much (src/details/refresh.ts).
 */
export function untilNextSyncMs(row: Omit<ScheduleRow, 'id'>, now: Date): number | null {
  if (row.scheduleEverySeconds !== null) return row.scheduleEverySeconds * 1000;
  if (row.scheduleCron === null) return null;
  const iterator = cronParser().parse(row.scheduleCron, { tz: CRON_TZ, currentDate: now });
  return iterator.hasNext() ? iterator.next().getTime() - now.getTime() : null;
}

/**
 * Refuses a schedule that runs more often than SCHEDULE_MIN_INTERVAL_SECONDS: one sync a second
 * burns a key's hourly App Store Connect budget in minutes. For cron, the shortest gap between
 * consecutive occurrences counts (`* * * * *` and `0-4 9 * * *` are both once a minute).
 */
export function checkMinimumInterval(spec: ScheduleSpec, minSeconds: number): void {
  const minimum = formatDuration(minSeconds);
  const raise = `the minimum is ${minimum} (SCHEDULE_MIN_INTERVAL_SECONDS=${minSeconds})`;
  if ('every' in spec) {
    if (spec.every < minSeconds) {
      throw new InvalidInputError(
        'every',
        `${formatDuration(spec.every)} is more often than allowed: ${raise}; choose ${minimum} or longer.`,
      );
    }
    return;
  }
  const gap = shortestCronGapSeconds(spec.cron);
  if (gap < minSeconds) {
    throw new InvalidInputError(
      'cron',
      `"${spec.cron}" runs as often as every ${formatDuration(gap)}: ${raise}; choose an expression whose runs are at least ${minimum} apart.`,
    );
  }
}

/**
 * A stable offset in [1, every) from the project id, so projects on one interval fire spread
 * across it rather than in the same second. Never 0: BullMQ treats 0 as "no offset" and then
 * stores one derived from the current time, which would make every reconcile see a difference.
 */
export function scheduleOffsetMs(projectId: string, everyMs: number): number {
  if (everyMs <= 1) return 0;
  const hash = createHash('sha256').update(projectId).digest();
  return 1 + (hash.readUIntBE(0, 6) % (everyMs - 1));
}

export interface DesiredScheduler {
  id: string;
  projectId: string;
  every?: number;
  offset?: number;
  pattern?: string;
  tz?: string;
}

export function desiredScheduler(row: ScheduleRow): DesiredScheduler | null {
  if (row.scheduleEverySeconds) {
    const every = row.scheduleEverySeconds * 1000;
    return { id: scheduleId(row.id), projectId: row.id, every, offset: scheduleOffsetMs(row.id, every) };
  }
  if (row.scheduleCron)
    return { id: scheduleId(row.id), projectId: row.id, pattern: row.scheduleCron, tz: CRON_TZ };
  return null;
}

function templateData(projectId: string): SyncCatalogPayload {
  return { projectId, trigger: 'schedule' };
}

/** Whether the scheduler in Redis already is what Postgres asks for (so a reconcile writes nothing). */
export function schedulerMatches(
  existing: JobSchedulerJson,
  desired: DesiredScheduler,
  attempts: number,
): boolean {
  if (existing.name !== SYNC_JOB) return false;
  if ((existing.every ?? undefined) !== desired.every) return false;
  if ((existing.pattern ?? undefined) !== desired.pattern) return false;
  if (desired.every !== undefined && existing.offset !== desired.offset) return false;
  if (desired.pattern !== undefined && (existing.tz ?? undefined) !== desired.tz) return false;
  if (!isDeepStrictEqual(existing.template?.data, templateData(desired.projectId))) return false;
  return existing.template?.opts?.attempts === attempts;
}

/**
 * Whether `getJobScheduler` found a scheduler. For an id with a colon and no scheduler, bullmq
 * 5.81 answers with a legacy repeatable-key parse instead of undefined; a stored one has an
 * iteration count and a template.
 */
export function isStoredScheduler(scheduler: JobSchedulerJson | undefined): scheduler is JobSchedulerJson {
  return (
    scheduler !== undefined && (scheduler.iterationCount !== undefined || scheduler.template !== undefined)
  );
}

export interface ReconcilePlan {
  upsert: DesiredScheduler[];
  remove: string[];
  unchanged: number;
}

/** Pure: what to write so that Redis mirrors Postgres. Only `sync:` schedulers are ours to remove. */
export function planReconcile(
  desired: readonly DesiredScheduler[],
  existing: readonly JobSchedulerJson[],
  attempts: number,
  scope?: ReadonlySet<string>,
): ReconcilePlan {
  const byId = new Map(existing.map((scheduler) => [scheduler.key, scheduler]));
  const wanted = new Set<string>();
  const upsert: DesiredScheduler[] = [];
  let unchanged = 0;
  for (const scheduler of desired) {
    wanted.add(scheduler.id);
    const current = byId.get(scheduler.id);
    if (current && schedulerMatches(current, scheduler, attempts)) unchanged++;
    else upsert.push(scheduler);
  }
  const remove = existing
    .map((scheduler) => scheduler.key)
    .filter((key) => key.startsWith('sync:') && !wanted.has(key))
    .filter((key) => !scope || scope.has(key));
  return { upsert, remove, unchanged };
}

export interface ReconcileResult {
  /** Schedules in Postgres (in scope). */
  total: number;
  upserted: number;
  removed: number;
  unchanged: number;
  durationMs: number;
}

export interface SchedulesTarget {
  queue: CatalogQueue;
  redis: RedisConnection;
}

const WRITE_CONCURRENCY = 256;

/**
 * Makes BullMQ's schedulers mirror Postgres: upserts the missing or different ones, removes the
 * extra ones, writes nothing when they already agree. `projectIds` limits it to some projects
 * (after a change); without it, every schedule (worker start-up, periodic check).
 */
export async function reconcileSchedules(
  ctx: ServiceContext,
  target: SchedulesTarget,
  options: { projectIds?: readonly string[] } = {},
): Promise<ReconcileResult> {
  const started = Date.now();
  const attempts = ctx.config.worker.syncAttempts;
  const { queue } = target;
  const result = await withRedisLock(target.redis, queue.toKey('schedules:lock'), async () => {
    const rows = await loadScheduleRows(ctx, options.projectIds);
    const desired = rows.map(desiredScheduler).filter((d): d is DesiredScheduler => d !== null);
    let existing: JobSchedulerJson[];
    let scope: Set<string> | undefined;
    if (options.projectIds) {
      scope = new Set(options.projectIds.map(scheduleId));
      const found = await Promise.all([...scope].map((id) => queue.getJobScheduler(id)));
      existing = found.filter((s): s is JobSchedulerJson<SyncCatalogPayload> => isStoredScheduler(s));
    } else {
      existing = await queue.getJobSchedulers();
    }
    const plan = planReconcile(desired, existing, attempts, scope);
    const opts = defaultJobOptions(attempts);
    await mapPool(plan.upsert, WRITE_CONCURRENCY, (scheduler) =>
      queue.upsertJobScheduler(
        // bullmq types the scheduler id as a job name; it is any string.
        scheduler.id as typeof SYNC_JOB,
        scheduler.every !== undefined
          ? { every: scheduler.every, offset: scheduler.offset ?? 0 }
          : { pattern: scheduler.pattern ?? '', tz: scheduler.tz ?? CRON_TZ },
        { name: SYNC_JOB, data: templateData(scheduler.projectId), opts },
      ),
    );
    const nextOf = new Map(existing.map((scheduler) => [scheduler.key, scheduler.next]));
    await mapPool(plan.remove, WRITE_CONCURRENCY, async (id) => {
      await queue.removeJobScheduler(id);
      // BullMQ removes the scheduler's next job only while it is delayed; one already waiting
      // (its time came) would still run after the schedule was removed.
      const next = nextOf.get(id);
      if (next) await queue.remove(`repeat:${id}:${next}`).catch(() => 0);
    });
    return {
      total: desired.length,
      upserted: plan.upsert.length,
      removed: plan.remove.length,
      unchanged: plan.unchanged,
    };
  });
  const outcome = { ...result, durationMs: Date.now() - started };
  // A full reconcile that had to write means Redis had drifted (or lost its data): worth saying.
  const drifted = !options.projectIds && (outcome.upserted > 0 || outcome.removed > 0);
  (drifted ? ctx.logger.info : ctx.logger.debug).call(ctx.logger, outcome, 'schedules reconciled');
  return outcome;
}

/** A project's schedule as Postgres holds it and the queue plans it. */
export interface ScheduleDescription {
  projectId: string;
  /** `6h`-style, or null for a cron schedule. */
  every: string | null;
  everySeconds: number | null;
  cron: string | null;
  /** Where in each interval this project fires (ms), for `every` schedules (spread across projects). */
  offsetMs: number | null;
  /** The next run BullMQ has planned, or null when Redis does not have the scheduler (yet). */
  nextRunAt: string | null;
}

export interface ScheduleListing extends ScheduleDescription {
  inQueue: boolean;
  updatedAt: string | null;
}

/** Every schedule in Postgres, with what Redis (when given) says about its next run. */
export async function listSchedules(
  ctx: ServiceContext,
  redis: QueueRedis | null,
): Promise<ScheduleListing[]> {
  const rows = await loadScheduleRows(ctx);
  const nextRuns = redis
    ? await readNextRuns(
        redis,
        rows.map((row) => row.id),
      )
    : new Map<string, null>();
  return rows.map((row) => {
    const desired = desiredScheduler(row);
    const next = nextRuns.get(row.id) ?? null;
    return {
      projectId: row.id,
      every: row.scheduleEverySeconds ? formatDuration(row.scheduleEverySeconds) : null,
      everySeconds: row.scheduleEverySeconds,
      cron: row.scheduleCron,
      offsetMs: desired?.offset ?? null,
      nextRunAt: next ? new Date(next).toISOString() : null,
      inQueue: next !== null,
      updatedAt: row.scheduleUpdatedAt?.toISOString() ?? null,
    };
  });
}
