import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  type ChangeAction,
  type ChangeEntity,
  changeActions,
  changeEntities,
  type Environment,
  environments,
  type ProductKind,
  productKinds,
  type RenewalKind,
  renewalKinds,
} from '../src/catalog/vocabulary.ts';

// The catalog's vocabulary is the pure domain's (src/catalog/vocabulary.ts); the tables store it as text.
export {
  type ChangeAction,
  type ChangeEntity,
  changeActions,
  changeEntities,
  type Environment,
  environments,
  type ProductKind,
  productKinds,
  type RenewalKind,
  renewalKinds,
};

/*
 * The tables are a contract (docs/architecture.md, "Tables"): names change only with a migration and the README.
 * Apple's enums are stored as text, never Postgres enum types: Apple keeps adding values.
 */

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => ts('created_at').notNull().defaultNow();
const updatedAt = () => ts('updated_at').notNull().defaultNow();

export const projects = pgTable(
  'projects',
  {
    /** The platform's own project id. */
    id: text('id').primaryKey(),
    appStoreId: text('app_store_id'),
    bundleId: text('bundle_id'),
    appName: text('app_name'),
    /** One of the two schedule forms, or neither (no schedule). */
    scheduleEverySeconds: integer('schedule_every_seconds'),
    scheduleCron: text('schedule_cron'),
    scheduleUpdatedAt: ts('schedule_updated_at'),
    // --- outages: a sync requested but not yet served, so a Redis that lost its data
    // gets it back from Postgres (jobs/requests.ts). Null = nothing pending. Always the LATEST
    // request's time (database clock): a sync that started at or after it serves it and clears it.
    syncRequestedAt: ts('sync_requested_at'),
    syncRequestTrigger: text('sync_request_trigger'),
    // --- end outages
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check('projects_one_schedule', sql`${t.scheduleEverySeconds} is null or ${t.scheduleCron} is null`),
    check('projects_every_positive', sql`${t.scheduleEverySeconds} is null or ${t.scheduleEverySeconds} > 0`),
  ],
);

export const credentialStatuses = ['unverified', 'valid', 'invalid', 'forbidden', 'no_apps'] as const;
export type CredentialStatus = (typeof credentialStatuses)[number];

export const appStoreCredentials = pgTable('app_store_credentials', {
  projectId: text('project_id')
    .primaryKey()
    .references(() => projects.id, { onDelete: 'cascade' }),
  keyId: text('key_id').notNull(),
  issuerId: text('issuer_id').notNull(),
  /** The `.p8` as a compact JWE (dir + A256GCM); never stored in plain text. */
  privateKeyEncrypted: text('private_key_encrypted').notNull(),
  /** The `kid` of the encryption key that sealed it, so keys can be rotated. */
  encryptionKeyId: text('encryption_key_id').notNull(),
  status: text('status').$type<CredentialStatus>().notNull().default('unverified'),
  statusDetail: text('status_detail'),
  verifiedAt: ts('verified_at'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const discoveredApps = pgTable(
  'discovered_apps',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    appStoreId: text('app_store_id').notNull(),
    bundleId: text('bundle_id').notNull(),
    name: text('name').notNull(),
    sku: text('sku'),
    primaryLocale: text('primary_locale'),
    discoveredAt: ts('discovered_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.appStoreId] })],
);

/**
 * `abandoned`: the run's worker died, lost its job lock or lost the database mid-sync,
 * so it stopped heart-beating; a sweep (src/sync/sweep.ts) ended it. Nothing it fetched was applied.
 */
export const syncRunStatuses = ['running', 'succeeded', 'failed', 'abandoned'] as const;
export type SyncRunStatus = (typeof syncRunStatuses)[number];

export const syncRuns = pgTable(
  'sync_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    trigger: text('trigger').notNull(),
    jobId: text('job_id'),
    status: text('status').$type<SyncRunStatus>().notNull().default('running'),
    startedAt: ts('started_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
    durationMs: integer('duration_ms'),
    /** App Store Connect requests this run made, in total and per call site. */
    requestsMade: integer('requests_made').notNull().default(0),
    requestCounts: jsonb('request_counts').$type<Record<string, number>>(),
    /** Changes applied, by entity and action. */
    counts: jsonb('counts').$type<Record<string, number>>(),
    errorKind: text('error_kind'),
    errorMessage: text('error_message'),
    // --- outages
    /**
     * Database clock when this run's fetch completed. Syncs of one project are ordered by it, not
     * by `started_at`: a fetch older than one already applied is not applied (superseded).
     */
    fetchedAt: ts('fetched_at'),
    /** Refreshed while the run is alive; a `running` row whose heartbeat is stale gets `abandoned`. */
    heartbeatAt: ts('heartbeat_at').defaultNow(),
    // --- end outages
  },
  (t) => [
    index('sync_runs_project_started').on(t.projectId, t.startedAt),
    // The sweep reads only live rows.
    index('sync_runs_running_heartbeat').on(t.heartbeatAt).where(sql`${t.status} = 'running'`),
  ],
);

export const subscriptionGroups = pgTable(
  'subscription_groups',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    appleId: text('apple_id').notNull(),
    referenceName: text('reference_name').notNull(),
    raw: jsonb('raw').$type<Record<string, unknown>>().notNull(),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    updatedAt: updatedAt(),
    removedAt: ts('removed_at'),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.appleId] })],
);

