import { performance } from 'node:perf_hooks';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { AppStoreError, type ResponseEvent } from '../src/appstore/index.ts';
import type { ServiceContext } from '../src/context.ts';
import { AppError, boundText, DEFAULT_ERROR_TEXT_MAX_CHARS, errorKind, errorMessage } from '../src/errors.ts';
import { scrubSecrets } from '../src/log/logger.ts';
import { verifyCredentials } from '../src/onboarding/index.ts';
import { syncProject } from '../src/sync/index.ts';
import { JOB_NAMES, type JobName, payloadSchemas, SYNC_JOB, SYNC_TRIGGERS, VERIFY_JOB } from './contract.ts';
import type { WorkerMetrics } from './metrics.ts';

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
      : '{"projectId": string}';
  throw new UnrecoverableError(`Invalid ${name} payload (${problems}); expected ${expected}. Not retried.`);
}

export interface ProcessorDeps {
  ctx: ServiceContext;
  metrics?: WorkerMetrics | undefined;
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

  return async function process(job: AnyJob, token?: string): Promise<unknown> {
    const name = job.name;
    if (!(JOB_NAMES as readonly string[]).includes(name)) {
      metrics?.jobProcessed('unknown', 'invalid');
      await discardPayload(job);
      throw new UnrecoverableError(
        `Unknown job name ${boundText(JSON.stringify(name), 100)}: this worker handles ${JOB_NAMES.join(' and ')}. Not retried.`,
      );
    }
    let payload: { projectId: string; trigger?: (typeof SYNC_TRIGGERS)[number] };
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
      if (name === SYNC_JOB) {
        const summary = await syncProject(ctx, projectId, {
          trigger: payload.trigger ?? 'manual',
          jobId: job.id,
          client: { onResponse },
        });
        metrics?.syncFinished((performance.now() - started) / 1000, 'succeeded');
        logger.info({ runId: summary.runId, ...attempt, changes: summary.changes }, 'sync job completed');
        result = summary;
      } else if (name === VERIFY_JOB) {
        const verified = await verifyCredentials(ctx, projectId);
        logger.info({ status: verified.status, apps: verified.apps.length }, 'verify job completed');
        result = { projectId, ...verified };
      }
      metrics?.jobProcessed(name, 'completed');
      return result;
    } catch (error) {
      if (name === SYNC_JOB) metrics?.syncFinished((performance.now() - started) / 1000, 'failed');
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
      if (decision.action === 'fail') {
        metrics?.jobProcessed(name, 'failed');
        logger.error(detail, 'job failed: not retried');
        throw new UnrecoverableError(decision.reason);
      }
      const final = isFinalAttempt(job);
      metrics?.jobProcessed(name, final ? 'failed' : 'retrying');
      if (final) logger.error(detail, 'job failed: no attempts left');
      else logger.warn(detail, 'job failed: will retry with backoff');
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
