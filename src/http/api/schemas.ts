import { z } from 'zod';
import { changeActions, changeEntities, environments, renewalKinds } from '../../../db/schema.ts';
import {
  attributeTransactionsInputSchema,
  attributeTransactionsOutputSchema,
  attributionItemResultSchema,
  attributionSummarySchema,
  environmentSchema,
  revenueInputSchema,
  revenueOutputSchema,
  revenueRowSchema,
  storedAttributionSchema,
} from '../../attribution/schemas.ts';
import { catalogProductSchema } from '../../catalog/model.ts';
import { healthIssueKinds, missingMetadataReasons } from '../../details/health.ts';
import { EVENT_TYPES, eventEnvelopeSchema } from '../../events/types.ts';
import { SYNC_TRIGGERS } from '../../queue/contract.ts';

/*
 * The HTTP API's shapes, as zod schemas: requests are validated with them and the OpenAPI document
 * is generated from them (src/http/api/openapi.ts), so the two cannot drift. Request objects are
 * strict (an unknown field is refused); responses are strict too, so a test that validates every
 * answer against the document fails when a route returns something the document does not say.
 * Timestamps are ISO 8601 strings; money is a decimal string, never a float.
 */

const strict = z.strictObject;
export const isoTime = z.iso.datetime({ offset: true }).meta({ description: 'ISO 8601 date-time' });
const day = z.iso.date().meta({ description: 'ISO 8601 date' });
export const money = z
  .string()
  .regex(/^-?[0-9]+(\.[0-9]+)?$/)
  .meta({ description: 'An exact amount as a decimal string (never a float)', example: '9.99' });
const json = z.record(z.string(), z.unknown());
const credentialStatus = z.enum(['unverified', 'valid', 'invalid', 'forbidden', 'no_apps']);

// ── Path and query pieces ─────────────────────────────────────────────────────────────────────

export const projectParams = strict({
  projectId: z
    .string()
    .min(1)
    .max(200)
    .meta({ description: "The platform's own project id (1–200 printable ASCII characters, no spaces)" }),
});
export const webhookParams = strict({
  id: z.string().meta({ description: 'A webhook endpoint id (we_…)' }),
});
export const cursorQuery = {
  cursor: z.string().max(100).optional().meta({ description: "A previous page's nextCursor" }),
  limit: z.coerce.number().int().min(1).max(1000).optional().meta({ description: 'Page size (default 100)' }),
};
const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

// ── Onboarding ────────────────────────────────────────────────────────────────────────────────

export const saveCredentialsBody = strict({
  keyId: z.string().max(100).meta({ description: 'Key ID (10 upper-case letters or digits)' }),
  issuerId: z.string().max(100).meta({ description: 'Issuer ID (a UUID)' }),
  privateKey: z
    .string()
    .max(8_192)
    .meta({ description: 'The .p8 file as text (PEM); sealed at rest, never returned' }),
  fileName: z
    .string()
    .max(255)
    .optional()
    .meta({ description: "The .p8's file name, to catch a wrong file" }),
}).meta({ id: 'SaveCredentialsRequest' });

const jobRef = strict({
  jobId: z.string(),
  outcome: z.enum(['added', 'deduplicated', 'after-running']),
}).meta({ id: 'JobRef' });

export const savedCredentials = strict({
  projectId: z.string(),
  keyId: z.string(),
  issuerId: z.string(),
  status: credentialStatus,
  encryptionKeyId: z.string(),
  verification: jobRef.nullable(),
  sync: jobRef.nullable(),
}).meta({ id: 'SavedCredentials' });

const discoveredApp = strict({
  appStoreId: z.string(),
  bundleId: z.string(),
  name: z.string(),
  sku: z.string().nullable(),
  primaryLocale: z.string().nullable(),
}).meta({ id: 'DiscoveredApp' });

const selectedApp = strict({ appStoreId: z.string(), bundleId: z.string(), name: z.string() });

