import { performance } from 'node:perf_hooks';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { runAttributionBatch } from '../src/app/attribution.ts';
import type { AppContext } from '../src/app/context.ts';
import { verifyCredentials } from '../src/app/credentials.ts';
import { requestSync, runSync } from '../src/app/sync.ts';
import { AppStoreError, type ResponseEvent } from '../src/appstore/index.ts';
import { asAppError, isDatabaseUnavailable } from '../src/database/errors.ts';
import type { DetailsBudget } from '../src/details/budget.ts';
import { AppError, boundText, DEFAULT_ERROR_TEXT_MAX_CHARS, errorKind, errorMessage } from '../src/errors.ts';
import { emitSyncFailed } from '../src/events/sync-failed.ts';
import { scrubSecrets } from '../src/log/logger.ts';
import {
  ATTRIBUTE_JOB,
  JOB_NAMES,
  type JobName,
  payloadSchemas,
  SYNC_JOB,
  SYNC_TRIGGERS,
  VERIFY_JOB,
} from '../src/queue/contract.ts';
import { clearFailedSyncRequest } from '../src/queue/requests.ts';
import type { WorkerMetrics } from './metrics.ts';
import { reportDetails } from './refresh-details.ts';

/*
 * What a failure means for the job (pure, so it is unit-tested without Redis):
 * - `delay`: Apple's rate limit. The job goes back to the delayed set until the key's budget
 *   returns, without burning an attempt and without holding a worker slot while it waits.
 * - `fail`: retrying cannot help (bad credentials, a forbidden key, no app selected, no
 *   credentials, a bad payload): UnrecoverableError, no retries. The sync has already recorded
 *   the run and the credential status says why.
 * - `retry`: transient (5xx, network, a database hiccup): BullMQ retries with exponential backoff.
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
    return { action: 'fail', reason: boundText(scrubSecrets(error.message)) };
  }
  if (error instanceof AppError) {
    return error.retryable
      ? { action: 'retry' }
      : { action: 'fail', reason: boundText(scrubSecrets(error.message)) };
  }
  // Unknown errors (a dropped database connection, a bug) may pass; BullMQ's attempts bound them.
  return { action: 'retry' };
}

/** What a rejection quotes of one problem, and of all of them: a 1 MB key must not become a 1 MB reason. */
const PAYLOAD_PROBLEM_MAX_CHARS = 200;
const PAYLOAD_PROBLEMS_MAX = 5;

/** Parses a job's payload against the contract, or says exactly what is wrong (no retries). */
export function parseJobPayload<N extends JobName>(
  name: N,
  data: unknown,
): z.infer<(typeof payloadSchemas)[N]> {
  const parsed = payloadSchemas[name].safeParse(data);
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
  const expected =
    name === SYNC_JOB
      ? `{"projectId": string, "trigger": ${SYNC_TRIGGERS.map((t) => `"${t}"`).join(' | ')}}`
      : name === ATTRIBUTE_JOB
        ? '{"projectId": string, "batchId": uuid}'
        : '{"projectId": string}';
  throw new UnrecoverableError(`Invalid ${name} payload (${problems}); expected ${expected}. Not retried.`);
}