export const products = pgTable(
  'products',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    appleId: text('apple_id').notNull(),
    productId: text('product_id').notNull(),
    kind: text('kind').$type<ProductKind>().notNull(),
    referenceName: text('reference_name').notNull(),
    state: text('state').notNull(),
    familySharable: boolean('family_sharable'),
    contentHosting: boolean('content_hosting'),
    subscriptionPeriod: text('subscription_period'),
    groupAppleId: text('group_apple_id'),
    groupLevel: integer('group_level'),
    /** Apple's attributes as received, including ones this worker does not model yet. */
    raw: jsonb('raw').$type<Record<string, unknown>>().notNull(),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    updatedAt: updatedAt(),
    /** Set when the product disappeared from App Store Connect; rows are never deleted. */
    removedAt: ts('removed_at'),
    /** When this product's details (prices, offers, localizations, availability) were last read. */
    detailsReadAt: ts('details_read_at'),
    /** Requests that read took (the refresh's estimate of the next read's cost). */
    detailsRequests: integer('details_requests'),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.appleId] }),
    uniqueIndex('products_project_product_id').on(t.projectId, t.productId),
    check(
      'products_kind',
      sql`${t.kind} in ('consumable','non_consumable','non_renewing_subscription','auto_renewable_subscription')`,
    ),
  ],
);

export const gracePeriodSettings = pgTable('grace_period_settings', {
  projectId: text('project_id')
    .primaryKey()
    .references(() => projects.id, { onDelete: 'cascade' }),
  /** Apple's subscriptionGracePeriods id (read from the app, never assumed equal to it). */
  appleId: text('apple_id').notNull(),
  optIn: boolean('opt_in').notNull(),
  sandboxOptIn: boolean('sandbox_opt_in').notNull(),
  duration: text('duration').notNull(),
  durationDays: integer('duration_days').notNull(),
  renewalType: text('renewal_type').notNull(),
  raw: jsonb('raw').$type<Record<string, unknown>>().notNull(),
  updatedAt: updatedAt(),
  /** Set when the app stopped returning grace period settings. */
  removedAt: ts('removed_at'),
});

/**
 * A digest of the catalog the project's catalog tables hold (products, groups, grace,
 * the rules in force), written by the sync that applied it (src/catalog/digest.ts says what it
 * covers). An unchanged re-sync whose fetched catalog has the same digest is finished in one
 * statement, without loading and diffing the stored catalog (src/sync/unchanged.ts).
 * Triggers (migration 0005) delete the row whenever anything else changes those tables, so a
 * row that exists is never stale, whoever wrote the tables.
 */