export const verifyResult = strict({
  projectId: z.string(),
  status: z.enum(['valid', 'invalid', 'forbidden', 'no_apps']),
  detail: z.string().nullable().meta({ description: 'What is wrong and what to do; null when valid' }),
  apps: z.array(discoveredApp),
}).meta({ id: 'VerifyResult' });

export const appsListing = strict({
  projectId: z.string(),
  credentialStatus: credentialStatus.nullable(),
  selectedAppStoreId: z.string().nullable(),
  apps: z.array(discoveredApp),
}).meta({ id: 'AppsListing' });

export const selectAppBody = strict({
  appStoreId: z.string().min(1).max(50).meta({ description: 'One of the apps the key sees' }),
}).meta({ id: 'SelectAppRequest' });

export const selectedAppResult = selectedApp.extend({ projectId: z.string() }).meta({ id: 'SelectedApp' });

// ── Syncs and status ──────────────────────────────────────────────────────────────────────────

export const requestSyncBody = strict({
  trigger: z.enum(SYNC_TRIGGERS).optional().meta({ description: 'Default manual' }),
}).meta({ id: 'SyncRequestBody' });

export const syncRequest = strict({
  projectId: z.string(),
  trigger: z.enum(SYNC_TRIGGERS),
  jobId: z.string(),
  outcome: z.enum(['added', 'deduplicated', 'after-running']),
}).meta({ id: 'SyncRequest' });

const healthIssue = strict({
  kind: z.enum(healthIssueKinds),
  productId: z.string(),
  productAppleId: z.string(),
  message: z.string(),
  items: z.array(z.string()),
  reason: z
    .enum(missingMetadataReasons)
    .optional()
    .meta({ description: 'Why (missing_metadata, unpriced_territories), as far as the catalog read tells' }),
  fix: z.string().optional().meta({ description: 'What to do in App Store Connect, in its words' }),
}).meta({ id: 'HealthIssue' });

const healthCounts = strict(
  Object.fromEntries(healthIssueKinds.map((kind) => [kind, z.number().int()])) as Record<
    (typeof healthIssueKinds)[number],
    z.ZodNumber
  >,
);

const healthBody = {
  issues: z.array(healthIssue),
  counts: healthCounts,
  staleProducts: z.number().int(),
  oldestDetailsReadAt: isoTime.nullable(),
};

export const catalogHealth = strict({ projectId: z.string(), ...healthBody }).meta({ id: 'CatalogHealth' });

export const statusQuery = strict({
  runs: z.coerce
    .number()
    .int()
    .min(0)
    .max(100)
    .optional()
    .meta({ description: 'How many last runs (default 5)' }),
});

export const projectStatus = strict({
  projectId: z.string(),
  credentials: strict({
    keyId: z.string(),
    issuerId: z.string(),
    status: credentialStatus,
    statusDetail: z.string().nullable(),
    verifiedAt: isoTime.nullable(),
  }).nullable(),
  app: selectedApp.nullable(),
  schedule: strict({
    every: z.string().nullable(),
    everySeconds: z.number().int().nullable(),
    cron: z.string().nullable(),
  }).nullable(),
  catalog: strict({
    products: z.number().int(),
    removedProducts: z.number().int(),
    groups: z.number().int(),
    graceOptIn: z.boolean().nullable(),
  }),
  lastRuns: z.array(
    strict({
      runId: z.string(),
      trigger: z.string(),
      status: z.enum(['running', 'succeeded', 'failed', 'abandoned']),
      startedAt: isoTime,
      finishedAt: isoTime.nullable(),
      durationMs: z.number().int().nullable(),
      requests: z.number().int(),
      changes: z.record(z.string(), z.number().int()).nullable(),
      error: strict({ kind: z.string().nullable(), message: z.string().nullable() }).nullable(),
    }).meta({ id: 'SyncRun' }),
  ),
  catalogHealth: strict(healthBody),
}).meta({ id: 'ProjectStatus' });

// ── Catalog ───────────────────────────────────────────────────────────────────────────────────

