import { performance } from 'node:perf_hooks';
import type { z } from 'zod';
import { AppStoreError, type ResponseEvent } from '../appstore/index.ts';
import { asAppError, isDatabaseUnavailable } from '../database/errors.ts';
import { createDetailsBudget, type DetailsBudget } from '../details/budget.ts';
import { AppError, boundText, errorKind, failureReason } from '../errors.ts';
import { emitSyncFailed } from '../events/sync-failed.ts';
import type { Logger } from '../log/logger.ts';
import {
  ATTRIBUTE_JOB,
  type AttributeTransactionsPayload,
  JOB_NAMES,
  type JobName,
  payloadSchemas,
  SYNC_JOB,
  SYNC_TRIGGERS,
  type SyncCatalogPayload,
  VERIFY_JOB,
  type VerifyCredentialsPayload,
} from '../queue/contract.ts';
import type { RedisConnection } from '../queue/redis.ts';
import { clearFailedSyncRequest } from '../queue/requests.ts';
import { failAttributionBatch, runAttributionBatch } from './attribution.ts';
import type { AppContext } from './context.ts';
import { verifyCredentials } from './credentials.ts';
import type { DetailsRefreshResult } from './refresh-details.ts';
import { requestSync, runSync } from './sync.ts';

/*
 * The job table: for each job name the worker runs, its payload schema, what runs it, and what
 * happens when it fails for good (the way graphile-worker lists its tasks). The walk from a queued
 * job to the operation is two files: the BullMQ mapping (jobs/processors.ts), which only
 * translates a `JobOutcome` into BullMQ's terms, and this one. Failure policy lives here:
 * what is retried, what waits without using an attempt, what the platform is told.
 *
 * Adding a job: its name and payload schema in the queue contract (src/queue/contract.ts), and one
 * entry in `JOBS` below; the type of `JOBS` refuses a contract name without an entry.
 */

/** One processing of a job, as the queue describes it (no BullMQ type crosses this line). */
export interface JobRun {
  /** The queue's job id (recorded on the sync run). */
  id: string | undefined;
  /** This attempt, from 1. */
  attempt: number;
  attempts: number;
  /** Times this job was put back to wait without using an attempt (rate limits, outages). */
  deferrals: number;
  /** A job scheduler's tick rather than a requested job. */
  fromScheduler: boolean;
  /** When the job was added. */
  enqueuedAt: Date;
}

/** What became of one processing; the BullMQ mapping translates each into its own terms. */
export type JobOutcome =
  | { kind: 'completed'; result: unknown }
  /** Back to waiting for `delayMs` without using an attempt (a rate limit, Postgres away). */
  | { kind: 'deferred'; delayMs: number }
  /** Not a job this worker can run (unknown name, bad payload): failed at once, payload discarded. */
  | { kind: 'rejected'; reason: string }
  /** Failed: `retry` says whether another attempt may help. */
  | { kind: 'failed'; retry: boolean; reason: string; error: Error };

/** Labels of the worker's job counter (one per processing). */
export type JobOutcomeLabel =
  | 'completed'
  | 'retrying'
  | 'failed'
  | 'rate_limited'
  | 'invalid'
  /** Postgres unreachable: the job waits for it (delayed, no attempt used). */
  | 'waiting_for_database'
  /** A schedule's tick, turned into a deduplicated sync-catalog job. */
  | 'forwarded';

/** What the worker counts (its metrics satisfy this); every method optional in effect. */
export interface JobObserver {
  jobProcessed(job: string, outcome: JobOutcomeLabel): void;
  syncFinished(seconds: number, outcome: 'succeeded' | 'failed'): void;
  appStoreResponse(
    status: number | undefined,
    keyId: string | undefined,
    rateLimit?: Record<string, number>,
  ): void;
  databaseReachable(up: boolean): void;
  detailsRefreshed(input: {
    requestsByCallSite: Record<string, number>;
    key: string | undefined;
    budget: { used: number; left: number } | undefined;
  }): void;
}

/** What a job's handler receives: the application context, the worker's meters and resources. */
export interface JobContext extends AppContext {
  observer?: JobObserver | undefined;
  /** The key budgets for details; absent: no detail refresh after a sync. */
  detailsBudget?: DetailsBudget | undefined;
}

export interface JobDefinition<P> {
  payload: z.ZodType<P>;
  /** The payload's shape as a rejection quotes it. */
  expected: string;
  run(ctx: JobContext, payload: P, job: JobRun, logger: Logger): Promise<unknown>;
  /** After the last attempt, or a failure no attempt can fix (best effort: never throws). */
  onFinalFailure?(ctx: JobContext, payload: P, job: JobRun, error: Error, logger: Logger): Promise<void>;
}

