import { z } from 'zod';

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
  'prices.changed',
  'price_change.scheduled',
  'price_change.cancelled',
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
  /** What changed: `product`, `subscription_group`, `grace_period`, `price`, `offer`, `localization`, `availability`, … */
  entity: z.string().meta({ example: 'product' }),
  /** Apple's id of the entity (prices: `<product Apple id>/<territory>/<start date or initial>`). */
  entityId: z.string().meta({ example: '6741234567' }),
  action: z.enum(['added', 'updated', 'removed', 'restored']).meta({ example: 'updated' }),
  changedFields: z.array(z.string()).meta({ example: ['referenceName'] }),
  /** The product id (products only). */
  productId: z.string().nullable().meta({ example: 'com.example.pro.monthly' }),
});
export type ChangeRow = z.infer<typeof changeRowSchema>;

const runId = z.string().meta({ example: '0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b' });
/** How to read a run's change rows: `run:<runId>` (`catalog-sync changes <project> --run <cursor>`). */
const changesCursor = z.string().meta({ example: 'run:0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b' });
const isoTime = z.string().meta({ example: '2026-12-04T22:15:00.000Z' });
const keyId = z.string().meta({ example: '2X9R4HXF34' });
const day = z.string().meta({ example: '2027-01-03' });
/** Money as a decimal string, exactly as Apple states it; null when Apple gives no figure. */
const money = (example: string) => z.string().nullable().meta({ example });

export const catalogChangedSchema = z.object({
  version: z.literal(1),
  runId,
  trigger: z.string().nullable().meta({ example: 'schedule' }),
  /** When the run's first change was stamped (`catalog_changes.detected_at`). */
  detectedAt: isoTime,
  /**
   * The run's change rows by `<entity>.<action>` (e.g. `product.added`, `price.updated`), every
   * kind of entity the run changed, structure and details: they add up to `totalChanges`.
   */
  counts: z.record(z.string(), z.number().int()).meta({ example: { 'product.updated': 1 } }),
  /** Change rows the run wrote: exactly the rows its `changesCursor` returns. */
  totalChanges: z.number().int().meta({ example: 1 }),
  /** The change rows when at most MAX_INLINE_CHANGES, else null (read them with `changesCursor`). */
  changes: z.array(changeRowSchema).nullable(),
  /** `run:<runId>`: `catalog-sync changes <project> --run <cursor> --json` (or the API's `listRunChanges({ projectId, runId })`) returns the run's rows. */
  changesCursor,
  /** Whether the run versioned the revenue-attribution rules (read them with `catalog-sync rules`). */
  rulesVersioned: z.boolean().meta({ example: false }),
  /** Rule rows the run opened (four when the rules were versioned, else 0). */
  rulesOpened: z.number().int().min(0).meta({ example: 0 }),
});

/** At most this many price changes travel in one prices.changed; `more` counts the rest. */
export const MAX_PRICES_IN_EVENT = 500;

export const priceChangeSchema = z.object({
  /** The product id (the app's own), null if the product is no longer stored. */
  productId: z.string().nullable().meta({ example: 'com.example.pro.monthly' }),
  productAppleId: z.string().meta({ example: '6741234567' }),
  territory: z.string().meta({ example: 'USA' }),
  currency: z.string().nullable().meta({ example: 'USD' }),
  action: z.enum(['added', 'updated', 'removed', 'restored']),
  /** The price version's start date (null: in force since the product was first priced). */
  startDate: day.nullable(),
  /** Old: the row's before, or for a new version the territory's version before it; null when none. */
  oldCustomerPrice: money('9.99'),
  newCustomerPrice: money('12.99'),
  oldProceeds: money('8.49'),
  newProceeds: money('11.04'),
});
export type PriceChange = z.infer<typeof priceChangeSchema>;

export const pricesChangedSchema = z.object({
  version: z.literal(1),
  runId,
  detectedAt: isoTime,
  /** Price change rows of the run (all of them, `prices` shows up to MAX_PRICES_IN_EVENT). */
  total: z.number().int().meta({ example: 1 }),
  prices: z.array(priceChangeSchema).max(MAX_PRICES_IN_EVENT),
  /** Price changes not listed here (read them with `changesCursor`). */
  more: z.number().int().min(0).meta({ example: 0 }),
  changesCursor,
});

/** A territory's price in a scheduled (or cancelled) price version. */
const scheduledPriceSchema = z.object({
  territory: z.string().meta({ example: 'USA' }),
  currency: z.string().nullable().meta({ example: 'USD' }),
  customerPrice: money('12.99'),
  proceeds: money('11.04'),
  /** The price in force before it (in that territory), null when there was none. */
  previousCustomerPrice: money('9.99'),
  previousProceeds: money('8.49'),
});

const scheduleFields = {
  version: z.literal(1),
  runId,
  productId: z.string().nullable().meta({ example: 'com.example.pro.monthly' }),
  productAppleId: z.string().meta({ example: '6741234567' }),
  /** The day the new price takes effect (Apple's start date, UTC). */
  startDate: day,
  /** Whole days from the day it was seen (UTC) to `startDate`. */
  daysUntil: z.number().int().meta({ example: 30 }),
  /** The version's price in each territory (up to MAX_PRICES_IN_EVENT; `more` counts the rest). */
  prices: z.array(scheduledPriceSchema).max(MAX_PRICES_IN_EVENT),
  more: z.number().int().min(0).meta({ example: 0 }),
};

export const priceChangeScheduledSchema = z.object(scheduleFields);
export const priceChangeCancelledSchema = z.object(scheduleFields);