export const productsQuery = strict({
  includeRemoved: booleanQuery.optional().meta({ description: 'Default true' }),
});

// The catalog model's product, as stored: plus its project, bookkeeping and detail read.
const product = catalogProductSchema
  .extend({
    projectId: z.string(),
    appleId: z.string(),
    productId: z.string(),
    raw: json.meta({ description: "Apple's attributes as received" }),
    firstSeenAt: isoTime,
    updatedAt: isoTime,
    removedAt: isoTime.nullable(),
    detailsReadAt: isoTime.nullable(),
    detailsRequests: z.number().int().nullable(),
  })
  .strict()
  .meta({ id: 'Product' });

export const productsListing = strict({ projectId: z.string(), products: z.array(product) }).meta({
  id: 'Products',
});

export const changesQuery = strict({
  since: z
    .string()
    .max(100)
    .optional()
    .meta({ description: 'An ISO date-time or a duration back from now (24h, 7d)' }),
  runId: z.uuid().optional().meta({ description: "Only this sync run's changes" }),
  ...cursorQuery,
});

const change = strict({
  id: z.number().int(),
  projectId: z.string(),
  runId: z.string(),
  entity: z.enum(changeEntities),
  entityId: z.string(),
  action: z.enum(changeActions),
  changedFields: z.array(z.string()),
  before: json.nullable(),
  after: json.nullable(),
  detectedAt: isoTime,
}).meta({ id: 'Change' });

export const changesListing = strict({
  projectId: z.string(),
  since: isoTime.nullable(),
  changes: z.array(change),
  nextCursor: z
    .string()
    .nullable()
    .meta({ description: 'Pass as cursor for the next page; null at the end' }),
}).meta({ id: 'Changes' });

const rule = strict({
  id: z.number().int(),
  projectId: z.string(),
  environment: z.enum(environments),
  renewalKind: z.enum(renewalKinds),
  graceDays: z.number().int(),
  recoveredRevenueDatedTo: z.string(),
  accessDuringGrace: z.boolean(),
  unrecoveredChurnAt: z.string(),
  sourceRunId: z.string().nullable(),
  effectiveFrom: isoTime,
  effectiveTo: isoTime.nullable(),
}).meta({ id: 'Rule' });

export const rulesListing = strict({ projectId: z.string(), rules: z.array(rule) }).meta({ id: 'Rules' });

// ── Details: prices, offers, attribution ─────────────────────────────────────────────────────

export const pricesQuery = strict({
  productId: z.string().max(200).optional().meta({ description: 'Product id or Apple id' }),
  territory: z.string().max(10).optional().meta({ description: 'Three letters, such as USA' }),
  at: z.string().max(100).optional().meta({ description: 'Only the versions in force at this ISO time' }),
});

const price = strict({
  productId: z.string(),
  productAppleId: z.string(),
  territory: z.string(),
  currency: z.string().nullable(),
  customerPrice: money.nullable(),
  proceeds: money.nullable(),
  proceedsYear2: money.nullable(),
  from: day.nullable(),
  until: day.nullable(),
  source: z.string(),
  preserved: z.boolean().nullable(),
  planType: z.string().nullable(),
  scheduled: z.boolean(),
}).meta({ id: 'Price' });

export const pricesListing = strict({ projectId: z.string(), prices: z.array(price) }).meta({ id: 'Prices' });

const offerPrice = strict({
  territory: z.string(),
  currency: z.string().nullable(),
  customerPrice: money.nullable(),
  proceeds: money.nullable(),
});

const offerFields = {
  appleId: z.string(),
  productId: z.string(),
  productAppleId: z.string(),
  kind: z.string(),
  territory: z.string().nullable(),
  name: z.string().nullable(),
  offerMode: z.string().nullable(),
  duration: z.string().nullable(),
  numberOfPeriods: z.number().int().nullable(),
  startDate: day.nullable(),
  endDate: day.nullable(),
  active: z.boolean().nullable(),
  eligibility: json,
};

