// Before the application layer loads drizzle-orm on the first call (why: the module's comment).
import './startup/resolve-hook.ts';
import type { Database } from '../db/client.ts';
import type { CredentialStatus } from '../db/schema.ts';
import type * as Attribution from './app/attribution.ts';
import type * as Details from './app/details.ts';
import type * as Events from './app/events.ts';
import type * as App from './app/index.ts';
import type { AppContext } from './app/index.ts';
import type * as Webhooks from './app/webhooks.ts';
import { type Config, envSchema, loadConfig } from './config/env.ts';
import type { CredentialsInput } from './credentials/validate.ts';
import { AppError, InvalidInputError } from './errors.ts';
import type { Logger } from './log/logger.ts';
import type { DiscoveredApp, SelectedApp, VerifyResult } from './onboarding/index.ts';

/*
 * The public API for the main platform (`import { createCatalogSync } from 'catalog-sync'`).
 * Every method translates to one function of the application layer (src/app/), the same ones the
 * CLI and the worker call: same checks, same errors, same results. The layer, the database
 * driver and BullMQ load on the first call, so importing this module (or `catalog-sync/queue`)
 * stays light. Results never hold a secret (no .p8, no token, no encryption key).
 */

// ── Re-exports: the queue contract, the errors and the types a caller handles ────────────────

export type {
  AttributeInput,
  Attribution,
  CatalogHealth,
  ListPricesInput,
  OfferRow,
  PriceRow,
} from './app/details.ts';
export type { DeliveryListItem, EventListItem } from './app/events.ts';
export type {
  JobRef,
  ProjectStatus,
  SavedCredentials,
  ScheduleListing,
  SyncRequest,
  SyncRunInfo,
} from './app/index.ts';
export type {
  AddWebhookInput,
  TestWebhookResult,
  WebhookEndpoint,
  WebhookWithSecret,
} from './app/webhooks.ts';
export {
  type AppleErrorInfo,
  AppStoreError,
  type AppStoreErrorKind,
  type ForbiddenReason,
} from './appstore/errors.ts';
export {
  type DecodedTransaction,
  decodedTransactionSchema,
  transactionInputSchema,
} from './attribution/model.ts';
// Transaction attribution: the zod schemas of its inputs and outputs, for routes that reuse them.
export {
  type AttributeTransactionsInput,
  type AttributeTransactionsOutput,
  type AttributionItemResult,
  type AttributionSummary,
  attributeTransactionsInputSchema,
  attributeTransactionsOutputSchema,
  attributionItemResultSchema,
  attributionSummarySchema,
  type RevenueInput,
  type RevenueOutput,
  revenueInputSchema,
  revenueOutputSchema,
  type StoredAttribution,
  storedAttributionSchema,
} from './attribution/schemas.ts';
export { ConfigError } from './config/env.ts';
export type { CredentialsInput } from './credentials/validate.ts';
export { AppError, InvalidInputError, NotFoundError, PreconditionError } from './errors.ts';
export type { EventEnvelope, EventType, PayloadOf as EventPayload } from './events/types.ts';
export type { Logger } from './log/logger.ts';
export type { DiscoveredApp, SelectedApp, VerifyResult, VerifyStatus } from './onboarding/index.ts';
export {
  DEFAULT_ATTEMPTS,
  defaultJobOptions,
  JOB_NAMES,
  type JobName,
  type PayloadOf,
  payloadSchemas,
  projectIdSchema,
  QUEUE_NAME,
  SYNC_JOB,
  SYNC_TRIGGERS,
  type SyncCatalogPayload,
  type SyncTrigger,
  scheduleId,
  syncCatalogPayloadSchema,
  syncDeduplicationId,
  VERIFY_JOB,
  type VerifyCredentialsPayload,
  verifyCredentialsPayloadSchema,
  verifyDeduplicationId,
} from './queue/contract.ts';
export { RedisUnavailableError } from './queue/errors.ts';
export type { EnqueueOutcome } from './queue/producer.ts';
export type { SyncSummary } from './sync/run.ts';
export type { CredentialStatus, Database };

// ── Types of the client ──────────────────────────────────────────────────────────────────────

export interface CatalogSyncOptions {
  /** Postgres URL. Default: DATABASE_URL; when neither is set, the embedded database in `dataDir`. */
  databaseUrl?: string;
  /** Folder of the embedded database (only without a Postgres URL). Default: DATA_DIR or `.data`. */
  dataDir?: string;
  /** Default: REDIS_URL or `redis://127.0.0.1:6379`. */
  redisUrl?: string;
  /** BullMQ key prefix; must match the workers'. Default: REDIS_PREFIX or `catalog-sync`. */
  redisPrefix?: string;
  /** 32 bytes, base64 or hex, sealing the .p8 at rest; must match the workers'. Default: CREDENTIALS_ENCRYPTION_KEY. */
  encryptionKey?: string;
  /** Default: APP_STORE_CONNECT_BASE_URL or Apple's API. */
  appStoreBaseUrl?: string;
  /** A pino logger (secrets are redacted by the default one; bring your own redaction). Default: the process logger. */
  logger?: Logger;
  /** Where the defaults come from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * Advanced: an open database to use instead of opening one from `databaseUrl`/`dataDir`, e.g. to
   * share the embedded database with a worker in the same process (it allows one opener). The
   * client does not close it.
   */
  database?: Database;
}

