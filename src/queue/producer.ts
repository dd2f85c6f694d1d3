import { randomUUID } from 'node:crypto';
import { Job, type QueueEvents } from 'bullmq';
import type { Db } from '../../db/client.ts';
import { AppError, InvalidInputError } from '../errors.ts';
import {
  ATTRIBUTE_JOB,
  type AttributeTransactionsPayload,
  attributeTransactionsPayloadSchema,
  SYNC_JOB,
  type SyncCatalogPayload,
  type SyncTrigger,
  syncCatalogPayloadSchema,
  syncDeduplicationId,
  VERIFY_JOB,
  type VerifyCredentialsPayload,
  verifyCredentialsPayloadSchema,
  verifyDeduplicationId,
} from './contract.ts';
import type { CatalogQueue } from './queue.ts';
import { recordSyncRequest } from './requests.ts';

/**
 * - `added`: a new job waits for a worker.
 * - `deduplicated`: a job for this project was already waiting (or delayed); it is returned and
 *   nothing was added.
 * - `after-running`: a job for this project is running; exactly one more will run after it (BullMQ
 *   creates it when the running one finishes). `job` is the running job.
 */
export type EnqueueOutcome = 'added' | 'deduplicated' | 'after-running';

export interface Enqueued<T> {
  job: Job<T>;
  outcome: EnqueueOutcome;
  projectId: string;
}

const PENDING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

function parsePayload<T>(
  schema: { safeParse(value: unknown): { success: boolean; data?: T; error?: unknown } },
  value: unknown,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = (parsed.error as { issues?: { path: PropertyKey[]; message: string }[] }).issues ?? [];
    const first = issues[0];
    throw new InvalidInputError(
      first?.path.map(String).join('.') || 'payload',
      first?.message ?? 'is invalid',
    );
  }
  return parsed.data as T;
}

/*
 * Deduplication is BullMQ's own, keyed by project, with `keepLastIfActive` (BullMQ ≥ 5.7x):
 * - while a job for the project is waiting (or delayed, e.g. backing off), adding another returns
 *   that job's id and adds nothing (the key has no TTL; it goes when the job finishes);
 * - while the job is active, the add is stored aside (`dn:<id>`, the latest one wins) and BullMQ
 *   enqueues it atomically when the active job completes or finally fails, so a request during a
 *   run leaves exactly one run after it, and two syncs of one project never run side by side.
 * Each add carries a fresh job id, so "added" versus "deduplicated" is known without a race.
 */
async function enqueueDeduplicated<T>(
  queue: CatalogQueue,
  name: typeof SYNC_JOB | typeof VERIFY_JOB,
  payload: T & { projectId: string },
  deduplicationId: string,
  tries = 0,
): Promise<Enqueued<T>> {
  const jobId = `${name}-${randomUUID()}`;
  const added = await queue.add(name, payload as never, {
    jobId,
    deduplication: { id: deduplicationId, keepLastIfActive: true },
  });
  if (added.id === jobId)
    return { job: added as unknown as Job<T>, outcome: 'added', projectId: payload.projectId };
  const existingId = added.id;
  const existing = existingId ? await Job.fromId<T>(queue as never, existingId) : undefined;
  const state = existing ? await existing.getState() : 'unknown';
  if (existing && PENDING_STATES.has(state)) {
    return { job: existing, outcome: 'deduplicated', projectId: payload.projectId };
  }
  if (existing && state === 'active') {
    return { job: existing, outcome: 'after-running', projectId: payload.projectId };
  }
  // The job we were deduplicated into finished in between: BullMQ has just enqueued its follow-up.
  const followUpId = await queue.getDeduplicationJobId(deduplicationId);
  const followUp = followUpId ? await Job.fromId<T>(queue as never, followUpId) : undefined;
  if (followUp) return { job: followUp, outcome: 'deduplicated', projectId: payload.projectId };
  // Nothing pending any more (the follow-up already ran): add ours afresh.
  if (tries >= 3)
    throw new AppError('enqueue_race', `Could not enqueue a job for ${payload.projectId}; try again.`, {
      retryable: true,
    });
  return enqueueDeduplicated(queue, name, payload, deduplicationId, tries + 1);
}

export interface EnqueueSyncOptions {
  /**
   * Records the request in Postgres first (`projects.sync_requested_at`), so it survives a Redis
   * that loses its data: workers re-enqueue pending requests when Redis comes back and at start-up
   * (src/app/background.ts). Every producer of this repository passes it; the re-enqueue itself does not.
   */
  db?: Db;
}

/** Enqueues a sync of one project, at most one waiting per project (see above). */
export async function enqueueSync(
  queue: CatalogQueue,
  projectId: string,
  trigger: SyncTrigger,
  options: EnqueueSyncOptions = {},
): Promise<Enqueued<SyncCatalogPayload>> {
  const payload = parsePayload<SyncCatalogPayload>(syncCatalogPayloadSchema, { projectId, trigger });
  if (options.db) await recordSyncRequest(options.db, projectId, trigger);
  return enqueueDeduplicated(queue, SYNC_JOB, payload, syncDeduplicationId(projectId));
}

/** Enqueues a "Verify & Fetch Apps" of one project, deduplicated like syncs. */
export function enqueueVerify(
  queue: CatalogQueue,
  projectId: string,
): Promise<Enqueued<VerifyCredentialsPayload>> {
  const payload = parsePayload<VerifyCredentialsPayload>(verifyCredentialsPayloadSchema, { projectId });
  return enqueueDeduplicated(queue, VERIFY_JOB, payload, verifyDeduplicationId(projectId));
}

/**
 * Waits until the job that serves an enqueue request has finished, and returns its result
 * (throws with the job's failure reason). For `after-running`, that is the follow-up job BullMQ
 * creates when the running one ends, found through the deduplication key.
 */
export async function waitForEnqueued<T, R = unknown>(
  queue: CatalogQueue,
  events: QueueEvents,
  enqueued: Enqueued<T>,
  deduplicationId: string,
  timeoutMs?: number,
): Promise<{ jobId: string; result: R }> {
  const started = Date.now();
  const remaining = () =>
    timeoutMs === undefined ? undefined : Math.max(1, timeoutMs - (Date.now() - started));
  let job: Job<T> = enqueued.job;
  if (enqueued.outcome === 'after-running') {
    await job.waitUntilFinished(events, remaining()).catch(() => undefined);
    const followUpId = await queue.getDeduplicationJobId(deduplicationId);
    const followUp = followUpId ? await Job.fromId<T>(queue as never, followUpId) : undefined;
    if (!followUp) {
      throw new AppError(
        'wait_lost',
        `The sync queued for ${enqueued.projectId} after the running one finished before it could be watched. ` +
          `Run \`catalog-sync status ${enqueued.projectId}\` to see its outcome.`,
      );
    }
    job = followUp;
  }
  const result = (await job.waitUntilFinished(events, remaining())) as R;
  return { jobId: String(job.id), result };
}

/** Enqueues the attribution of a stored batch: one job per batch (its id is the job id, so adding it again adds nothing). */
export async function enqueueAttribution(
  queue: CatalogQueue,
  projectId: string,
  batchId: string,
): Promise<Enqueued<AttributeTransactionsPayload>> {
  const payload = parsePayload<AttributeTransactionsPayload>(attributeTransactionsPayloadSchema, {
    projectId,
    batchId,
  });
  const jobId = `${ATTRIBUTE_JOB}-${batchId}`;
  const added = await queue.add(ATTRIBUTE_JOB, payload as never, { jobId });
  return { job: added as unknown as Job<AttributeTransactionsPayload>, outcome: 'added', projectId };
}
