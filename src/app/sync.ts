import { loadCredentials } from '../credentials/index.ts';
import { AppError, errorMessage, InvalidInputError } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';
import { parseProjectId } from '../projects/id.ts';
import { noAppSelected, requireProject } from '../projects/store.ts';
import { SYNC_TRIGGERS, type SyncTrigger, syncDeduplicationId } from '../queue/contract.ts';
import { enqueueSync, waitForEnqueued } from '../queue/producer.ts';
import { type SyncOptions, type SyncSummary, syncProject } from '../sync/index.ts';
import type { AppContext } from './context.ts';
import { announceRunChanges } from './events.ts';
import type { JobRef } from './jobs.ts';
import {
  type DetailsRefreshResult,
  detailsBudgetOf,
  type RefreshProjectDetailsInput,
  refreshProjectDetails,
} from './refresh-details.ts';

export interface RequestSyncInput {
  projectId: string;
  /** Default `manual`. */
  trigger?: SyncTrigger;
  /** Wait for the sync to finish and return its summary (throws the job's failure). Default false. */
  wait?: boolean;
  /** With `wait`: give up waiting after this long (the job keeps going). Default 120 000. */
  timeoutMs?: number;
}

export interface SyncRequest extends JobRef {
  projectId: string;
  trigger: SyncTrigger;
  /** With `wait: true`: what the sync did. */
  summary?: SyncSummary;
}

function parseTrigger(trigger: unknown): SyncTrigger {
  if (trigger === undefined) return 'manual';
  if (!SYNC_TRIGGERS.includes(trigger as SyncTrigger)) {
    throw new InvalidInputError('trigger', `must be one of ${SYNC_TRIGGERS.join(', ')}`);
  }
  return trigger as SyncTrigger;
}

/**
 * Refuses now what the worker would refuse later (unknown project, no key, no app), so the
 * caller hears why; then enqueues a sync, at most one waiting per project.
 */
export async function requestSync(ctx: AppContext, input: RequestSyncInput): Promise<SyncRequest> {
  const projectId = parseProjectId(input?.projectId);
  const trigger = parseTrigger(input.trigger);
  const timeoutMs = input.timeoutMs ?? 120_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new InvalidInputError('timeoutMs', 'must be a positive whole number of milliseconds');
  }
  const project = await requireProject(ctx, projectId);
  await loadCredentials(ctx, projectId);
  if (!project.appStoreId) throw noAppSelected(projectId);

  const { queue } = await ctx.queue();
  // Subscribed before the add, so a fast worker's completion is not missed.
  const events = input.wait ? await ctx.queueEvents() : undefined;
  const enqueued = await enqueueSync(queue, projectId, trigger, { db: ctx.db });
  const request: SyncRequest = {
    projectId,
    trigger,
    jobId: String(enqueued.job.id),
    outcome: enqueued.outcome,
  };
  if (!events) return request;
  try {
    const done = await waitForEnqueued<unknown, SyncSummary>(
      queue,
      events,
      enqueued,
      syncDeduplicationId(projectId),
      timeoutMs,
    );
    return { ...request, jobId: done.jobId, summary: done.result };
  } catch (error) {
    if (error instanceof AppError) throw error;
    // BullMQ reports both a timeout and the job's failure as a plain Error.
    const message = scrubSecrets(errorMessage(error));
    if (/timed out before finishing/.test(message)) {
      throw new AppError(
        'timeout',
        `The sync of ${projectId} did not finish within ${timeoutMs} ms; it goes on in the worker ` +
          `(is one running?). Follow it with \`catalog-sync status ${projectId}\`.`,
        { retryable: true, cause: error },
      );
    }
    throw new AppError('sync_failed', `The sync of ${projectId} failed: ${message}`, { cause: error });
  }
}

export interface RunSyncInput {
  projectId: string;
  /** Default `manual`. */
  trigger?: SyncTrigger;
  /** The BullMQ job running it, recorded on the run. */
  jobId?: string | undefined;
  /** Client settings on top of the config's (the worker's response hook, tests). */
  client?: SyncOptions['client'];
  /**
   * After the structure, refresh the project's due details within the key's details
   * share (the budget in Redis every process shares). `true` uses the context's Redis; the
   * worker passes its own budget and response hook. Default false.
   */
  details?: boolean | Pick<RefreshProjectDetailsInput, 'budget' | 'onResponse'> | undefined;
}

export type RunSyncResult = SyncSummary & {
  /** With `details`: what the detail refresh did (it never fails the sync). */
  details?: DetailsRefreshResult;
};

/**
 * Runs one sync in this process (the worker's job, and `sync --inline`): the structure, then,
 * with `details`, the due details inside the key's budget. The structure is always read first,
 * so details can never starve it; a failed structure sync throws and reads no details.
 */
export async function runSync(ctx: AppContext, input: RunSyncInput): Promise<RunSyncResult> {
  const projectId = parseProjectId(input?.projectId);
  const details = input.details === true ? {} : input.details || undefined;
  // The structure's answers are Apple's freshest word on the key: the details budget hears them
  // too, so the refresh that follows starts from what the key has left now.
  const budget = details ? (details.budget ?? (await detailsBudgetOf(ctx).catch(() => null))) : null;
  const corrections: Promise<void>[] = [];
  const client: SyncOptions['client'] = budget
    ? {
        ...input.client,
        onResponse: (event) => {
          input.client?.onResponse?.(event);
          if (event.rateLimit) {
            corrections.push(budget.correct(event.keyId, event.rateLimit).catch(() => undefined));
          }
        },
      }
    : input.client;
  const summary = await syncProject(ctx, projectId, {
    trigger: parseTrigger(input.trigger),
    jobId: input.jobId,
    client,
  });
  await Promise.all(corrections);
  if (!details) {
    if (!summary.unchanged) await announceRunChanges(ctx, summary.runId);
    return summary;
  }
  // Without a budget (Redis out of reach) the refresh says why and reads nothing.
  const refreshed = await refreshProjectDetails(ctx, {
    projectId,
    runId: summary.runId,
    budget: budget ?? details.budget,
    onResponse: details.onResponse,
  });
  // The run is complete: its changes, structure and details, become its events.
  if (!summary.unchanged || Object.keys(refreshed.changes).length > 0) {
    await announceRunChanges(ctx, summary.runId);
  }
  return { ...summary, details: refreshed };
}
