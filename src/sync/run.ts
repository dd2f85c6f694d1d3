import { performance } from 'node:perf_hooks';
import { eq, sql } from 'drizzle-orm';
import { databaseAppError, isDatabaseError } from '../../db/errors.ts';
import { projects, syncRuns } from '../../db/schema.ts';
import { type AppStoreClient, AppStoreError } from '../appstore/index.ts';
import type { ServiceContext } from '../context.ts';
import {
  type ClientOverrides,
  loadClientForProject,
  parseProjectId,
  recordCredentialFailure,
  recordCredentialSuccess,
} from '../credentials/index.ts';
import { projectNotFound } from '../credentials/store.ts';
import { AppError, boundText, errorKind, errorMessage, PreconditionError } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';
import { applyCatalog, type LockMode } from './apply.ts';
import { fetchCatalog } from './fetch.ts';
import { requestLowerBound } from './plan.ts';

/*
 * One project's sync (DESIGN.md, "The flow of one sync"):
 *  1. a sync_runs row 'running' is committed first, so even a crash leaves a trace;
 *  2. the catalog is fetched outside any transaction (no connection held while Apple answers);
 *  3. one transaction: per-project advisory lock, load, diff, batched writes, rule versioning,
 *     and the run row finished — the changes and the 'succeeded' run commit together;
 *  4. on any failure the transaction rolls back and the run row is marked failed (kind and
 *     message, no secret), auth/forbidden errors also mark the credentials; then it throws.
 */

export type SyncTrigger = 'schedule' | 'credentials-saved' | 'manual';

export interface SyncOptions {
  trigger: SyncTrigger;
  jobId?: string | undefined;
  /** What a second sync of the same project does while one is writing (default `wait`; see apply.ts). */
  lock?: LockMode | undefined;
  /** Client settings on top of the config's (tests and benchmarks: retries, backoff). */
  client?: ClientOverrides | undefined;
}

export interface SyncSummary {
  runId: string;
  projectId: string;
  status: 'succeeded';
  /** `<entity>.<action>` counts (and `revenue_attribution_rule.opened`); `{}` when unchanged. */
  changes: Record<string, number>;
  /** App Store Connect requests made, retries included. */
  requests: number;
  requestsByCallSite: Record<string, number>;
  durationMs: number;
  /** Nothing was written but the run row. */
  unchanged: boolean;
  /** A sync that started later had already applied a newer fetch; this one wrote nothing. */
  superseded: boolean;
  /** What the fetch saw, and the fewest requests that shape allows (plan.ts). */
  shape: { iaps: number; groups: number; subscriptions: number };
  requestLowerBound: number;
}

function noAppSelected(projectId: string): PreconditionError {
  return new PreconditionError(
    `Project ${projectId} has no app selected, so there is no catalog to sync. ` +
      `List the apps its key can see with \`catalog-sync apps ${projectId}\`, then bind one with ` +
      `\`catalog-sync select-app ${projectId} <appStoreId>\`.`,
  );
}