export const catalogDigests = pgTable('catalog_digests', {
  projectId: text('project_id')
    .primaryKey()
    .references(() => projects.id, { onDelete: 'cascade' }),
  digest: text('digest').notNull(),
  /**
   * In-app purchases in that catalog. More than the app request can include means the next fetch
   * reads the IAP collection straight away, beside the app request (src/sync/fetch.ts).
   */
  iaps: integer('iaps').notNull(),
  /** The run that applied the catalog (or found it unchanged) and wrote the digest. */
  runId: uuid('run_id').references(() => syncRuns.id, { onDelete: 'set null' }),
  writtenAt: ts('written_at').notNull().defaultNow(),
});

/** Append-only change log: one row per entity changed by a run. */
export const catalogChanges = pgTable(
  'catalog_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    runId: uuid('run_id')
      .notNull()
      .references(() => syncRuns.id, { onDelete: 'cascade' }),
    entity: text('entity').$type<ChangeEntity>().notNull(),
    /** Apple's id of the entity. */
    entityId: text('entity_id').notNull(),
    action: text('action').$type<ChangeAction>().notNull(),
    changedFields: text('changed_fields').array().notNull().default(sql`'{}'::text[]`),
    before: jsonb('before').$type<Record<string, unknown>>(),
    after: jsonb('after').$type<Record<string, unknown>>(),
    detectedAt: ts('detected_at').notNull().defaultNow(),
  },
  (t) => [
    index('catalog_changes_project_detected').on(t.projectId, t.detectedAt),
    index('catalog_changes_run').on(t.runId),
    check('catalog_changes_action', sql`${t.action} in ('added','updated','removed','restored')`),
  ],
);

/** Versioned rules: a change of grace settings closes the rows in force and opens new ones. */
export const revenueAttributionRules = pgTable(
  'revenue_attribution_rules',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    environment: text('environment').$type<Environment>().notNull(),
    renewalKind: text('renewal_kind').$type<RenewalKind>().notNull(),
    /** Days of grace for this renewal kind; 0 when grace does not apply. */
    graceDays: integer('grace_days').notNull(),
    /** Where revenue recovered within grace is dated: `original_due_date` or `recovery_date`. */
    recoveredRevenueDatedTo: text('recovered_revenue_dated_to').notNull(),
    /** Whether the subscriber keeps access while the payment is retried within grace. */
    accessDuringGrace: boolean('access_during_grace').notNull(),
    /** When an unrecovered subscription counts as churned: `grace_period_end` or `due_date`. */
    unrecoveredChurnAt: text('unrecovered_churn_at').notNull(),
    sourceRunId: uuid('source_run_id').references(() => syncRuns.id, { onDelete: 'set null' }),
    effectiveFrom: ts('effective_from').notNull(),
    /** Null while in force. */
    effectiveTo: ts('effective_to'),
  },
  (t) => [
    uniqueIndex('revenue_attribution_rules_in_force')
      .on(t.projectId, t.environment, t.renewalKind)
      .where(sql`${t.effectiveTo} is null`),
    index('revenue_attribution_rules_lookup').on(t.projectId, t.environment, t.renewalKind, t.effectiveFrom),
    check('revenue_attribution_rules_env', sql`${t.environment} in ('production','sandbox')`),
    check('revenue_attribution_rules_kind', sql`${t.renewalKind} in ('paid_to_paid','offer_to_paid')`),
  ],
);

/* ─── Events (transactional outbox), webhook endpoints and their deliveries ───────────
 * An event row is written in the same transaction as the change it reports. The dispatcher fans
 * each event out to delivery rows (one per matching endpoint) and, when EVENTS_QUEUE is on, to the
 * `catalog-sync-events` queue; deliveries are leased (never two workers on one attempt) and sent
 * in event order per (project, endpoint). Secrets are JWEs (src/credentials/crypto.ts).
 */