export type RequestSyncOptions = Omit<App.RequestSyncInput, 'projectId'>;

/** `every`: seconds, or a duration such as `30m`, `6h`, `1d`, `2w`, `1h30m`. `cron`: 5 fields, evaluated in UTC. */
export type ScheduleInput = { every: number | string } | { cron: string };

export interface ScheduleInfo extends Omit<App.ScheduleInfo, 'nextRunAt'> {
  /** The next run the queue has planned, or null if it has none. */
  nextRunAt: Date | null;
}

export interface CatalogSync {
  /**
   * Checks the key (Key ID, Issuer ID, .p8 as text; `fileName` helps catch a wrong file), seals and
   * stores it (status `unverified`), then enqueues a verification and, when the project already has
   * an app, a sync with trigger `credentials-saved`. Creates the project on first use.
   */
  saveCredentials(
    projectId: string,
    input: CredentialsInput,
  ): Promise<App.SavedCredentials & { verification: App.JobRef }>;
  /** "Verify & Fetch Apps", inline: status, detail (what to do), and every app the key sees. */
  verifyCredentials(projectId: string): Promise<VerifyResult>;
  /** The apps seen at the last verification. */
  listApps(projectId: string): Promise<DiscoveredApp[]>;
  /** Binds the project to one of its discovered apps. */
  selectApp(projectId: string, appStoreId: string): Promise<SelectedApp>;
  /** Enqueues a sync; at most one waits per project (a second request returns the waiting job). */
  requestSync(projectId: string, options?: RequestSyncOptions): Promise<App.SyncRequest>;
  /** Sets the project's periodic sync (replacing any other); the workers pick it up at once. */
  schedule(projectId: string, schedule: ScheduleInput): Promise<ScheduleInfo>;
  /** Removes the project's periodic sync; `removed` is false when it had none. */
  unschedule(projectId: string): Promise<{ projectId: string; removed: boolean }>;
  /** Credential status, selected app, schedule, catalog size and the last runs. */
  getStatus(projectId: string, options?: { runs?: number }): Promise<App.ProjectStatus>;
  // ── Catalog details (prices and proceeds, offers, health) ──
  /** What a transaction or renewal at `at` earned and how its revenue is dated (price, proceeds, offer, grace rule). */
  attribute(input: Details.AttributeInput): Promise<Details.Attribution>;
  /** Prices and proceeds per territory: every version, or those in force at `at`. */
  listPrices(input: Details.ListPricesInput): ReturnType<typeof Details.listPrices>;
  /** Offers of every kind with their per-territory prices. */
  listOffers(projectId: string): ReturnType<typeof Details.listOffers>;
  /** What in the catalog would hurt revenue or review, and how stale its details are. */
  catalogHealth(projectId: string): Promise<Details.CatalogHealth>;
  // ── Events and signed webhooks ──
  /** Registers an endpoint (one project, or all with no projectId); the result holds its secret, shown this once. */
  addWebhook(input: Webhooks.AddWebhookInput): Promise<Webhooks.WebhookWithSecret>;
  listWebhooks(options?: { projectId?: string }): Promise<Webhooks.WebhookEndpoint[]>;
  removeWebhook(id: string): Promise<{ id: string; removed: true }>;
  /** A new secret (shown once); requests are signed with the old one too for WEBHOOKS_ROTATION_GRACE_MS. */
  rotateWebhookSecret(id: string): Promise<Webhooks.WebhookWithSecret>;
  /**
   * Re-enables a disabled endpoint; with `replaySince` (ISO time or `24h`), the events since then
   * it matches and never received are sent to it again, in order, with their original ids.
   */
  enableWebhook(id: string, options?: { replaySince?: string | Date }): Promise<Webhooks.EnableWebhookResult>;
  /** The change rows of one run: the `changesCursor` of its `catalog.changed` (`run:<runId>`) or the run id. */
  listRunChanges(
    input: Parameters<typeof Events.listRunChanges>[1],
  ): ReturnType<typeof Events.listRunChanges>;
  /** The outbox of a project, newest first, with each event's delivery counts. */
  listEvents(input: Parameters<typeof Events.listEvents>[1]): Promise<Events.EventListItem[]>;
  /** Sends one event again, or every event since a time, to the endpoints it matches (same event id). */
  redeliver(input: Parameters<typeof Events.redeliver>[1]): Promise<{ events: number; deliveries: number }>;
  /**
   * What each App Store transaction earned, stored once per transaction: notifications as Apple
   * POSTs them (`{signedPayload}`), signed transactions, or decoded ones (Apple's field names).
   * Refused items say why and are stored nowhere. At most 10,000 per call (more: `queueAttributionBatch`).
   */
  attributeTransactions(
    input: Attribution.AttributeTransactionsInput,
  ): Promise<Attribution.AttributeTransactionsOutput>;
  /** Customer price and proceeds summed per day, month, product or territory and currency. */
  revenue(input: Attribution.RevenueInput): Promise<Attribution.RevenueOutput>;
  /** Stores a batch of transactions and queues the `attribute-transactions` job for it. */
  queueAttributionBatch(
    input: Parameters<typeof Attribution.queueAttributionBatch>[1],
  ): ReturnType<typeof Attribution.queueAttributionBatch>;
  /** A queued batch: its status and, once run, its summary. */
  attributionBatch(input: {
    projectId: string;
    batchId: string;
  }): ReturnType<typeof Attribution.attributionBatch>;
  /** Applies pending database migrations (the CLI's `catalog-sync migrate`). */
  migrate(): Promise<{ applied: number; total: number }>;
  /**
   * Closes the database and Redis connections and the idle App Store Connect connections.
   * The client cannot be used afterwards.
   */
  close(): Promise<void>;
}