const defineJob = <P>(definition: JobDefinition<P>): JobDefinition<P> => definition;

export const JOBS = {
  [SYNC_JOB]: defineJob<SyncCatalogPayload>({
    payload: payloadSchemas[SYNC_JOB],
    expected: `{"projectId": string, "trigger": ${SYNC_TRIGGERS.map((t) => `"${t}"`).join(' | ')}}`,
    run: runSyncJob,
    onFinalFailure: syncFailedForGood,
  }),
  [VERIFY_JOB]: defineJob<VerifyCredentialsPayload>({
    payload: payloadSchemas[VERIFY_JOB],
    expected: '{"projectId": string}',
    run: async (ctx, { projectId }, _job, logger) => {
      const verified = await verifyCredentials(ctx, { projectId });
      logger.info({ status: verified.status, apps: verified.apps.length }, 'verify job completed');
      return verified;
    },
  }),
  // Bulk attribution: the payload points at a stored batch, which records its own outcome.
  [ATTRIBUTE_JOB]: defineJob<AttributeTransactionsPayload>({
    payload: payloadSchemas[ATTRIBUTE_JOB],
    expected: '{"projectId": string, "batchId": uuid}',
    run: async (ctx, { projectId, batchId }, _job, logger) => {
      const done = await runAttributionBatch(ctx, { projectId, batchId });
      logger.info({ batchId, summary: done.summary }, 'attribution batch completed');
      return done;
    },
    onFinalFailure: async (ctx, payload, _job, error, logger) => {
      await failAttributionBatch(ctx, payload, error).catch((cause: unknown) =>
        logger.warn({ reason: failureReason(cause) }, 'could not mark the attribution batch failed'),
      );
    },
  }),
} as const satisfies { [N in JobName]: JobDefinition<z.infer<(typeof payloadSchemas)[N]>> };

async function runSyncJob(ctx: JobContext, payload: SyncCatalogPayload, job: JobRun, logger: Logger) {
  const { projectId } = payload;
  const observer = ctx.observer;
  if (job.fromScheduler) {
    // A job scheduler's tick bypasses BullMQ's deduplication: turn it into an ordinary requested
    // sync (deduplicated, recorded in Postgres), so at most one sync per project waits whatever
    // asked for it.
    const forwarded = await requestSync(ctx, { projectId, trigger: 'schedule' });
    observer?.jobProcessed(SYNC_JOB, 'forwarded');
    logger.debug({ forwardedTo: forwarded.jobId, outcome: forwarded.outcome }, 'schedule tick forwarded');
    return { projectId, forwarded: true, jobId: forwarded.jobId, outcome: forwarded.outcome };
  }
  const onResponse = (event: ResponseEvent) =>
    observer?.appStoreResponse(event.status, event.keyId, event.rateLimit);
  const { details, ...summary } = await runSync(ctx, {
    projectId,
    trigger: payload.trigger,
    jobId: job.id,
    client: { onResponse },
    // The due details follow the structure in the same job, inside the key's budget.
    details: ctx.detailsBudget ? { budget: ctx.detailsBudget, onResponse } : false,
  });
  // The structure sync's own duration, as before the details joined the job.
  observer?.syncFinished(summary.durationMs / 1000, 'succeeded');
  logger.info(
    { runId: summary.runId, attempt: job.attempt, attempts: job.attempts, changes: summary.changes },
    'sync job completed',
  );
  return details ? { ...summary, details: reportDetails(observer, details) } : summary;
}

/** The platform hears of a failed sync once, and the request it answered is no longer pending. */
async function syncFailedForGood(
  ctx: JobContext,
  payload: SyncCatalogPayload,
  job: JobRun,
  error: Error,
  logger: Logger,
): Promise<void> {
  if (job.id !== undefined) {
    try {
      await emitSyncFailed(ctx.db, {
        projectId: payload.projectId,
        jobId: job.id,
        trigger: payload.trigger,
        attempts: job.attempt,
        error,
      });
    } catch (emitError) {
      logger.error(
        { reason: failureReason(asAppError(emitError)) },
        'could not record the sync.failed event',
      );
    }
  }
  try {
    await clearFailedSyncRequest(ctx.db, payload.projectId, job.id, job.enqueuedAt);
  } catch (settleError) {
    logger.warn({ reason: failureReason(asAppError(settleError)) }, 'could not settle the sync request');
  }
}