export const events = pgTable(
  'events',
  {
    /** `evt_` + a UUIDv7: stable, sent as `webhook-id` and as the events queue's job id. */
    id: text('id').primaryKey(),
    /** Commit-independent order of the outbox (insertion order). */
    seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
    type: text('type').notNull(),
    /** Null for events about no single project (e.g. an all-projects endpoint disabled). */
    projectId: text('project_id'),
    /** `{ "version": 1, … }` (src/events/types.ts). */
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    /** When delivery rows were made for the endpoints it matched. */
    fannedOutAt: ts('fanned_out_at'),
    /** When it was put on the events queue (null while EVENTS_QUEUE is off). */
    queuedAt: ts('queued_at'),
    // --- events for the money
    /** 1, 2, 3… per project (events of no project have their own): the envelope's `sequence`. */
    projectSeq: bigint('project_seq', { mode: 'number' }).notNull(),
    // --- end events for the money
  },
  (t) => [
    index('events_project_created').on(t.projectId, t.createdAt),
    index('events_created').on(t.createdAt),
    index('events_not_fanned_out').on(t.seq).where(sql`${t.fannedOutAt} is null`),
    index('events_not_queued').on(t.seq).where(sql`${t.queuedAt} is null`),
    // Each project's last health event: change detection (emit.ts) and the health metric.
    index('events_health_latest').on(t.projectId, t.seq).where(sql`${t.type} = 'catalog.health_changed'`),
    uniqueIndex('events_project_seq').on(sql`coalesce(${t.projectId}, '')`, t.projectSeq),
  ],
);

export const webhookEndpointStatuses = ['enabled', 'disabled'] as const;
export type WebhookEndpointStatus = (typeof webhookEndpointStatuses)[number];

export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    /** `we_` + a UUIDv7. */
    id: text('id').primaryKey(),
    /** Null: every project's events. */
    projectId: text('project_id'),
    url: text('url').notNull(),
    /** Event types delivered; empty = all. */
    eventTypes: text('event_types').array().notNull().default(sql`'{}'::text[]`),
    description: text('description'),
    /** The `whsec_…` secret as a compact JWE; never in plain text. */
    secretEncrypted: text('secret_encrypted').notNull(),
    /** The secret before the last rotation, also signed with until `previous_secret_expires_at`. */
    previousSecretEncrypted: text('previous_secret_encrypted'),
    previousSecretExpiresAt: ts('previous_secret_expires_at'),
    encryptionKeyId: text('encryption_key_id').notNull(),
    status: text('status').$type<WebhookEndpointStatus>().notNull().default('enabled'),
    disabledReason: text('disabled_reason'),
    disabledAt: ts('disabled_at'),
    /** First failed attempt since the last success; null while healthy. */
    failingSince: ts('failing_since'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('webhook_endpoints_project').on(t.projectId),
    check('webhook_endpoints_status', sql`${t.status} in ('enabled','disabled')`),
  ],
);