const offer = strict({ ...offerFields, prices: z.array(offerPrice), removedAt: isoTime.nullable() }).meta({
  id: 'Offer',
});

export const offersListing = strict({ projectId: z.string(), offers: z.array(offer) }).meta({ id: 'Offers' });

export const attributeQuery = strict({
  productId: z.string().min(1).max(200).meta({ description: 'Product id or Apple id' }),
  territory: z.string().max(10).meta({ description: 'Three letters, such as USA' }),
  at: z.string().max(100).meta({ description: 'When the transaction or renewal happened (ISO time)' }),
  environment: z.enum(environments).optional().meta({ description: 'Default production' }),
  renewal: z.enum(renewalKinds).optional().meta({ description: 'Default paid_to_paid' }),
});

const offerInForce = strict({ ...offerFields, price: offerPrice.nullable() });

export const attribution = strict({
  projectId: z.string(),
  productId: z.string(),
  productAppleId: z.string(),
  territory: z.string(),
  at: isoTime,
  environment: z.string(),
  renewal: z.string(),
  price: strict({
    currency: z.string().nullable(),
    customerPrice: money.nullable(),
    from: day.nullable(),
    until: day.nullable(),
    source: z.string(),
    preserved: z.boolean().nullable(),
  }).nullable(),
  proceeds: strict({ firstYear: money.nullable(), afterFirstYear: money.nullable() }).nullable(),
  offer: offerInForce.nullable(),
  offers: z.array(offerInForce),
  rule: strict({
    graceDays: z.number().int(),
    recoveredRevenueDatedTo: z.string(),
    accessDuringGrace: z.boolean(),
    unrecoveredChurnAt: z.string(),
    effectiveFrom: isoTime,
    effectiveTo: isoTime.nullable(),
  }).nullable(),
  detailsReadAt: isoTime.nullable(),
}).meta({ id: 'Attribution' });

// ── Schedules ─────────────────────────────────────────────────────────────────────────────────

export const scheduleBody = strict({
  every: z
    .union([z.number().int(), z.string().max(50)])
    .optional()
    .meta({ description: 'Seconds, or a duration such as 6h, 30m, 1d' }),
  cron: z.string().max(200).optional().meta({ description: '5 fields, evaluated in UTC' }),
}).meta({ id: 'ScheduleRequest' });

const scheduleFields = {
  projectId: z.string(),
  every: z.string().nullable(),
  everySeconds: z.number().int().nullable(),
  cron: z.string().nullable(),
  offsetMs: z.number().int().nullable(),
  nextRunAt: isoTime.nullable(),
};

export const scheduleInfo = strict(scheduleFields).meta({ id: 'Schedule' });
export const unscheduled = strict({ projectId: z.string(), removed: z.boolean() }).meta({
  id: 'Unscheduled',
});
export const schedulesListing = strict({
  schedules: z.array(strict({ ...scheduleFields, inQueue: z.boolean(), updatedAt: isoTime.nullable() })),
}).meta({ id: 'Schedules' });

// ── Webhooks, events, deliveries ──────────────────────────────────────────────────────────────

export const webhooksQuery = strict({
  projectId: z
    .string()
    .max(200)
    .optional()
    .meta({ description: "This project's endpoints and the global ones" }),
});

export const addWebhookBody = strict({
  url: z.string().max(2_000).meta({ description: "The receiver's https:// URL" }),
  projectId: z.string().max(200).nullish().meta({ description: 'Null or absent: every project' }),
  eventTypes: z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length).optional().meta({
    description: 'Empty or absent: every type',
  }),
  description: z.string().max(500).nullish(),
}).meta({ id: 'AddWebhookRequest' });

const webhookEndpoint = strict({
  id: z.string(),
  projectId: z.string().nullable(),
  url: z.string(),
  eventTypes: z.array(z.string()),
  description: z.string().nullable(),
  status: z.enum(['enabled', 'disabled']),
  disabledReason: z.string().nullable(),
  disabledAt: isoTime.nullable(),
  failingSince: isoTime.nullable(),
  previousSecretValidUntil: isoTime.nullable(),
  createdAt: isoTime,
}).meta({ id: 'WebhookEndpoint' });

