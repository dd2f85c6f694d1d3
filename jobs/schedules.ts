import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { JobSchedulerJson } from 'bullmq';
import { CronExpressionParser } from 'cron-parser';
import { eq, isNotNull, or } from 'drizzle-orm';
import { projects } from '../db/schema.ts';
import type { ServiceContext } from '../src/context.ts';
import { InvalidInputError, NotFoundError } from '../src/errors.ts';
import {
  defaultJobOptions,
  projectIdSchema,
  SYNC_JOB,
  type SyncCatalogPayload,
  scheduleId,
} from './contract.ts';
import { withRedisLock } from './lock.ts';
import { mapPool } from './pool.ts';
import type { CatalogQueue } from './queue.ts';
import type { RedisConnection } from './redis.ts';

/*
 * Postgres (`projects.schedule_every_seconds` / `schedule_cron`) is the source of truth; BullMQ's
 * job schedulers (`sync:<projectId>`) mirror it. Every write to Redis goes through a reconcile
 * under a short Redis lock, so concurrent workers and CLI calls neither duplicate nor lose one,
 * and a Redis that lost its data gets every schedule back from Postgres.
 */

export type ScheduleSpec = { every: number } | { cron: string };

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const MAX_EVERY_SECONDS = 366 * 86_400;
/** Cron is evaluated in UTC, whatever the worker host's zone. */
export const CRON_TZ = 'UTC';

/** Parses `30m`, `6h`, `1d`, `90s` or combinations like `1h30m` into seconds. */
export function parseEvery(text: string): number {
  const trimmed = text.trim().toLowerCase();
  const hint = 'use a number and a unit (s, m, h, d), e.g. 30m, 6h, 1d or 1h30m';
  if (!/^(\d+[smhd])+$/.test(trimmed))
    throw new InvalidInputError('--every', `"${text}" is not a duration; ${hint}`);
  let seconds = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhd])/g)) {
    seconds += Number(amount) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  }
  if (seconds < 1) throw new InvalidInputError('--every', `must be at least 1s; ${hint}`);
  if (seconds > MAX_EVERY_SECONDS) throw new InvalidInputError('--every', 'must be at most 366d');
  return seconds;
}

/** The shortest spelling of a duration: 5400 → `1h30m`. */
export function formatEvery(seconds: number): string {
  let rest = seconds;
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const amount = Math.floor(rest / size);
    if (amount > 0) out += `${amount}${unit}`;
    rest -= amount * size;
  }
  return out || '0s';
}

const CRON_ALIASES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly']);