export const deliveryStatuses = ['pending', 'succeeded', 'failed', 'cancelled'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventId: text('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    /** The event's seq: deliveries to one (project, endpoint) go out in this order. */
    eventSeq: bigint('event_seq', { mode: 'number' }).notNull(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    projectId: text('project_id'),
    status: text('status').$type<DeliveryStatus>().notNull().default('pending'),
    /** Attempts started (a lease taken counts as one). */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    /** While set and in the future, one worker is sending this attempt; nobody else may. */
    leaseUntil: ts('lease_until'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    completedAt: ts('completed_at'),
    // --- events for the money
    /** When its first failed attempt was recorded: failing longer than the hold, it stops holding later events. */
    failingSince: ts('failing_since'),
    // --- end events for the money
  },
  (t) => [
    index('webhook_deliveries_due').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_endpoint_pending')
      .on(t.endpointId, t.projectId, t.eventSeq)
      .where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_event').on(t.eventId),
    check('webhook_deliveries_status', sql`${t.status} in ('pending','succeeded','failed','cancelled')`),
  ],
);

/** The delivery log: one row per HTTP attempt, pruned after WEBHOOKS_LOG_RETENTION_DAYS. */
export const webhookDeliveryAttempts = pgTable(
  'webhook_delivery_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deliveryId: bigint('delivery_id', { mode: 'number' })
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    eventId: text('event_id').notNull(),
    endpointId: text('endpoint_id').notNull(),
    attempt: integer('attempt').notNull(),
    /** succeeded | retrying | failed | disabled */
    outcome: text('outcome').notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    /** At most 1 KiB of the response body, or the network error. */
    responseExcerpt: text('response_excerpt'),
    error: text('error'),
    attemptedAt: ts('attempted_at').notNull().defaultNow(),
  },
  (t) => [
    index('webhook_delivery_attempts_delivery').on(t.deliveryId),
    index('webhook_delivery_attempts_at').on(t.attemptedAt),
  ],
);
// ---------------------------------------------------------------------------------------
// Catalog details — territories, prices versioned in time, offers with their
// per-territory prices, localizations, availability. Money is `numeric` (Apple sends decimal
// strings; never a float), Apple's enums are text, and nothing is ever deleted: what Apple
// stops listing gets `removed_at` (a scheduled price that was cancelled, an ended promotional
// offer), while a price that simply took effect and was superseded stays as history.

/** Apple's territories (ISO alpha-3) with their currency (ISO 4217), from any response that includes them. */
export const territories = pgTable('territories', {
  id: text('id').primaryKey(),
  currency: text('currency').notNull(),
  updatedAt: updatedAt(),
});

export const priceSources = ['manual', 'automatic'] as const;
export type PriceSource = (typeof priceSources)[number];

/**
 * One price of one product in one territory from `start_date` on (null: since it was first
 * priced). A territory's prices ordered by start date form its timeline: the price in force at
 * a date is the last one started on or before it, until the next one starts (`end_date` is
 * Apple's, IAPs only). `removed_at` on a price that had not started yet: a cancelled change.
 */
export const productPrices = pgTable(
  'product_prices',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    productAppleId: text('product_apple_id').notNull(),
    territory: text('territory').notNull(),
    /** Apple's price record id (subscriptionPrices / inAppPurchasePrices). */
    appleId: text('apple_id').notNull(),
    startDate: date('start_date', { mode: 'string' }),
    endDate: date('end_date', { mode: 'string' }),
    /** Subscriptions: existing subscribers keep their old price. */
    preserved: boolean('preserved'),
    /** IAPs: manual (set by the developer) or automatic (Apple's equalization); subscriptions: manual. */
    source: text('source').$type<PriceSource>().notNull(),
    planType: text('plan_type'),
    pricePointId: text('price_point_id'),
    currency: text('currency'),
    customerPrice: numeric('customer_price'),
    proceeds: numeric('proceeds'),
    /** Subscriptions: proceeds after a subscriber's first year of paid service. */
    proceedsYear2: numeric('proceeds_year2'),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    updatedAt: updatedAt(),
    removedAt: ts('removed_at'),
  },
  (t) => [
    uniqueIndex('product_prices_version').on(
      t.projectId,
      t.productAppleId,
      t.territory,
      sql`coalesce(${t.startDate}, '-infinity'::date)`,
    ),
    index('product_prices_lookup').on(t.projectId, t.productAppleId, t.territory),
  ],
);

export const offerKinds = ['introductory', 'promotional', 'offer_code', 'win_back'] as const;
export type OfferKind = (typeof offerKinds)[number];

/**
 * Offers of every kind. Introductory offers are one Apple record per territory (so one row per
 * territory, `territory` set); the other kinds are one row per offer with prices per territory
 * in `offer_prices`. Eligibility (customer eligibilities, win-back months, …) is kept as JSON.
 */
export const productOffers = pgTable(
  'product_offers',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    appleId: text('apple_id').notNull(),
    productAppleId: text('product_apple_id').notNull(),
    kind: text('kind').$type<OfferKind>().notNull(),
    /** Introductory offers only: the territory of this record. */
    territory: text('territory'),
    name: text('name'),
    offerMode: text('offer_mode'),
    duration: text('duration'),
    numberOfPeriods: integer('number_of_periods'),
    startDate: date('start_date', { mode: 'string' }),
    endDate: date('end_date', { mode: 'string' }),
    /** Offer codes: Apple's `active`; null for the other kinds. */
    active: boolean('active'),
    eligibility: jsonb('eligibility').$type<Record<string, unknown>>().notNull(),
    raw: jsonb('raw').$type<Record<string, unknown>>().notNull(),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    updatedAt: updatedAt(),
    removedAt: ts('removed_at'),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.appleId] }),
    index('product_offers_product').on(t.projectId, t.productAppleId),
  ],
);

