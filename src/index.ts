import { sql } from 'drizzle-orm';
import { type Database, openDatabase, rowsOf } from '../db/client.ts';
import { publicDatabaseError } from '../db/errors.ts';
import { migrateDatabase, migrationsFolder } from '../db/migrate.ts';
import type { CredentialStatus } from '../db/schema.ts';
import {
  projectIdSchema,
  SYNC_TRIGGERS,
  type SyncTrigger,
  scheduleId,
  syncDeduplicationId,
} from '../jobs/contract.ts';
import { type EnqueueOutcome, enqueueSync, enqueueVerify, waitForEnqueued } from '../jobs/producer.ts';
import { type CatalogQueue, openQueue, openQueueEvents, type QueueHandle } from '../jobs/queue.ts';
import {
  clearSchedule,
  formatEvery,
  parseEvery,
  reconcileSchedules,
  scheduleOffsetMs,
  setSchedule,
  validateCron,
} from '../jobs/schedules.ts';
import { closeSharedAgents } from './appstore/index.ts';
import { type Config, envSchema, loadConfig } from './config/env.ts';
import type { ServiceContext } from './context.ts';
import {
  type CredentialsInput,
  loadCredentials,
  parseProjectId,
  saveCredentials as storeCredentials,
} from './credentials/index.ts';
import { AppError, errorMessage, InvalidInputError, PreconditionError } from './errors.ts';
import { getLogger, type Logger, scrubSecrets } from './log/logger.ts';
import {
  type DiscoveredApp,
  listDiscoveredApps,
  type SelectedApp,
  selectedApp,
  selectApp as selectProjectApp,
  type VerifyResult,
  verifyCredentials as verifyProjectCredentials,
} from './onboarding/index.ts';
import { projectStatus, type SyncSummary } from './sync/index.ts';

/*
 * The public API for the main platform (`import { createCatalogSync } from 'catalog-sync'`).
 * Everything here is a thin, typed shell over the same functions the CLI and the worker use:
 * it validates the input (InvalidInputError names the field), opens Postgres and Redis on first
 * use, and returns plain data that never holds a secret (no .p8, no token, no encryption key).
 */

// ── Re-exports: the queue contract, the errors and the types a caller handles ────────────────

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
} from '../jobs/contract.ts';
export type { EnqueueOutcome } from '../jobs/producer.ts';
export { RedisUnavailableError } from '../jobs/redis.ts';
export {
  type AppleErrorInfo,
  AppStoreError,
  type AppStoreErrorKind,
  type ForbiddenReason,
} from './appstore/index.ts';
export { ConfigError } from './config/env.ts';
export type { CredentialsInput } from './credentials/index.ts';
export { AppError, InvalidInputError, NotFoundError, PreconditionError } from './errors.ts';
export type { Logger } from './log/logger.ts';
export type { DiscoveredApp, SelectedApp, VerifyResult, VerifyStatus } from './onboarding/index.ts';
export type { SyncSummary } from './sync/index.ts';
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

/** A queued job, by id; `outcome` says whether it is new or the one already waiting (deduplication). */
export interface JobRef {
  jobId: string;
  outcome: EnqueueOutcome;
}

export interface SavedCredentials {
  projectId: string;
  keyId: string;
  issuerId: string;
  /** Always `unverified` right after saving; the verification job updates it. */
  status: CredentialStatus;
  /** The `verify-credentials` job enqueued. */
  verification: JobRef;
  /** The `sync-catalog` job (trigger `credentials-saved`) when the project already has an app, else null. */
  sync: JobRef | null;
}