export interface ProcessorDeps {
  ctx: AppContext;
  metrics?: WorkerMetrics | undefined;
  /** Issue 12: the key budgets for details; absent: no detail refresh after a sync. */
  detailsBudget?: DetailsBudget | undefined;
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

type AnyJob = Job<unknown, unknown, string>;

/** Rate-limit deferrals so far: activations that neither failed nor are this one (stalls aside). */
function deferralsOf(job: AnyJob): number {
  return Math.max(0, (job.attemptsStarted ?? 0) - (job.attemptsMade ?? 0) - 1);
}

function isFinalAttempt(job: AnyJob): boolean {
  return (job.attemptsMade ?? 0) + 1 >= (job.opts.attempts ?? 1);
}

/** The worker's processor: dispatches by job name, maps failures to BullMQ's retry semantics. */
export function createProcessor(deps: ProcessorDeps) {
  const { ctx, metrics } = deps;

  /** A job that failed for good has answered its request: it is no longer pending (best effort). */
  const settleRequest = async (job: AnyJob, projectId: string) => {
    try {
      await clearFailedSyncRequest(ctx.db, projectId, job.id, new Date(job.timestamp));
    } catch (error) {
      ctx.logger.warn(
        { jobId: job.id, reason: errorMessage(asAppError(error)) },
        'could not settle the sync request',
      );
    }
  };

  return async function process(job: AnyJob, token?: string): Promise<unknown> {
    const name = job.name;
    if (!(JOB_NAMES as readonly string[]).includes(name)) {
      metrics?.jobProcessed('unknown', 'invalid');
      await discardPayload(job);
      throw new UnrecoverableError(
        `Unknown job name ${boundText(JSON.stringify(name), 100)}: this worker handles ${JOB_NAMES.join(' and ')}. Not retried.`,
      );
    }
    let payload: { projectId: string; trigger?: (typeof SYNC_TRIGGERS)[number]; batchId?: string };
    try {
      payload = parseJobPayload(name as JobName, job.data);
    } catch (error) {
      metrics?.jobProcessed(name, 'invalid');
      ctx.logger.warn({ jobId: job.id, jobName: name, reason: errorMessage(error) }, 'job payload rejected');
      await discardPayload(job);
      throw error;
    }
    const { projectId } = payload;
    const logger = ctx.logger.child({ jobId: job.id, jobName: name, projectId });
    const attempt = { attempt: (job.attemptsMade ?? 0) + 1, attempts: job.opts.attempts ?? 1 };
    const onResponse = (event: ResponseEvent) =>
      metrics?.appStoreResponse(event.status, event.keyId, event.rateLimit);
    const started = performance.now();
    try {
      let result: unknown;
      if (name === SYNC_JOB && job.repeatJobKey) {
        // A job scheduler's tick bypasses BullMQ's deduplication: turn it into an ordinary
        // requested sync (deduplicated, recorded in Postgres), so at most one sync per project
        // waits whatever asked for it.
        const forwarded = await requestSync(ctx, { projectId, trigger: 'schedule' });
        metrics?.databaseReachable(true);
        metrics?.jobProcessed(name, 'forwarded');
        logger.debug({ forwardedTo: forwarded.jobId, outcome: forwarded.outcome }, 'schedule tick forwarded');
        return { projectId, forwarded: true, jobId: forwarded.jobId, outcome: forwarded.outcome };
      }
      if (name === SYNC_JOB) {
        const { details, ...summary } = await runSync(ctx, {
          projectId,
          trigger: payload.trigger ?? 'manual',
          jobId: job.id,
          client: { onResponse },
          // Issue 12: the due details follow the structure in the same job, inside the key's budget.
          details: deps.detailsBudget ? { budget: deps.detailsBudget, onResponse } : false,
        });
        // The structure sync's own duration, as before the details joined the job.
        metrics?.syncFinished(summary.durationMs / 1000, 'succeeded');
        logger.info({ runId: summary.runId, ...attempt, changes: summary.changes }, 'sync job completed');
        result = details ? { ...summary, details: reportDetails(metrics, details) } : summary;
      } else if (name === VERIFY_JOB) {
        const verified = await verifyCredentials(ctx, { projectId });
        logger.info({ status: verified.status, apps: verified.apps.length }, 'verify job completed');
        result = verified;
      } else if (name === ATTRIBUTE_JOB && payload.batchId) {
        const attributed = await runAttributionBatch(ctx, { projectId, batchId: payload.batchId });
        logger.info(
          { batchId: attributed.batchId, summary: attributed.summary },
          'attribution job completed',
        );
        result = attributed;
      }
      metrics?.databaseReachable(true);
      metrics?.jobProcessed(name, 'completed');
      return result;
    } catch (caught) {
      if (name === SYNC_JOB) metrics?.syncFinished((performance.now() - started) / 1000, 'failed');
      // Database failures are classified once (src/database/errors.ts), whichever operation met
      // them; never a raw `Failed query: … params: …` as a failure reason or in a log.
      const error = asAppError(caught);
      if (isDatabaseUnavailable(error) && token) {
        // An outage is not the job's failure: wait for the database without using an attempt.
        const delayMs = databaseRetryDelay(
          deferralsOf(job),
          ctx.config.worker.databaseRetryDelayMs,
          ctx.config.worker.databaseRetryMaxDelayMs,
        );
        await job.moveToDelayed(Date.now() + delayMs, token);
        metrics?.databaseReachable(false);
        metrics?.jobProcessed(name, 'waiting_for_database');
        logger.warn(
          { kind: 'database_unavailable', reason: scrubSecrets(errorMessage(error)), delayMs },
          'database unreachable: job waits for it (no attempt used)',
        );
        throw new DelayedError();
      }
      const decision = classifyFailure(error, deferralsOf(job));
      const detail = {
        ...attempt,
        kind: errorKind(error),
        reason: boundText(scrubSecrets(errorMessage(error)), ctx.config.limits.errorTextChars),
      };
      if (decision.action === 'delay' && token) {
        const until = Date.now() + decision.delayMs;
        await job.moveToDelayed(until, token);
        metrics?.jobProcessed(name, 'rate_limited');
        logger.warn(
          { ...detail, retryAt: new Date(until).toISOString() },
          'rate limited by App Store Connect: job delayed until the budget returns (no attempt used)',
        );
        throw new DelayedError();
      }
      // The platform hears of a failed sync once, after its last attempt.
      const tellPlatform = async () => {
        if (name !== SYNC_JOB || !(error instanceof Error) || job.id === undefined) return;
        try {
          await emitSyncFailed(ctx.db, {
            projectId,
            jobId: job.id,
            trigger: payload.trigger ?? null,
            attempts: attempt.attempt,
            error,
          });
        } catch (emitError) {
          logger.error(
            { reason: scrubSecrets(errorMessage(emitError)) },
            'could not record the sync.failed event',
          );
        }
      };
      if (decision.action === 'fail') {
        metrics?.jobProcessed(name, 'failed');
        await tellPlatform();
        logger.error(detail, 'job failed: not retried');
        if (name === SYNC_JOB) await settleRequest(job, projectId);
        throw new UnrecoverableError(decision.reason);
      }
      const final = isFinalAttempt(job);
      metrics?.jobProcessed(name, final ? 'failed' : 'retrying');
      if (final) {
        await tellPlatform();
        logger.error(detail, 'job failed: no attempts left');
      } else logger.warn(detail, 'job failed: will retry with backoff');
      if (final && name === SYNC_JOB) await settleRequest(job, projectId);
      throw boundedError(error, ctx.config.limits.errorTextChars);
    }
  };
}

/**
 * A rejected job's data may hold what must not stay in Redis (a key pasted into the wrong field):
 * it is replaced before the job is failed, so the failed job (kept for days) holds only the reason.
 * `updateData` is allowed while the job is active; removing it is not.
 */
async function discardPayload(job: AnyJob): Promise<void> {
  try {
    await job.updateData({ discarded: 'the payload was rejected and removed; see the failure reason' });
  } catch {
    // The failure reason still says what was wrong; the job's own removal policy ends it.
  }
}

/** `error` with its message bounded (BullMQ stores the message and the stack with the job). */
function boundedError(error: unknown, max: number = DEFAULT_ERROR_TEXT_MAX_CHARS): Error {
  const message = errorMessage(error);
  if (error instanceof Error && message.length <= max && (error.stack?.length ?? 0) <= max * 4) return error;
  const bounded = new Error(boundText(scrubSecrets(message), max));
  bounded.name = error instanceof Error ? error.name : 'Error';
  return bounded;
}