/** An offer's price in one territory (null amounts: free, no price point). */
export const offerPrices = pgTable(
  'offer_prices',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    offerAppleId: text('offer_apple_id').notNull(),
    territory: text('territory').notNull(),
    pricePointId: text('price_point_id'),
    currency: text('currency'),
    customerPrice: numeric('customer_price'),
    proceeds: numeric('proceeds'),
    proceedsYear2: numeric('proceeds_year2'),
    updatedAt: updatedAt(),
    removedAt: ts('removed_at'),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.offerAppleId, t.territory] })],
);

export const productLocalizations = pgTable(
  'product_localizations',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    appleId: text('apple_id').notNull(),
    productAppleId: text('product_apple_id').notNull(),
    locale: text('locale').notNull(),
    name: text('name'),
    description: text('description'),
    /** Review state (PREPARE_FOR_SUBMISSION, WAITING_FOR_REVIEW, APPROVED, REJECTED, … open). */
    state: text('state'),
    raw: jsonb('raw').$type<Record<string, unknown>>().notNull(),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    updatedAt: updatedAt(),
    removedAt: ts('removed_at'),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.appleId] }),
    index('product_localizations_product').on(t.projectId, t.productAppleId),
  ],
);

export const productAvailability = pgTable(
  'product_availability',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    productAppleId: text('product_apple_id').notNull(),
    appleId: text('apple_id').notNull(),
    availableInNewTerritories: boolean('available_in_new_territories'),
    territories: text('territories').array().notNull(),
    updatedAt: updatedAt(),
    removedAt: ts('removed_at'),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.productAppleId] })],
);

/* ─── The HTTP API: service tokens and idempotency keys ────────────────────────────────────────
 * A token is shown once at creation; only its SHA-256 is stored (the token holds 256 random
 * bits, so a plain hash is enough: nothing to guess from). An idempotency key remembers the first
 * answer to a write, sealed like every other secret (a webhook's secret is in its creation's
 * answer), so that the same key with the same body answers the same.
 */

export const apiTokenScopes = ['read', 'write'] as const;
export type ApiTokenScope = (typeof apiTokenScopes)[number];

export const apiTokens = pgTable(
  'api_tokens',
  {
    /** `tok_` and 16 hex digits; also inside the token itself, so a request finds its row by id. */
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    scope: text('scope').$type<ApiTokenScope>().notNull(),
    /** SHA-256 of the whole token, hex. */
    tokenHash: text('token_hash').notNull(),
    createdAt: createdAt(),
    lastUsedAt: ts('last_used_at'),
    revokedAt: ts('revoked_at'),
  },
  (t) => [
    uniqueIndex('api_tokens_active_name').on(t.name).where(sql`${t.revokedAt} is null`),
    check('api_tokens_scope', sql`${t.scope} in ('read','write')`),
    check('api_tokens_name', sql`length(${t.name}) between 1 and 100`),
  ],
);

export const apiIdempotencyKeys = pgTable(
  'api_idempotency_keys',
  {
    tokenId: text('token_id')
      .notNull()
      .references(() => apiTokens.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    method: text('method').notNull(),
    path: text('path').notNull(),
    /** SHA-256 of method, path and the canonical body: another body under the same key is refused. */
    requestHash: text('request_hash').notNull(),
    /** Null while the first request is being answered. */
    responseStatus: integer('response_status'),
    /** The first answer's JSON body as a compact JWE (it may hold a secret shown once). */
    responseSealed: text('response_sealed'),
    createdAt: createdAt(),
    completedAt: ts('completed_at'),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.key] }), index('api_idempotency_keys_created').on(t.createdAt)],
);
// --- events for the money: the per-project event sequence and the runs already announced