/** What a sync job reports of the detail refresh that followed it (never a reason to fail the job). */
export interface DetailsJobSummary {
  due: number;
  refreshed: number;
  deferred: number;
  failed: number;
  requests: number;
  changes: Record<string, number>;
  stoppedBy: string | null;
  /** Products of the project still older than the maximum age (or never read). */
  stale: number | null;
  error?: string;
}

export function reportDetails(
  observer: JobObserver | undefined,
  result: DetailsRefreshResult,
): DetailsJobSummary {
  if (result.error === null) {
    observer?.detailsRefreshed({
      requestsByCallSite: result.requestsByCallSite,
      key: result.key ?? undefined,
      budget: result.budget ?? undefined,
    });
  }
  return {
    due: result.due,
    refreshed: result.refreshed,
    deferred: result.deferred,
    failed: result.failed,
    requests: result.requests,
    changes: result.changes,
    stoppedBy: result.stoppedBy,
    stale: result.stale,
    ...(result.error === null ? {} : { error: result.error }),
  };
}

/*
 * What a failure means for the job (pure, so it is unit-tested without Redis):
 * - `delay`: Apple's rate limit. The job goes back to waiting until the key's budget returns,
 *   without burning an attempt and without holding a worker slot while it waits.
 * - `fail`: retrying cannot help (bad credentials, a forbidden key, no app selected, no
 *   credentials, a bad payload): no retries. The sync has already recorded the run and the
 *   credential status says why.
 * - `retry`: transient (5xx, network, a database hiccup): retried with exponential backoff.
 */
export type FailureAction =
  | { action: 'delay'; delayMs: number }
  | { action: 'fail'; reason: string }
  | { action: 'retry' };

export const RATE_LIMIT_DEFAULT_DELAY_MS = 60_000;
export const RATE_LIMIT_MAX_DELAY_MS = 3_600_000;
/** After this many deferrals a rate-limited job starts burning attempts, so it cannot loop forever. */
export const RATE_LIMIT_MAX_DEFERRALS = 24;

export function classifyFailure(error: unknown, deferrals = 0): FailureAction {
  if (error instanceof AppStoreError) {
    if (error.kind === 'rate_limited') {
      if (deferrals >= RATE_LIMIT_MAX_DEFERRALS) return { action: 'retry' };
      const wanted = error.retryAfterMs ?? RATE_LIMIT_DEFAULT_DELAY_MS;
      return { action: 'delay', delayMs: Math.min(Math.max(wanted, 1_000), RATE_LIMIT_MAX_DELAY_MS) };
    }
    if (error.kind === 'transient') return { action: 'retry' };
    return { action: 'fail', reason: failureReason(error) };
  }
  if (error instanceof AppError) {
    return error.retryable ? { action: 'retry' } : { action: 'fail', reason: failureReason(error) };
  }
  // Unknown errors (a dropped database connection, a bug) may pass; the attempts bound them.
  return { action: 'retry' };
}

/**
 * How long a job waits for an unreachable database before its next try: doubling from
 * `baseMs` per deferral so far, capped at `maxMs`, with ±20% jitter so a fleet's jobs do not all
 * come back at once. No attempt is used, however long the outage lasts.
 */
export function databaseRetryDelay(
  deferrals: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.min(deferrals, 30));
  return Math.max(1, Math.round(raw * (0.8 + 0.4 * random())));
}

/** What a rejection quotes of one problem, and of all of them: a 1 MB key must not become a 1 MB reason. */
const PAYLOAD_PROBLEM_MAX_CHARS = 200;
const PAYLOAD_PROBLEMS_MAX = 5;

export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name);
}

/** Parses a job's payload against the contract, or says exactly what is wrong (`invalid_payload`, not retried). */
export function parseJobPayload<N extends JobName>(
  name: N,
  data: unknown,
): z.infer<(typeof payloadSchemas)[N]> {
  const definition = JOBS[name] as JobDefinition<unknown>;
  const parsed = definition.payload.safeParse(data);
  if (parsed.success) return parsed.data as z.infer<(typeof payloadSchemas)[N]>;
  const issues = parsed.error.issues;
  const problems =
    issues
      .slice(0, PAYLOAD_PROBLEMS_MAX)
      .map((issue) =>
        boundText(
          `${issue.path.length ? issue.path.map(String).join('.') : '(payload)'}: ${issue.message}`,
          PAYLOAD_PROBLEM_MAX_CHARS,
        ),
      )
      .join('; ') +
    (issues.length > PAYLOAD_PROBLEMS_MAX ? `; and ${issues.length - PAYLOAD_PROBLEMS_MAX} more` : '');
  throw new AppError(
    'invalid_payload',
    `Invalid ${name} payload (${problems}); expected ${definition.expected}. Not retried.`,
  );
}

