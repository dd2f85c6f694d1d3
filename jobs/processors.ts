import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { type JobContext, type JobRun, runJob } from '../src/app/index.ts';
import { boundText, DEFAULT_ERROR_TEXT_MAX_CHARS } from '../src/errors.ts';

/*
 * The BullMQ mapping: a BullMQ job becomes a `JobRun` for the job table (src/app/job-table.ts),
 * and the table's outcome becomes BullMQ's terms. Nothing here decides policy.
 */

type AnyJob = Job<unknown, unknown, string>;

/** Deferrals so far: activations that neither failed nor are this one (stalls aside). */
function deferralsOf(job: AnyJob): number {
  return Math.max(0, (job.attemptsStarted ?? 0) - (job.attemptsMade ?? 0) - 1);
}

export function jobRunOf(job: AnyJob): JobRun {
  return {
    id: job.id,
    attempt: (job.attemptsMade ?? 0) + 1,
    attempts: job.opts.attempts ?? 1,
    deferrals: deferralsOf(job),
    fromScheduler: Boolean(job.repeatJobKey),
    enqueuedAt: new Date(job.timestamp),
  };
}

/** The worker's processor: runs the job by the table, and maps the outcome to BullMQ. */
export function createProcessor(ctx: JobContext) {
  return async function process(job: AnyJob, token?: string): Promise<unknown> {
    const outcome = await runJob(ctx, job.name, job.data, jobRunOf(job));
    switch (outcome.kind) {
      case 'completed':
        return outcome.result;
      case 'deferred':
        if (!token) throw new Error('The job could not be put back to wait (no lock token); it is retried.');
        await job.moveToDelayed(Date.now() + outcome.delayMs, token);
        throw new DelayedError();
      case 'rejected':
        await discardPayload(job);
        throw new UnrecoverableError(outcome.reason);
      case 'failed':
        if (!outcome.retry) throw new UnrecoverableError(outcome.reason);
        throw boundedError(outcome.error, outcome.reason, ctx.config.limits.errorTextChars);
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

/** `error`, or its scrubbed and bounded reason when too long (BullMQ stores message and stack). */
function boundedError(error: Error, reason: string, max: number = DEFAULT_ERROR_TEXT_MAX_CHARS): Error {
  if (error.message.length <= max && (error.stack?.length ?? 0) <= max * 4 && error.message === reason)
    return error;
  const bounded = new Error(boundText(reason, max));
  bounded.name = error.name;
  return bounded;
}