/** The last sequence number given to an event of each project (`''`: events of no project). */
export const eventSequences = pgTable('event_sequences', {
  scope: text('scope').primaryKey(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
});

/**
 * Runs whose changes were announced (catalog.changed, prices.changed, price_change.*): written in
 * the transaction that emits them, so a run is announced once, by the sync or by the dispatcher's
 * sweep of runs a crash left unannounced.
 */
export const runAnnouncements = pgTable('run_announcements', {
  runId: uuid('run_id')
    .primaryKey()
    .references(() => syncRuns.id, { onDelete: 'cascade' }),
  projectId: text('project_id').notNull(),
  /** Change rows the announcement covered (its totalChanges). */
  changeRows: integer('change_rows').notNull(),
  announcedAt: ts('announced_at').notNull().defaultNow(),
});
// --- end events for the money
// ── Operator console sessions ────────────────────────────────────────────────────────────────

/**
 * Server-side console sessions: the cookie carries a random id, the row is what makes it valid,
 * so logging out (the row deleted) or changing a console token (the fingerprint no longer
 * matching) ends it everywhere. Only a hash of the id is stored: the table never holds a cookie.
 */
export const consoleSessions = pgTable(
  'console_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    role: text('role').$type<'read' | 'write'>().notNull(),
    /** An HMAC of the console tokens in force when the session began (never a token). */
    tokenFingerprint: text('token_fingerprint').notNull(),
    createdAt: createdAt(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [
    index('console_sessions_expires').on(t.expiresAt),
    check('console_sessions_role', sql`${t.role} in ('read','write')`),
  ],
);
// ---------------------------------------------------------------------------------------
// Transaction attribution: what each App Store transaction earned (src/attribution,
// docs/attribution.md). One row per transaction, entry (its charge, a refund, a reversal, a
// revocation) and version: a later, better answer is a new version with its reason, never an
// edit in place; the current answer is the highest version. Money is `numeric`.

export const transactionAttributions = pgTable(
  'transaction_attributions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    transactionId: text('transaction_id').notNull(),
    originalTransactionId: text('original_transaction_id').notNull(),
    /** `charge` | `refund` | `refund_reversed` | `revoke`. */
    entry: text('entry').notNull(),
    version: integer('version').notNull(),
    /** Why this version exists (`first answer`, or what changed since the previous one). */
    versionReason: text('version_reason').notNull(),
    kind: text('kind').notNull(),
    productId: text('product_id').notNull(),
    productAppleId: text('product_apple_id').notNull(),
    territory: text('territory').notNull(),
    environment: text('environment').$type<Environment>().notNull(),
    currency: text('currency').notNull(),
    customerPrice: numeric('customer_price'),
    customerPriceSource: text('customer_price_source').notNull(),
    proceeds: numeric('proceeds'),
    proceedsRate: text('proceeds_rate'),
    proceedsReason: text('proceeds_reason').notNull(),
    basis: text('basis').notNull(),
    pricePoint: jsonb('price_point').$type<Record<string, unknown>>(),
    paidDays: integer('paid_days').notNull(),
    paidDaysSource: text('paid_days_source').notNull(),
    offer: jsonb('offer').$type<Record<string, unknown>>(),
    rule: jsonb('rule').$type<Record<string, unknown>>(),
    revenueDate: ts('revenue_date').notNull(),
    dueDate: ts('due_date'),
    recoveredInGrace: boolean('recovered_in_grace').notNull(),
    purchaseDate: ts('purchase_date').notNull(),
    serviceStart: ts('service_start').notNull(),
    serviceEnd: ts('service_end'),
    /** For the subscriber's paid days: a paid period (not a trial, not family-shared, not refunded in full). */
    paidService: boolean('paid_service').notNull(),
    /** For classifying the next transaction: this one was an offer period. */
    offerPeriod: boolean('offer_period').notNull(),
    /** Of the answer (everything but the version and its reason): the same answer again is a duplicate. */
    digest: text('digest').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('transaction_attributions_version').on(t.projectId, t.transactionId, t.entry, t.version),
    index('transaction_attributions_original').on(t.projectId, t.originalTransactionId),
    index('transaction_attributions_revenue').on(t.projectId, t.revenueDate),
    check(
      'transaction_attributions_entry',
      sql`${t.entry} in ('charge','refund','refund_reversed','revoke')`,
    ),
    check(
      'transaction_attributions_basis',
      sql`${t.basis} in ('exact','preserved_price','unknown_proceeds')`,
    ),
    check(
      'transaction_attributions_proceeds_known',
      sql`(${t.basis} = 'unknown_proceeds') = (${t.proceeds} is null)`,
    ),
  ],
);

/**
 * Every price point observed for a product and territory: catalog versions (copied here, so a
 * price App Store Connect stops listing still prices a preserved subscriber) and points looked
 * up in App Store Connect for a transaction whose price matched none.
 */
export const attributionPricePoints = pgTable(
  'attribution_price_points',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    productAppleId: text('product_apple_id').notNull(),
    territory: text('territory').notNull(),
    currency: text('currency').notNull(),
    customerPrice: numeric('customer_price').notNull(),
    proceeds: numeric('proceeds'),
    proceedsYear2: numeric('proceeds_year2'),
    /** `catalog` | `app_store_connect`. */
    source: text('source').notNull(),
    pricePointId: text('price_point_id'),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('attribution_price_points_version').on(
      t.projectId,
      t.productAppleId,
      t.territory,
      t.currency,
      t.customerPrice,
      sql`coalesce(${t.proceeds}, -1)`,
      sql`coalesce(${t.proceedsYear2}, -1)`,
    ),
    check('attribution_price_points_source', sql`${t.source} in ('catalog','app_store_connect')`),
  ],
);