export const webhookList = strict({ webhooks: z.array(webhookEndpoint) }).meta({ id: 'Webhooks' });
export const enableWebhookBody = strict({
  replaySince: z.string().max(100).optional().meta({
    description:
      'Also send the endpoint, in order, the events since then that it matches and never received: an ISO date-time or a duration back from now (`24h`, `7d`)',
  }),
}).meta({ id: 'EnableWebhookRequest' });
export const webhookEnabled = strict({
  endpoint: webhookEndpoint,
  replayed: strict({ events: z.number().int(), deliveries: z.number().int() })
    .nullable()
    .meta({ description: 'With replaySince: the events queued for it again' }),
}).meta({ id: 'WebhookEnabled' });
export const webhookWithSecret = strict({
  endpoint: webhookEndpoint,
  secret: z.string().meta({ description: 'whsec_…: shown this once; never readable again' }),
}).meta({ id: 'WebhookWithSecret' });
export const webhookRemoved = strict({ id: z.string(), removed: z.literal(true) });
export const webhookTestResult = strict({
  endpointId: z.string(),
  eventId: z.string(),
  ok: z.boolean(),
  statusCode: z.number().int().nullable(),
  latencyMs: z.number(),
  responseExcerpt: z.string().nullable(),
  error: z.string().nullable(),
}).meta({ id: 'WebhookTestResult' });

export const eventsQuery = strict({
  since: z.string().max(100).optional().meta({ description: 'An ISO date-time or a duration back from now' }),
  type: z.string().max(100).optional(),
  ...cursorQuery,
});

// The envelope the outbox writes and webhooks carry, plus where its deliveries stand.
const event = eventEnvelopeSchema
  .extend({
    timestamp: isoTime,
    data: json,
    deliveries: strict({
      pending: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      cancelled: z.number().int(),
    }),
  })
  .strict()
  .meta({ id: 'Event' });

export const eventsListing = strict({ events: z.array(event), nextCursor: z.string().nullable() }).meta({
  id: 'Events',
});

export const deliveriesQuery = strict({
  endpointId: z.string().max(100).optional(),
  eventId: z.string().max(100).optional(),
  projectId: z.string().max(200).optional(),
  status: z.enum(['pending', 'succeeded', 'failed', 'cancelled']).optional(),
  ...cursorQuery,
});

const delivery = strict({
  id: z.number().int(),
  eventId: z.string(),
  eventType: z.string(),
  endpointId: z.string(),
  projectId: z.string().nullable(),
  status: z.string(),
  attempts: z.number().int(),
  nextAttemptAt: isoTime.nullable(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: isoTime,
  completedAt: isoTime.nullable(),
  log: z.array(
    strict({
      attempt: z.number().int(),
      outcome: z.string(),
      statusCode: z.number().int().nullable(),
      latencyMs: z.number(),
      responseExcerpt: z.string().nullable(),
      error: z.string().nullable(),
      attemptedAt: isoTime,
    }),
  ),
}).meta({ id: 'Delivery' });

export const deliveriesListing = strict({
  deliveries: z.array(delivery),
  nextCursor: z.string().nullable(),
}).meta({ id: 'Deliveries' });

export const redeliverBody = strict({
  eventId: z.string().max(100).optional(),
  since: z
    .string()
    .max(100)
    .optional()
    .meta({ description: 'Every event since this time (or duration back)' }),
  projectId: z.string().max(200).optional(),
  endpointId: z.string().max(100).optional(),
}).meta({ id: 'RedeliverRequest' });

export const redelivered = strict({ events: z.number().int(), deliveries: z.number().int() }).meta({
  id: 'Redelivered',
});

// ── Errors ────────────────────────────────────────────────────────────────────────────────────

export const problemSchema = strict({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  kind: z.string().meta({ description: 'Stable, machine-readable' }),
  field: z.string().optional().meta({ description: 'The input that was wrong' }),
  retryable: z.boolean().optional(),
}).meta({ id: 'Problem', description: 'RFC 9457 problem details' });

// ── Transaction attribution and revenue ──────────────────────────────────────────────────────
// The request schemas are src/attribution/schemas.ts's own, minus the project id (in the path);
// the answers are the same shapes made strict all the way down, so the document describes them
// exactly and a test that validates an answer against it fails on a field the document lacks.

/** A zod object schema with every nested object strict (arrays, nullables and optionals followed). */
function deepStrict(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodObject) {
    const shape: Record<string, z.ZodType> = {};
    for (const [key, value] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      shape[key] = deepStrict(value);
    }
    return z.strictObject(shape);
  }
  if (schema instanceof z.ZodArray) return z.array(deepStrict(schema.element as z.ZodType));
  if (schema instanceof z.ZodNullable) return deepStrict(schema.unwrap() as z.ZodType).nullable();
  if (schema instanceof z.ZodOptional) return deepStrict(schema.unwrap() as z.ZodType).optional();
  return schema;
}