/** The worker's resources for running jobs: the details budget on the worker's Redis, when on. */
export function jobContext(
  ctx: AppContext,
  options: {
    connection: RedisConnection;
    prefix: string;
    observer?: JobObserver | undefined;
    details?: boolean;
  },
): JobContext {
  const { details } = ctx.config;
  const detailsBudget =
    (options.details ?? details.budgetShare > 0)
      ? createDetailsBudget(options.connection, {
          hourlyLimit: details.hourlyLimit,
          share: details.budgetShare,
          windowSeconds: details.windowSeconds,
          prefix: options.prefix,
        })
      : undefined;
  return { ...ctx, observer: options.observer, detailsBudget };
}

/**
 * Runs one processing of a job by its table entry: parses the payload, runs the handler, and
 * decides what a failure means (retry, wait without using an attempt, fail for good and tell the
 * platform). Never throws: every end is a `JobOutcome`.
 */
export async function runJob(ctx: JobContext, name: string, data: unknown, job: JobRun): Promise<JobOutcome> {
  const observer = ctx.observer;
  if (!isJobName(name)) {
    observer?.jobProcessed('unknown', 'invalid');
    return {
      kind: 'rejected',
      reason: `Unknown job name ${boundText(JSON.stringify(name), 100)}: this worker handles ${JOB_NAMES.join(', ')}. Not retried.`,
    };
  }
  const definition = JOBS[name] as JobDefinition<{ projectId: string }>;
  let payload: { projectId: string };
  try {
    payload = parseJobPayload(name, data);
  } catch (error) {
    observer?.jobProcessed(name, 'invalid');
    const reason = failureReason(error);
    ctx.logger.warn({ jobId: job.id, jobName: name, reason }, 'job payload rejected');
    return { kind: 'rejected', reason };
  }
  const logger = ctx.logger.child({ jobId: job.id, jobName: name, projectId: payload.projectId });
  const started = performance.now();
  try {
    const result = await definition.run(ctx, payload, job, logger);
    observer?.databaseReachable(true);
    if (!job.fromScheduler) observer?.jobProcessed(name, 'completed');
    return { kind: 'completed', result };
  } catch (caught) {
    if (name === SYNC_JOB && !job.fromScheduler) {
      observer?.syncFinished((performance.now() - started) / 1000, 'failed');
    }
    // Database failures are classified once (src/database/errors.ts), whichever operation met
    // them; never a raw `Failed query: … params: …` as a failure reason or in a log.
    const error = asAppError(caught);
    const max = ctx.config.limits.errorTextChars;
    if (isDatabaseUnavailable(error)) {
      // An outage is not the job's failure: wait for the database without using an attempt.
      const { databaseRetryDelayMs, databaseRetryMaxDelayMs } = ctx.config.worker;
      const delayMs = databaseRetryDelay(job.deferrals, databaseRetryDelayMs, databaseRetryMaxDelayMs);
      observer?.databaseReachable(false);
      observer?.jobProcessed(name, 'waiting_for_database');
      logger.warn(
        { kind: 'database_unavailable', reason: failureReason(error, max), delayMs },
        'database unreachable: job waits for it (no attempt used)',
      );
      return { kind: 'deferred', delayMs };
    }
    const decision = classifyFailure(error, job.deferrals);
    const detail = {
      attempt: job.attempt,
      attempts: job.attempts,
      kind: errorKind(error),
      reason: failureReason(error, max),
    };
    if (decision.action === 'delay') {
      observer?.jobProcessed(name, 'rate_limited');
      logger.warn(
        { ...detail, retryAt: new Date(Date.now() + decision.delayMs).toISOString() },
        'rate limited by App Store Connect: job delayed until the budget returns (no attempt used)',
      );
      return { kind: 'deferred', delayMs: decision.delayMs };
    }
    const asError = error instanceof Error ? error : new Error(String(error));
    const final = decision.action === 'fail' || job.attempt >= job.attempts;
    observer?.jobProcessed(name, final ? 'failed' : 'retrying');
    if (final) {
      logger.error(
        detail,
        decision.action === 'fail' ? 'job failed: not retried' : 'job failed: no attempts left',
      );
      await definition.onFinalFailure?.(ctx, payload, job, asError, logger);
    } else logger.warn(detail, 'job failed: will retry with backoff');
    return {
      kind: 'failed',
      retry: decision.action !== 'fail',
      reason: decision.action === 'fail' ? decision.reason : failureReason(error, max),
      error: asError,
    };
  }
}