// ── Configuration ────────────────────────────────────────────────────────────────────────────

const OPTION_ENV = {
  databaseUrl: 'DATABASE_URL',
  dataDir: 'DATA_DIR',
  redisUrl: 'REDIS_URL',
  redisPrefix: 'REDIS_PREFIX',
  encryptionKey: 'CREDENTIALS_ENCRYPTION_KEY',
  appStoreBaseUrl: 'APP_STORE_CONNECT_BASE_URL',
} as const satisfies Partial<Record<keyof CatalogSyncOptions, keyof typeof envSchema.shape>>;

/** Explicit options win over the environment; each is checked by the same rule as its variable. */
function resolveConfig(options: CatalogSyncOptions): Config {
  if (options === null || typeof options !== 'object') {
    throw new InvalidInputError(
      'options',
      'must be an object such as { databaseUrl, redisUrl, encryptionKey }',
    );
  }
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  for (const [option, variable] of Object.entries(OPTION_ENV) as [keyof typeof OPTION_ENV, string][]) {
    const value = options[option];
    if (value === undefined) continue;
    const schema = envSchema.shape[variable as keyof typeof envSchema.shape];
    const parsed = typeof value === 'string' && value !== '' ? schema.safeParse(value) : undefined;
    if (!parsed?.success) {
      // The value itself is never echoed: it may be a key or a URL with a password.
      const reason = parsed?.error.issues[0]?.message ?? 'must be a non-empty string';
      throw new InvalidInputError(option, `${reason} (or leave it out to use ${variable})`);
    }
    env[variable] = value;
  }
  return loadConfig(env);
}

// ── The client ───────────────────────────────────────────────────────────────────────────────

/**
 * Creates a client. Nothing connects (or loads) until the first call, so creating one is cheap
 * and never fails on a service being down; bad options throw InvalidInputError (or ConfigError
 * for a bad environment) at once.
 */