export const syncFailedSchema = z.object({
  version: z.literal(1),
  runId: runId.nullable(),
  jobId: z.string().nullable().meta({ example: '1287' }),
  trigger: z.string().nullable().meta({ example: 'schedule' }),
  attempts: z.number().int().meta({ example: 5 }),
  /** Stable kind (`auth`, `forbidden`, `transient`, `rate_limited`, `precondition`, …). */
  errorKind: z.string().meta({ example: 'transient' }),
  errorMessage: z
    .string()
    .max(MAX_MESSAGE_CHARS)
    .meta({ example: 'App Store Connect answered 503 five times; the next scheduled sync tries again.' }),
});

export const credentialsStatusChangedSchema = z.object({
  version: z.literal(1),
  keyId,
  from: credentialStatus,
  to: credentialStatus.meta({ example: 'invalid' }),
  detail: z.string().max(MAX_MESSAGE_CHARS).nullable().meta({ example: 'App Store Connect answered 401.' }),
  /** What a person should do about the new status. */
  action: z.string().meta({ example: 'App Store Connect refused the key (401): check the Key ID, …' }),
  /** `sync` or `verify`: what found out. */
  source: z.enum(['sync', 'verify']),
});

export const credentialsVerifiedSchema = z.object({
  version: z.literal(1),
  keyId,
  status: credentialStatus.meta({ example: 'valid' }),
  detail: z.string().max(MAX_MESSAGE_CHARS).nullable().meta({ example: null }),
  appCount: z.number().int().meta({ example: 1 }),
  /** Up to MAX_APPS_IN_EVENT apps (appCount says how many there are). */
  apps: z.array(
    z.object({
      appStoreId: z.string().meta({ example: '1234567890' }),
      bundleId: z.string().meta({ example: 'com.example.app' }),
      name: z.string().meta({ example: 'Example' }),
    }),
  ),
});

/** At most this many issues travel in one event; `more` counts the rest (the CLI's `health` lists all). */
export const MAX_HEALTH_ISSUES = 100;

export const catalogHealthChangedSchema = z.object({
  version: z.literal(1),
  /** Issues by kind, after the change (e.g. `{ "missing_metadata": 2, "priced_in_fewer_territories": 0 }`). */
  counts: z.record(z.string(), z.number().int().min(0)).meta({ example: { missing_metadata: 1 } }),
  /** Counts before the change (all zero the first time a project has issues). */
  previousCounts: z.record(z.string(), z.number().int().min(0)).meta({ example: { missing_metadata: 0 } }),
  issues: z
    .array(
      z.looseObject({
        kind: z.string().meta({ example: 'missing_metadata' }),
        productId: z.string().meta({ example: 'com.example.pro.monthly' }),
        message: z.string().max(MAX_MESSAGE_CHARS).meta({ example: 'No localization is ready for review.' }),
      }),
    )
    .max(MAX_HEALTH_ISSUES),
  more: z.number().int().min(0).meta({ example: 0 }),
});

export const endpointDisabledSchema = z.object({
  version: z.literal(1),
  endpointId: z.string().meta({ example: 'we_0193a1b27c4d7e8f9a0b1c2d3e4f5a6b' }),
  url: z.string().meta({ example: 'https://hooks.example.com/app-store' }),
  reason: z.string().max(MAX_MESSAGE_CHARS).meta({ example: 'the endpoint answered 410 Gone' }),
  failingSince: isoTime.nullable(),
});

export const payloadSchemas = {
  'catalog.changed': catalogChangedSchema,
  'sync.failed': syncFailedSchema,
  'credentials.status_changed': credentialsStatusChangedSchema,
  'credentials.verified': credentialsVerifiedSchema,
  'catalog.health_changed': catalogHealthChangedSchema,
  'webhook.endpoint_disabled': endpointDisabledSchema,
  'prices.changed': pricesChangedSchema,
  'price_change.scheduled': priceChangeScheduledSchema,
  'price_change.cancelled': priceChangeCancelledSchema,
} as const satisfies Record<EventType, z.ZodType>;

export type PayloadOf<T extends EventType> = z.infer<(typeof payloadSchemas)[T]>;
export type CatalogChangedPayload = PayloadOf<'catalog.changed'>;
export type SyncFailedPayload = PayloadOf<'sync.failed'>;
export type CredentialsStatusChangedPayload = PayloadOf<'credentials.status_changed'>;
export type CredentialsVerifiedPayload = PayloadOf<'credentials.verified'>;
export type CatalogHealthChangedPayload = PayloadOf<'catalog.health_changed'>;
export type EndpointDisabledPayload = PayloadOf<'webhook.endpoint_disabled'>;
export type PricesChangedPayload = PayloadOf<'prices.changed'>;
export type PriceChangeScheduledPayload = PayloadOf<'price_change.scheduled'>;

/** An event about to be written to the outbox. */
export type NewEvent = {
  [T in EventType]: { type: T; projectId: string | null; payload: PayloadOf<T> };
}[EventType];

/** The envelope: the webhook body and the events queue's job data. */
export const eventEnvelopeSchema = z.object({
  /** `evt_` + a UUIDv7; also the `webhook-id` header (deduplicate by it: delivery is at least once). */
  id: z.string().meta({ example: 'evt_0193a1b27c4d7e8f9a0b1c2d3e4f5a6b' }),
  type: z.string().meta({ example: 'prices.changed' }),
  /** ISO 8601, when the event was written (its transaction's time). */
  timestamp: isoTime,
  projectId: z.string().nullable().meta({ example: 'proj_123' }),
  /**
   * 1, 2, 3… per project (events of no project count on their own): a receiver that sees a gap
   * or an older number knows an event is late and can restore the order itself.
   */
  sequence: z.number().int().meta({ example: 42 }),
  data: z.looseObject({ version: z.number().int() }),
});
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}