export interface RequestSyncOptions {
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

/** `every`: seconds, or a duration such as `30m`, `6h`, `1d`, `1h30m`. `cron`: 5 fields, evaluated in UTC. */
export type ScheduleInput = { every: number | string } | { cron: string };

export interface ScheduleInfo {
  projectId: string;
  /** `6h`-style, or null for a cron schedule. */
  every: string | null;
  everySeconds: number | null;
  cron: string | null;
  /** Where in each interval this project fires (projects on one interval are spread across it). */
  offsetMs: number | null;
  /** The next run the queue has planned, or null if it has none. */
  nextRunAt: Date | null;
}

export interface SyncRunInfo {
  runId: string;
  trigger: string;
  status: string;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  requests: number;
  changes: Record<string, number> | null;
  error: { kind: string | null; message: string | null } | null;
}

export interface ProjectStatus {
  projectId: string;
  /** Never the key itself; null when none was saved. */
  credentials: {
    keyId: string;
    issuerId: string;
    status: CredentialStatus;
    statusDetail: string | null;
    verifiedAt: Date | null;
  } | null;
  app: SelectedApp | null;
  schedule: { every: string | null; everySeconds: number | null; cron: string | null } | null;
  catalog: { products: number; removedProducts: number; groups: number; graceOptIn: boolean | null };
  /** Newest first. */
  lastRuns: SyncRunInfo[];
}

export interface CatalogSync {
  /**
   * Checks the key (Key ID, Issuer ID, .p8 as text; `fileName` helps catch a wrong file), seals and
   * stores it (status `unverified`), then enqueues a verification and, when the project already has
   * an app, a sync with trigger `credentials-saved`. Creates the project on first use.
   */
  saveCredentials(projectId: string, input: CredentialsInput): Promise<SavedCredentials>;
  /** "Verify & Fetch Apps", inline: status, detail (what to do), and every app the key sees. */
  verifyCredentials(projectId: string): Promise<VerifyResult>;
  /** The apps seen at the last verification. */
  listApps(projectId: string): Promise<DiscoveredApp[]>;
  /** Binds the project to one of its discovered apps. */
  selectApp(projectId: string, appStoreId: string): Promise<SelectedApp>;
  /** Enqueues a sync; at most one waits per project (a second request returns the waiting job). */
  requestSync(projectId: string, options?: RequestSyncOptions): Promise<SyncRequest>;
  /** Sets the project's periodic sync (replacing any other); the workers pick it up at once. */
  schedule(projectId: string, schedule: ScheduleInput): Promise<ScheduleInfo>;
  /** Removes the project's periodic sync; `removed` is false when it had none. */
  unschedule(projectId: string): Promise<{ projectId: string; removed: boolean }>;
  /** Credential status, selected app, schedule, catalog size and the last runs. */
  getStatus(projectId: string, options?: { runs?: number }): Promise<ProjectStatus>;
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

function checkProjectId(projectId: unknown): string {
  const parsed = projectIdSchema.safeParse(projectId);
  if (!parsed.success)
    throw new InvalidInputError('projectId', parsed.error.issues[0]?.message ?? 'is invalid');
  try {
    return parseProjectId(parsed.data);
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new InvalidInputError('projectId', error.message.replace(/^[^:]*: /, ''));
    throw error;
  }
}

/** The CLI's field names (`--every`) become the API's (`every`). */
function renameField<T>(field: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new InvalidInputError(field, error.message.replace(/^[^:]*: /, ''));
    throw error;
  }
}

function parseScheduleInput(input: ScheduleInput): { every: number } | { cron: string } {
  const value = (input ?? {}) as Record<string, unknown>;
  const hasEvery = value.every !== undefined;
  const hasCron = value.cron !== undefined;
  if (hasEvery === hasCron) {
    throw new InvalidInputError('schedule', 'give exactly one of { every: "6h" } or { cron: "0 */6 * * *" }');
  }
  if (hasCron) {
    if (typeof value.cron !== 'string')
      throw new InvalidInputError('cron', 'must be a string such as "0 */6 * * *"');
    const text = value.cron;
    return { cron: renameField('cron', () => validateCron(text)) };
  }
  if (typeof value.every === 'number') {
    if (!Number.isInteger(value.every) || value.every < 1) {
      throw new InvalidInputError(
        'every',
        'must be a whole number of seconds (at least 1), or a duration such as "6h"',
      );
    }
    return { every: value.every };
  }
  if (typeof value.every === 'string') {
    const text = value.every;
    return { every: renameField('every', () => parseEvery(text)) };
  }
  throw new InvalidInputError(
    'every',
    'must be a number of seconds or a duration such as "30m", "6h" or "1d"',
  );
}

// ── The client ───────────────────────────────────────────────────────────────────────────────

/** Opens once on first use; a failed open is forgotten so the next call tries again. */
function lazy<T>(open: () => Promise<T>): { get(): Promise<T>; peek(): Promise<T> | undefined } {
  let pending: Promise<T> | undefined;
  return {
    get() {
      pending ??= open().catch((error: unknown) => {
        pending = undefined;
        throw error;
      });
      return pending;
    },
    peek: () => pending,
  };
}

/**
 * Creates a client. Nothing connects until the first call, so creating one is cheap and never
 * fails on a service being down; bad options throw InvalidInputError (or ConfigError for a bad
 * environment) at once.
 */
export function createCatalogSync(options: CatalogSyncOptions = {}): CatalogSync {
  const config = resolveConfig(options);
  const logger = (options.logger ?? getLogger()).child({ component: 'catalog-sync-api' });
  let closed = false;

  const shared = options.database;
  const database = lazy<Database>(
    async () => shared ?? openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }),
  );
  const queueHandle = lazy<QueueHandle>(() => openQueue(config, 'client'));
  const queueEvents = lazy(async () => {
    const events = openQueueEvents(config);
    await events.waitUntilReady();
    return events;
  });

  function ensureOpen(): void {
    if (closed)
      throw new AppError(
        'closed',
        'This catalog-sync client was closed; create a new one with createCatalogSync().',
      );
  }

  async function context(): Promise<ServiceContext> {
    ensureOpen();
    const { db } = await database.get();
    return { db, config, logger };
  }

  async function queue(): Promise<CatalogQueue> {
    ensureOpen();
    return (await queueHandle.get()).queue;
  }

  async function scheduleInfo(
    projectId: string,
    row: { scheduleEverySeconds: number | null; scheduleCron: string | null },
  ): Promise<ScheduleInfo> {
    const scheduler = await (await queue()).getJobScheduler(scheduleId(projectId));
    const everySeconds = row.scheduleEverySeconds;
    return {
      projectId,
      every: everySeconds ? formatEvery(everySeconds) : null,
      everySeconds,
      cron: row.scheduleCron,
      offsetMs: everySeconds ? scheduleOffsetMs(projectId, everySeconds * 1000) : null,
      nextRunAt: scheduler?.next ? new Date(scheduler.next) : null,
    };
  }

  const client: CatalogSync = {
    async saveCredentials(projectId, input) {
      const id = checkProjectId(projectId);
      // Redis first: a platform told "saved" must also have its verification queued.
      const jobs = await queue();
      const ctx = await context();
      const saved = await storeCredentials(ctx, id, input);
      const verification = await enqueueVerify(jobs, id);
      const app = await selectedApp(ctx, id);
      const sync = app ? await enqueueSync(jobs, id, 'credentials-saved') : null;
      return {
        projectId: saved.projectId,
        keyId: saved.keyId,
        issuerId: saved.issuerId,
        status: saved.status,
        verification: { jobId: String(verification.job.id), outcome: verification.outcome },
        sync: sync ? { jobId: String(sync.job.id), outcome: sync.outcome } : null,
      };
    },

    async verifyCredentials(projectId) {
      const id = checkProjectId(projectId);
      return verifyProjectCredentials(await context(), id);
    },

    async listApps(projectId) {
      const id = checkProjectId(projectId);
      return listDiscoveredApps(await context(), id);
    },

    async selectApp(projectId, appStoreId) {
      const id = checkProjectId(projectId);
      if (typeof appStoreId !== 'string' || appStoreId.trim() === '') {
        throw new InvalidInputError(
          'appStoreId',
          'must be the App Store ID of one of the apps listApps() returns',
        );
      }
      return selectProjectApp(await context(), id, appStoreId);
    },

    async requestSync(projectId, requestOptions = {}) {
      const id = checkProjectId(projectId);
      const trigger = requestOptions.trigger ?? 'manual';
      if (!SYNC_TRIGGERS.includes(trigger)) {
        throw new InvalidInputError('trigger', `must be one of ${SYNC_TRIGGERS.join(', ')}`);
      }
      const timeoutMs = requestOptions.timeoutMs ?? 120_000;
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
        throw new InvalidInputError('timeoutMs', 'must be a positive whole number of milliseconds');
      }
      // Refuse now what the worker would refuse later, so the platform hears why.
      const ctx = await context();
      await loadCredentials(ctx, id); // NotFoundError / PreconditionError when there is nothing to sync with
      if (!(await selectedApp(ctx, id))) {
        throw new PreconditionError(
          `Project ${id} has no app selected; call listApps() (after verifyCredentials()) and selectApp() first.`,
        );
      }
      const jobs = await queue();
      const enqueued = await enqueueSync(jobs, id, trigger);
      const request: SyncRequest = {
        projectId: id,
        trigger,
        jobId: String(enqueued.job.id),
        outcome: enqueued.outcome,
      };
      if (!requestOptions.wait) return request;
      const events = await queueEvents.get();
      try {
        const done = await waitForEnqueued<unknown, SyncSummary>(
          jobs,
          events,
          enqueued,
          syncDeduplicationId(id),
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
            `The sync of ${id} did not finish within ${timeoutMs} ms; it goes on in the worker ` +
              '(is one running?). Follow it with getStatus().',
            { retryable: true, cause: error },
          );
        }
        throw new AppError('sync_failed', `The sync of ${id} failed: ${message}`, { cause: error });
      }
    },

    async schedule(projectId, input) {
      const id = checkProjectId(projectId);
      const spec = parseScheduleInput(input);
      const ctx = await context();
      const handle = await queueHandle.get();
      const row = await setSchedule(ctx, id, spec);
      await reconcileSchedules(ctx, { queue: handle.queue, redis: handle.redis }, { projectIds: [id] });
      return scheduleInfo(id, row);
    },

    async unschedule(projectId) {
      const id = checkProjectId(projectId);
      const ctx = await context();
      const handle = await queueHandle.get();
      const removed = await clearSchedule(ctx, id);
      // Reconciled even when Postgres had none: Redis may still hold a stale scheduler.
      await reconcileSchedules(ctx, { queue: handle.queue, redis: handle.redis }, { projectIds: [id] });
      return { projectId: id, removed };
    },

    async getStatus(projectId, statusOptions = {}) {
      const id = checkProjectId(projectId);
      const runs = statusOptions.runs ?? 5;
      if (!Number.isInteger(runs) || runs < 0 || runs > 100) {
        throw new InvalidInputError('runs', 'must be a whole number from 0 to 100');
      }
      const status = await projectStatus(await context(), id, { runs });
      const { project } = status;
      return {
        projectId: project.id,
        credentials: status.credentials
          ? {
              keyId: status.credentials.keyId,
              issuerId: status.credentials.issuerId,
              status: status.credentials.status as CredentialStatus,
              statusDetail: status.credentials.statusDetail,
              verifiedAt: status.credentials.verifiedAt,
            }
          : null,
        app: project.appStoreId
          ? { appStoreId: project.appStoreId, bundleId: project.bundleId ?? '', name: project.appName ?? '' }
          : null,
        schedule:
          project.scheduleEverySeconds || project.scheduleCron
            ? {
                every: project.scheduleEverySeconds ? formatEvery(project.scheduleEverySeconds) : null,
                everySeconds: project.scheduleEverySeconds,
                cron: project.scheduleCron,
              }
            : null,
        catalog: status.catalog,
        lastRuns: status.runs.map((run) => ({
          runId: run.id,
          trigger: run.trigger,
          status: run.status,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          durationMs: run.durationMs,
          requests: run.requestsMade,
          changes: run.counts ?? null,
          error:
            run.errorKind || run.errorMessage ? { kind: run.errorKind, message: run.errorMessage } : null,
        })),
      };
    },

    async migrate() {
      ensureOpen();
      const embedded = shared ? shared.kind === 'embedded' : !config.databaseUrl;
      if (!embedded) {
        if (!config.databaseUrl) {
          throw new AppError(
            'unsupported',
            'migrate() needs databaseUrl to migrate a Postgres database; or run `catalog-sync migrate`.',
          );
        }
        // Its own session, under the advisory lock that serialises concurrent migrations.
        const { applied, total } = await migrateDatabase({ databaseUrl: config.databaseUrl });
        return { applied, total };
      }
      // The embedded database allows one opener per folder: migrate through this client's own.
      const opened = await database.get();
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      const { readMigrationFiles } = await import('drizzle-orm/migrator');
      const folder = migrationsFolder();
      const total = readMigrationFiles({ migrationsFolder: folder }).length;
      const before = await appliedCount(opened);
      await migrate(opened.db as never, { migrationsFolder: folder });
      return { applied: (await appliedCount(opened)) - before, total };
    },

    async close() {
      if (closed) return;
      closed = true;
      const events = queueEvents.peek();
      const handle = queueHandle.peek();
      const db = shared ? undefined : database.peek();
      await Promise.allSettled([
        events?.then((e) => e.close()),
        handle?.then((h) => h.close()),
        db?.then((d) => d.close()),
      ]);
      // The keep-alive sockets to Apple (shared by the process; requests in flight finish).
      closeSharedAgents();
    },
  };
  return withPublicErrors(client);
}

/**
 * Errors leave as AppError subclasses. A database failure is rewrapped: drizzle's error quotes
 * the SQL with its parameters (a sealed key among them), so only the driver's own message goes
 * out, with advice where there is one.
 */
/** A raw database error as what is wrong and what to do, by SQLSTATE (db/errors.ts). */
function toPublicError(error: unknown): unknown {
  return publicDatabaseError(error);
}

function withPublicErrors(client: CatalogSync): CatalogSync {
  const wrapped = {} as Record<string, unknown>;
  for (const [name, method] of Object.entries(client) as [
    string,
    (...args: unknown[]) => Promise<unknown>,
  ][]) {
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await method(...args);
      } catch (error) {
        throw toPublicError(error);
      }
    };
  }
  return wrapped as unknown as CatalogSync;
}

async function appliedCount(database: Database): Promise<number> {
  const present = rowsOf<{ present: boolean }>(
    await database.db.execute(sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`),
  );
  if (!present[0]?.present) return 0;
  const rows = rowsOf<{ n: number | string }>(
    await database.db.execute(sql`select count(*) as n from drizzle.__drizzle_migrations`),
  );
  return Number(rows[0]?.n ?? 0);
}