export function createCatalogSync(options: CatalogSyncOptions = {}): CatalogSync {
  const config = resolveConfig(options);
  const shared = options.database;
  let closed = false;
  let opened:
    | Promise<{ app: typeof App; ctx: AppContext; database: Database; queue: { close(): Promise<void> } }>
    | undefined;

  function open() {
    if (closed) {
      throw new AppError(
        'closed',
        'This catalog-sync client was closed; create a new one with createCatalogSync().',
      );
    }
    opened ??= (async () => {
      const app = await import('./app/index.ts');
      const { openDatabase } = await import('../db/client.ts');
      const { getLogger } = await import('./log/logger.ts');
      const logger = (options.logger ?? getLogger()).child({ component: 'catalog-sync-api' });
      const database =
        shared ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
      const queue = app.lazyQueue(config);
      const ctx: AppContext = {
        db: database.db,
        config,
        logger,
        queue: queue.queue,
        queueEvents: queue.queueEvents,
        redis: queue.redis,
      };
      return { app, ctx, database, queue };
    })().catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
    return opened;
  }

  /** Runs one application function; a database failure leaves as one classified AppError. */
  async function call<T>(
    operation: (app: typeof App, ctx: AppContext, database: Database) => Promise<T>,
  ): Promise<T> {
    try {
      const { app, ctx, database } = await open();
      return await operation(app, ctx, database);
    } catch (error) {
      const { asAppError } = await import('./database/errors.ts');
      throw asAppError(error);
    }
  }

  return {
    saveCredentials: (projectId, input) =>
      call(async (app, ctx) => {
        // The API always queues (enqueue is the CLI's --no-enqueue), so a verification is there.
        const saved = await app.saveCredentials(ctx, {
          ...(input ?? {}),
          projectId,
          enqueue: true,
        } as App.SaveCredentialsInput);
        return saved as App.SavedCredentials & { verification: App.JobRef };
      }),
    verifyCredentials: (projectId) =>
      call(async (app, ctx) => {
        const { projectId: _id, ...result } = await app.verifyCredentials(ctx, { projectId });
        return result;
      }),
    listApps: (projectId) => call(async (app, ctx) => (await app.listApps(ctx, { projectId })).apps),
    selectApp: (projectId, appStoreId) =>
      call(async (app, ctx) => {
        const { projectId: _id, ...selected } = await app.selectApp(ctx, { projectId, appStoreId });
        return selected;
      }),
    requestSync: (projectId, requestOptions = {}) =>
      call((app, ctx) => app.requestSync(ctx, { ...requestOptions, projectId })),
    schedule: (projectId, input) =>
      call(async (app, ctx) => {
        if (input === null || typeof input !== 'object') {
          throw new InvalidInputError(
            'schedule',
            'give exactly one of { every: "6h" } or { cron: "0 */6 * * *" }',
          );
        }
        const info = await app.schedule(ctx, { ...(input as object), projectId });
        return { ...info, nextRunAt: info.nextRunAt ? new Date(info.nextRunAt) : null };
      }),
    unschedule: (projectId) => call((app, ctx) => app.unschedule(ctx, { projectId })),
    getStatus: (projectId, statusOptions = {}) =>
      call((app, ctx) => app.getStatus(ctx, { ...statusOptions, projectId })),
    attribute: (input) => call(async (_app, ctx) => (await import('./app/details.ts')).attribute(ctx, input)),
    attributeTransactions: (input) =>
      call(async (_app, ctx) => (await import('./app/attribution.ts')).attributeTransactions(ctx, input)),
    revenue: (input) => call(async (_app, ctx) => (await import('./app/attribution.ts')).revenue(ctx, input)),
    queueAttributionBatch: (input) =>
      call(async (_app, ctx) => (await import('./app/attribution.ts')).queueAttributionBatch(ctx, input)),
    attributionBatch: (input) =>
      call(async (_app, ctx) => (await import('./app/attribution.ts')).attributionBatch(ctx, input)),
    listPrices: (input) =>
      call(async (_app, ctx) => (await import('./app/details.ts')).listPrices(ctx, input)),
    listOffers: (projectId) =>
      call(async (_app, ctx) => (await import('./app/details.ts')).listOffers(ctx, { projectId })),
    catalogHealth: (projectId) =>
      call(async (_app, ctx) => (await import('./app/details.ts')).catalogHealth(ctx, { projectId })),
    addWebhook: (input) =>
      call(async (_app, ctx) => (await import('./app/webhooks.ts')).addWebhook(ctx, input)),
    listWebhooks: (listOptions = {}) =>
      call(async (_app, ctx) => (await import('./app/webhooks.ts')).listWebhooks(ctx, listOptions)),
    removeWebhook: (id) =>
      call(async (_app, ctx) => (await import('./app/webhooks.ts')).removeWebhook(ctx, { id })),
    rotateWebhookSecret: (id) =>
      call(async (_app, ctx) => (await import('./app/webhooks.ts')).rotateWebhookSecret(ctx, { id })),
    enableWebhook: (id, enableOptions = {}) =>
      call(async (_app, ctx) =>
        (await import('./app/webhooks.ts')).enableWebhook(ctx, {
          id,
          replaySince: enableOptions.replaySince,
        }),
      ),
    listRunChanges: (input) =>
      call(async (_app, ctx) => (await import('./app/events.ts')).listRunChanges(ctx, input)),
    listEvents: (input) =>
      call(async (_app, ctx) => (await import('./app/events.ts')).listEvents(ctx, input)),
    redeliver: (input) => call(async (_app, ctx) => (await import('./app/events.ts')).redeliver(ctx, input)),
    migrate: () =>
      call(async (app, _ctx, database) => {
        const { applied, total } = await app.migrate(config, database);
        return { applied, total };
      }),
    async close() {
      if (closed) return;
      closed = true;
      const current = await opened?.catch(() => undefined);
      if (current) {
        await current.queue.close();
        if (!shared) await current.database.close();
      }
      // The keep-alive sockets to Apple (shared by the process; requests in flight finish).
      const { closeSharedAgents } = await import('./appstore/agents.ts');
      closeSharedAgents();
    },
  };
}
