import type { DefaultJobOptions } from 'bullmq';
import { z } from 'zod';
import { projectIdSchema } from '../projects/id.ts';

/*
 * The queue contract (docs/architecture.md, "Queue"): what any producer, in any language BullMQ supports,
 * puts on the queue. Published as `catalog-sync/queue`, so it depends on nothing but zod and
 * bullmq's types. Job data never holds a secret: the worker loads credentials from Postgres.
 */

export const QUEUE_NAME = 'catalog-sync';

export const SYNC_JOB = 'sync-catalog';
export const VERIFY_JOB = 'verify-credentials';
/** Bulk transaction attribution: the payload points at a batch stored in Postgres (attribution_batches). */
export const ATTRIBUTE_JOB = 'attribute-transactions';
export const JOB_NAMES = [SYNC_JOB, VERIFY_JOB, ATTRIBUTE_JOB] as const;
export type JobName = (typeof JOB_NAMES)[number];

export const SYNC_TRIGGERS = ['schedule', 'credentials-saved', 'manual'] as const;
export type SyncTrigger = (typeof SYNC_TRIGGERS)[number];

// The platform's own project id (src/projects/id.ts holds its one definition).
export { projectIdSchema };

/*
 * Strict objects: an unknown key is a typo or, worse, something that does not belong in job data
 * (a key, a token), so it fails the job with a reason instead of being silently ignored.
 */
export const syncCatalogPayloadSchema = z.strictObject({
  projectId: projectIdSchema,
  trigger: z.enum(SYNC_TRIGGERS, { message: `trigger must be one of ${SYNC_TRIGGERS.join(', ')}` }),
});
export type SyncCatalogPayload = z.infer<typeof syncCatalogPayloadSchema>;

export const verifyCredentialsPayloadSchema = z.strictObject({
  projectId: projectIdSchema,
});
export type VerifyCredentialsPayload = z.infer<typeof verifyCredentialsPayloadSchema>;

/** The transactions are in Postgres, never in job data: a batch can hold a million of them. */
export const attributeTransactionsPayloadSchema = z.strictObject({
  projectId: projectIdSchema,
  batchId: z.uuid({ message: 'batchId must be the id (a UUID) of a stored attribution batch' }),
});
export type AttributeTransactionsPayload = z.infer<typeof attributeTransactionsPayloadSchema>;

export const payloadSchemas = {
  [SYNC_JOB]: syncCatalogPayloadSchema,
  [VERIFY_JOB]: verifyCredentialsPayloadSchema,
  [ATTRIBUTE_JOB]: attributeTransactionsPayloadSchema,
} as const;

export type PayloadOf<N extends JobName> = z.infer<(typeof payloadSchemas)[N]>;

/** Deduplication id of a project's pending sync (BullMQ `deduplication.id`). */
export const syncDeduplicationId = (projectId: string) => `sync:${projectId}`;
export const verifyDeduplicationId = (projectId: string) => `verify:${projectId}`;
/** Job scheduler id of a project's periodic sync. */
export const scheduleId = (projectId: string) => `sync:${projectId}`;

export const DEFAULT_ATTEMPTS = 5;

/**
 * Options every producer should pass (the worker honours whatever a job carries): retries with
 * exponential backoff and jitter for transient failures, and removal of finished jobs by age and
 * count so Redis does not grow.
 */
export function defaultJobOptions(attempts: number = DEFAULT_ATTEMPTS): DefaultJobOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
    removeOnComplete: { age: 24 * 3600, count: 1_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5_000 },
  };
}