/** A stored batch of transactions for the `attribute-transactions` job (its payload points here). */
export const attributionBatches = pgTable(
  'attribution_batches',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    environment: text('environment').$type<Environment>().notNull(),
    items: integer('items').notNull(),
    status: text('status').notNull().default('pending'),
    summary: jsonb('summary').$type<Record<string, unknown>>(),
    error: text('error'),
    createdAt: createdAt(),
    finishedAt: ts('finished_at'),
  },
  (t) => [
    check('attribution_batches_status', sql`${t.status} in ('pending','running','succeeded','failed')`),
  ],
);

export const attributionBatchItems = pgTable(
  'attribution_batch_items',
  {
    batchId: uuid('batch_id')
      .notNull()
      .references(() => attributionBatches.id, { onDelete: 'cascade' }),
    line: integer('line').notNull(),
    input: jsonb('input').$type<unknown>().notNull(),
    /** The item's outcome once the job ran (status, versions, or the refusal). */
    result: jsonb('result').$type<Record<string, unknown>>(),
  },
  (t) => [primaryKey({ columns: [t.batchId, t.line] })],
);

// ---------------------------------------------------------------------------------------------
// Catalog metadata (src/details): Apple's 4.x per-product and per-group records — versions with
// their state, plan availabilities, promoted purchases, review screenshots and images (present
// or missing, never their bytes), subscription group localizations — and when each product's
// details changed and its next scheduled price takes effect (the refresh's priorities).

/**
 * One metadata record of a product or subscription group (`owner_apple_id`), keyed by kind and
 * Apple id. A review screenshot that disappears gets `removed_at`: "missing" is no live row.
 */
export const detailMetadata = pgTable(
  'detail_metadata',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    ownerAppleId: text('owner_apple_id').notNull(),
    /** version | plan_availability | promoted_purchase | review_screenshot | image | group_localization. */
    kind: text('kind').notNull(),
    appleId: text('apple_id').notNull(),
    /** Review, delivery or version state (open enum). */
    state: text('state'),
    version: integer('version'),
    /** Plan type of a plan availability; locale of a group localization. */
    label: text('label'),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull(),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    updatedAt: updatedAt(),
    removedAt: ts('removed_at'),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.kind, t.appleId] }),
    index('detail_metadata_owner').on(t.projectId, t.ownerAppleId),
  ],
);

/**
 * The refresh's schedule per product or group: when its details last changed (recently changed
 * ones are re-read sooner), the day its next scheduled price takes effect (re-read just after),
 * and, for groups, when their metadata was last read.
 */
export const detailSchedule = pgTable(
  'detail_schedule',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    ownerAppleId: text('owner_apple_id').notNull(),
    readAt: ts('read_at'),
    changedAt: ts('changed_at'),
    nextChangeOn: date('next_change_on', { mode: 'string' }),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.ownerAppleId] })],
);