export const attributeTransactionsBody = attributeTransactionsInputSchema
  .omit({ projectId: true })
  .strict()
  .meta({ id: 'AttributeTransactionsRequest' });

export const storedAttribution = deepStrict(storedAttributionSchema).meta({ id: 'StoredAttribution' });

export const attributedTransactions = strict({
  ...attributeTransactionsOutputSchema.shape,
  results: z.array(
    strict({
      ...attributionItemResultSchema.shape,
      attributions: z.array(storedAttribution),
      error: strict({ code: z.string(), message: z.string() }).nullable(),
    }).meta({ id: 'AttributionItemResult' }),
  ),
  summary: strict(attributionSummarySchema.shape).meta({ id: 'AttributionSummary' }),
}).meta({ id: 'AttributedTransactions' });

/*
 * The revenue query: from and to arrive as text (the function's input also takes a Date, which a
 * query string cannot carry); `revenue` itself checks them and that from is before to.
 */
export const revenueQuery = strict({
  from: z.string().max(100).meta({ description: 'Inclusive: an ISO date or date-time, such as 2026-03-01' }),
  to: z.string().max(100).meta({ description: 'Exclusive: an ISO date or date-time' }),
  by: revenueInputSchema.shape.by
    .optional()
    .meta({ description: 'Rows per day (default), month, product or territory' }),
  environment: environmentSchema.optional().meta({ description: 'Default production' }),
});

const revenueRow = strict(revenueRowSchema.shape).meta({ id: 'RevenueRow' });
export const revenueAnswer = strict({
  ...revenueOutputSchema.shape,
  from: isoTime,
  to: isoTime,
  rows: z.array(revenueRow),
  totals: z.array(strict(revenueRowSchema.omit({ key: true }).shape)),
}).meta({ id: 'Revenue' });

export const attributionBatchBody = strict({
  environment: environmentSchema.optional().meta({ description: 'Default production' }),
  transactions: z.array(z.unknown()).min(1, 'transactions must hold at least one transaction').meta({
    description: 'The same items as attributeTransactions takes, stored and attributed by the worker',
  }),
}).meta({ id: 'AttributionBatchRequest' });

export const attributionBatchParams = strict({
  projectId: projectParams.shape.projectId,
  batchId: z.string().max(100).meta({ description: 'The batch id (a UUID) from queueAttributionBatch' }),
});

export const queuedAttributionBatch = strict({
  batchId: z.string(),
  items: z.number().int(),
  job: jobRef,
}).meta({ id: 'QueuedAttributionBatch' });

export const attributionBatchState = strict({
  batchId: z.string(),
  status: z.enum(['pending', 'running', 'succeeded', 'failed']),
  items: z.number().int(),
  summary: strict(attributionSummarySchema.shape).nullable(),
  error: z.string().nullable(),
}).meta({ id: 'AttributionBatch' });