export async function syncProject(
  ctx: ServiceContext,
  projectIdInput: string,
  options: SyncOptions,
): Promise<SyncSummary> {
  const projectId = parseProjectId(projectIdInput);
  const [project] = await ctx.db
    .select({ id: projects.id, appStoreId: projects.appStoreId })
    .from(projects)
    .where(eq(projects.id, projectId));
  if (!project) throw projectNotFound(projectId);

  const started = performance.now();
  const [run] = await ctx.db
    .insert(syncRuns)
    .values({ projectId, trigger: options.trigger, jobId: options.jobId ?? null, status: 'running' })
    .returning({ id: syncRuns.id });
  if (!run) throw new Error('inserting the sync run returned no row');
  const runId = run.id;
  const logger = ctx.logger.child({ projectId, runId, ...(options.jobId ? { jobId: options.jobId } : {}) });
  logger.info({ trigger: options.trigger }, 'sync started');

  let client: AppStoreClient | undefined;
  try {
    if (!project.appStoreId) throw noAppSelected(projectId);
    let credentials: { keyId: string };
    ({ client, credentials } = await loadClientForProject(ctx, projectId, options.client ?? {}));
    let fetched: Awaited<ReturnType<typeof fetchCatalog>>;
    try {
      fetched = await fetchCatalog(client, project.appStoreId, {
        maxAttributesBytes: ctx.config.limits.productAttributesBytes,
      });
    } finally {
      client.close();
    }
    for (const warning of fetched.warnings) logger.warn(warning);
    const stats = client.stats();

    const outcome = await ctx.db.transaction(async (tx) => {
      const applied = await applyCatalog(tx, {
        projectId,
        runId,
        catalog: fetched.catalog,
        lock: options.lock ?? 'wait',
      });
      await tx
        .update(syncRuns)
        .set({
          status: 'succeeded',
          finishedAt: sql`clock_timestamp()`,
          durationMs: Math.round(performance.now() - started),
          requestsMade: stats.requests,
          requestCounts: stats.byCallSite,
          counts: applied.counts,
        })
        .where(eq(syncRuns.id, runId));
      return applied;
    });
    await recordCredentialSuccess(ctx, projectId, credentials.keyId);

    const summary: SyncSummary = {
      runId,
      projectId,
      status: 'succeeded',
      changes: outcome.counts,
      requests: stats.requests,
      requestsByCallSite: stats.byCallSite,
      durationMs: Math.round(performance.now() - started),
      unchanged: outcome.unchanged,
      superseded: outcome.superseded,
      shape: {
        iaps: fetched.shape.iaps,
        groups: fetched.shape.groups,
        subscriptions: fetched.shape.subscriptionsPerGroup.reduce((sum, n) => sum + n, 0),
      },
      requestLowerBound: requestLowerBound(fetched.shape),
    };
    if (outcome.superseded) {
      logger.info('sync superseded: a later sync already applied a newer catalog; nothing written');
    }
    logger.info(
      {
        changes: summary.changes,
        requests: summary.requests,
        requestLowerBound: summary.requestLowerBound,
        durationMs: summary.durationMs,
      },
      summary.unchanged ? 'sync finished: no changes' : 'sync finished',
    );
    return summary;
  } catch (caught) {
    const error = asAppError(caught, ctx.config.databaseUrl);
    await recordFailure(ctx, logger, runId, started, client, error);
    if (error instanceof AppStoreError && (error.kind === 'auth' || error.kind === 'forbidden')) {
      try {
        await recordCredentialFailure(ctx, projectId, error);
      } catch (recordError) {
        logger.error(
          {
            error: boundText(
              scrubSecrets(errorMessage(asAppError(recordError, ctx.config.databaseUrl))),
              500,
            ),
          },
          'could not record the credential failure',
        );
      }
    }
    throw error;
  }
}

/**
 * A database error arrives wrapped by drizzle with the whole statement and its parameters (the
 * catalog as JSON) in its message: db/errors.ts gives the verdict by SQLSTATE (unavailable,
 * not migrated, bad data, conflict) and a message that says what to do, in one line.
 */
function asAppError(error: unknown, databaseUrl: string | undefined): unknown {
  if (error instanceof AppError || !isDatabaseError(error)) return error;
  return databaseAppError(error, { databaseUrl });
}

async function recordFailure(
  ctx: ServiceContext,
  logger: ServiceContext['logger'],
  runId: string,
  started: number,
  client: AppStoreClient | undefined,
  error: unknown,
): Promise<void> {
  const stats = client?.stats();
  const kind = errorKind(error);
  const max = ctx.config.limits.errorTextChars;
  const message = boundText(scrubSecrets(errorMessage(error)), max);
  // A known error's message says it all (its cause may be drizzle's dump of a statement and its
  // parameters); an unexpected one keeps (the start of) its stack.
  if (error instanceof AppError) logger.warn({ kind, error: message }, 'sync failed');
  else {
    const stack =
      error instanceof Error && error.stack ? boundText(scrubSecrets(error.stack), max) : undefined;
    logger.warn({ kind, error: message, stack }, 'sync failed');
  }
  try {
    await ctx.db
      .update(syncRuns)
      .set({
        status: 'failed',
        finishedAt: sql`clock_timestamp()`,
        durationMs: Math.round(performance.now() - started),
        requestsMade: stats?.requests ?? 0,
        requestCounts: stats?.byCallSite ?? {},
        errorKind: kind,
        errorMessage: message,
      })
      .where(eq(syncRuns.id, runId));
  } catch (recordError) {
    // The original error matters more; the run stays 'running' and says so in the status.
    logger.error(
      { error: boundText(scrubSecrets(errorMessage(asAppError(recordError, ctx.config.databaseUrl))), 500) },
      'could not mark the sync run as failed',
    );
  }
}
