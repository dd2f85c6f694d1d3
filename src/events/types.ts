import { z } from 'zod';
import { changeEntities } from '../catalog/vocabulary.ts';

/*
 * The events this worker tells the platform about (README, "Events"). Every payload carries
 * `version: 1`; a breaking change would add version 2 beside it, never change 1 in place.
 * The same envelope goes out as a webhook body and as a `catalog-sync-events` job's data.
 * Nothing here may hold a secret: messages are scrubbed and bounded before they get here.
 */

export const EVENT_TYPES = [
  'catalog.changed',
  'sync.failed',
  'credentials.status_changed',
  'credentials.verified',
  'catalog.health_changed',
  'webhook.endpoint_disabled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** Sent by `webhooks test` only; never stored in the outbox. */
export const TEST_EVENT_TYPE = 'webhook.test';

/** Change rows carried inline; above this a catalog.changed carries a cursor instead. */
export const MAX_INLINE_CHANGES = 100;
/** Bound on any message carried in an event. */
export const MAX_MESSAGE_CHARS = 1_000;
export const MAX_APPS_IN_EVENT = 200;

const credentialStatus = z.enum(['unverified', 'valid', 'invalid', 'forbidden', 'no_apps']);

export const changeRowSchema = z.object({
  entity: z.enum(changeEntities),
  /** Apple's id of the entity. */
  entityId: z.string(),
  action: z.enum(['added', 'updated', 'removed', 'restored']),
  changedFields: z.array(z.string()),
  /** The product id (products only). */
  productId: z.string().nullable(),
});
export type ChangeRow = z.infer<typeof changeRowSchema>;

export const catalogChangedSchema = z.object({
  version: z.literal(1),
  runId: z.string(),
  trigger: z.string().nullable(),
  /** When the changes were stamped (`catalog_changes.detected_at`). */
  detectedAt: z.string(),
  /** `<entity>.<action>` counts, e.g. `product.added`, `revenue_attribution_rule.opened`. */
  counts: z.record(z.string(), z.number().int()),
  totalChanges: z.number().int(),
  /** The change rows when at most MAX_INLINE_CHANGES, else null and `changesCursor` says where. */
  changes: z.array(changeRowSchema).nullable(),
  /**
   * `changes?since=<detectedAt>&runId=<runId>`: the rows are `catalog_changes` of that run, read with
   * `catalog-sync changes <project> --since <detectedAt> --json` (rows carry their runId).
   */
  changesCursor: z.string().nullable(),
  rulesVersioned: z.boolean(),
});

export const syncFailedSchema = z.object({
  version: z.literal(1),
  runId: z.string().nullable(),
  jobId: z.string().nullable(),
  trigger: z.string().nullable(),
  attempts: z.number().int(),
  /** Stable kind (`auth`, `forbidden`, `transient`, `rate_limited`, `precondition`, …). */
  errorKind: z.string(),
  errorMessage: z.string().max(MAX_MESSAGE_CHARS),
});

export const credentialsStatusChangedSchema = z.object({
  version: z.literal(1),
  keyId: z.string(),
  from: credentialStatus,
  to: credentialStatus,
  detail: z.string().max(MAX_MESSAGE_CHARS).nullable(),
  /** What a person should do about the new status. */
  action: z.string(),
  /** `sync` or `verify`: what found out. */
  source: z.enum(['sync', 'verify']),
});

export const credentialsVerifiedSchema = z.object({
  version: z.literal(1),
  keyId: z.string(),
  status: credentialStatus,
  detail: z.string().max(MAX_MESSAGE_CHARS).nullable(),
  appCount: z.number().int(),
  /** Up to MAX_APPS_IN_EVENT apps (appCount says how many there are). */
  apps: z.array(z.object({ appStoreId: z.string(), bundleId: z.string(), name: z.string() })),
});

/** At most this many issues travel in one event; `more` counts the rest (the CLI's `health` lists all). */
export const MAX_HEALTH_ISSUES = 100;

export const catalogHealthChangedSchema = z.object({
  version: z.literal(1),
  /** Issues by kind, after the change (e.g. `{ "missing_metadata": 2, "priced_in_fewer_territories": 0 }`). */
  counts: z.record(z.string(), z.number().int().min(0)),
  /** Counts before the change (all zero the first time a project has issues). */
  previousCounts: z.record(z.string(), z.number().int().min(0)),
  issues: z
    .array(
      z.looseObject({
        kind: z.string(),
        productId: z.string(),
        message: z.string().max(MAX_MESSAGE_CHARS),
      }),
    )
    .max(MAX_HEALTH_ISSUES),
  more: z.number().int().min(0),
});

export const endpointDisabledSchema = z.object({
  version: z.literal(1),
  endpointId: z.string(),
  url: z.string(),
  reason: z.string().max(MAX_MESSAGE_CHARS),
  failingSince: z.string().nullable(),
});

export const payloadSchemas = {
  'catalog.changed': catalogChangedSchema,
  'sync.failed': syncFailedSchema,
  'credentials.status_changed': credentialsStatusChangedSchema,
  'credentials.verified': credentialsVerifiedSchema,
  'catalog.health_changed': catalogHealthChangedSchema,
  'webhook.endpoint_disabled': endpointDisabledSchema,
} as const satisfies Record<EventType, z.ZodType>;

export type PayloadOf<T extends EventType> = z.infer<(typeof payloadSchemas)[T]>;
export type CatalogChangedPayload = PayloadOf<'catalog.changed'>;
export type SyncFailedPayload = PayloadOf<'sync.failed'>;
export type CredentialsStatusChangedPayload = PayloadOf<'credentials.status_changed'>;
export type CredentialsVerifiedPayload = PayloadOf<'credentials.verified'>;
export type CatalogHealthChangedPayload = PayloadOf<'catalog.health_changed'>;
export type EndpointDisabledPayload = PayloadOf<'webhook.endpoint_disabled'>;

/** An event about to be written to the outbox. */
export type NewEvent = {
  [T in EventType]: { type: T; projectId: string | null; payload: PayloadOf<T> };
}[EventType];

/** The envelope: the webhook body and the events queue's job data. */
export const eventEnvelopeSchema = z.object({
  id: z.string(),
  type: z.string(),
  /** ISO 8601, when the event was written (its transaction's time). */
  timestamp: z.string(),
  projectId: z.string().nullable(),
  data: z.looseObject({ version: z.number().int() }),
});
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}