/** Validates a cron expression (5 fields, or 6 with seconds, or @hourly-style aliases); returns it normalised. */
export function validateCron(expression: string): string {
  const normalised = expression.trim().replace(/\s+/g, ' ');
  const hint = 'use 5 fields (minute hour day-of-month month day-of-week), e.g. "0 */6 * * *"';
  const fields = normalised.split(' ').length;
  if (CRON_ALIASES.has(normalised)) return normalised;
  // `H` (hashed) fields are cron-parser 5 only; BullMQ evaluates schedules with cron-parser 4.
  if ((fields !== 5 && fields !== 6) || /(^|[ ,])H(?=$|[ ,/(])/i.test(normalised)) {
    throw new InvalidInputError('--cron', `"${expression}" is not a cron expression; ${hint}`);
  }
  try {
    CronExpressionParser.parse(normalised, { tz: CRON_TZ }).next();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError(
      '--cron',
      `"${expression}" is not a valid cron expression (${reason}); ${hint}`,
    );
  }
  return normalised;
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

export interface ScheduleRow {
  id: string;
  scheduleEverySeconds: number | null;
  scheduleCron: string | null;
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

async function loadScheduleRows(ctx: ServiceContext, projectIds?: readonly string[]): Promise<ScheduleRow[]> {
  const columns = {
    id: projects.id,
    scheduleEverySeconds: projects.scheduleEverySeconds,
    scheduleCron: projects.scheduleCron,
  };
  if (projectIds) {
    const rows: ScheduleRow[] = [];
    for (const projectId of projectIds) {
      rows.push(...(await ctx.db.select(columns).from(projects).where(eq(projects.id, projectId))));
    }
    return rows;
  }
  return ctx.db
    .select(columns)
    .from(projects)
    .where(or(isNotNull(projects.scheduleEverySeconds), isNotNull(projects.scheduleCron)));
}

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

function checkProjectId(projectId: string): void {
  const parsed = projectIdSchema.safeParse(projectId);
  if (!parsed.success)
    throw new InvalidInputError('project', parsed.error.issues[0]?.message ?? 'is invalid');
}

/** Writes a project's schedule to Postgres (the source of truth). Reconcile afterwards. */
export async function setSchedule(
  ctx: ServiceContext,
  projectId: string,
  spec: ScheduleSpec,
): Promise<ScheduleRow> {
  checkProjectId(projectId);
  const every = 'every' in spec ? spec.every : null;
  const cron = 'cron' in spec ? validateCron(spec.cron) : null;
  if (every !== null && (!Number.isInteger(every) || every < 1 || every > MAX_EVERY_SECONDS)) {
    throw new InvalidInputError('every', 'must be a whole number of seconds between 1 and 366 days');
  }
  const now = new Date();
  const [row] = await ctx.db
    .update(projects)
    .set({ scheduleEverySeconds: every, scheduleCron: cron, scheduleUpdatedAt: now, updatedAt: now })
    .where(eq(projects.id, projectId))
    .returning({
      id: projects.id,
      scheduleEverySeconds: projects.scheduleEverySeconds,
      scheduleCron: projects.scheduleCron,
    });
  if (!row) throw unknownProject(projectId);
  return row;
}

/** Clears a project's schedule in Postgres; returns whether it had one. Reconcile afterwards. */
export async function clearSchedule(ctx: ServiceContext, projectId: string): Promise<boolean> {
  checkProjectId(projectId);
  const [before] = await ctx.db
    .select({ every: projects.scheduleEverySeconds, cron: projects.scheduleCron })
    .from(projects)
    .where(eq(projects.id, projectId));
  if (!before) throw unknownProject(projectId);
  if (before.every === null && before.cron === null) return false;
  const now = new Date();
  await ctx.db
    .update(projects)
    .set({ scheduleEverySeconds: null, scheduleCron: null, scheduleUpdatedAt: now, updatedAt: now })
    .where(eq(projects.id, projectId));
  return true;
}

function unknownProject(projectId: string): NotFoundError {
  return new NotFoundError(
    `Project ${projectId} does not exist. Save its credentials first (\`catalog-sync credentials set ${projectId} …\`).`,
  );
}

export interface ScheduleListing {
  projectId: string;
  every: string | null;
  everySeconds: number | null;
  cron: string | null;
  /** Where in each interval this project fires (ms), for `every` schedules. */
  offsetMs: number | null;
  /** The next run BullMQ has planned, or null when Redis does not have the scheduler (yet). */
  nextRunAt: string | null;
  inQueue: boolean;
  updatedAt: string | null;
}

/** Every schedule in Postgres, with what Redis says about its next run. */
export async function listSchedules(
  ctx: ServiceContext,
  queue: CatalogQueue | null,
): Promise<ScheduleListing[]> {
  const rows = await ctx.db
    .select({
      id: projects.id,
      scheduleEverySeconds: projects.scheduleEverySeconds,
      scheduleCron: projects.scheduleCron,
      scheduleUpdatedAt: projects.scheduleUpdatedAt,
    })
    .from(projects)
    .where(or(isNotNull(projects.scheduleEverySeconds), isNotNull(projects.scheduleCron)))
    .orderBy(projects.id);
  const existing = queue ? await queue.getJobSchedulers() : [];
  const byId = new Map(existing.map((s) => [s.key, s]));
  return rows.map((row) => {
    const desired = desiredScheduler(row);
    const scheduler = byId.get(scheduleId(row.id));
    return {
      projectId: row.id,
      every: row.scheduleEverySeconds ? formatEvery(row.scheduleEverySeconds) : null,
      everySeconds: row.scheduleEverySeconds,
      cron: row.scheduleCron,
      offsetMs: desired?.offset ?? null,
      nextRunAt: scheduler?.next ? new Date(scheduler.next).toISOString() : null,
      inQueue: scheduler !== undefined,
      updatedAt: row.scheduleUpdatedAt?.toISOString() ?? null,
    };
  });
}
