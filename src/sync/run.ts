import { performance } from 'node:perf_hooks';
import { eq, sql } from 'drizzle-orm';
import { rowsOf } from '../../db/client.ts';
import { type CredentialStatus, syncRuns } from '../../db/schema.ts';
import { type AppStoreClient, AppStoreError } from '../appstore/index.ts';
import type { ServiceContext } from '../context.ts';
import {
  type ClientOverrides,
  clientForStoredKey,
  recordCredentialFailure,
  recordCredentialSuccess,
  type StoredKey,
} from '../credentials/index.ts';
import { asAppError } from '../database/errors.ts';
import { AppError, boundText, errorKind, errorMessage } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';
import { parseProjectId } from '../projects/id.ts';
import { noAppSelected, noCredentials, projectNotFound } from '../projects/store.ts';
import type { SyncTrigger } from '../queue/contract.ts';
import { type ApplyOutcome, applyCatalog } from './apply.ts';
import { jsonb } from './change-log.ts';
import { type FetchedCatalog, fetchCatalog } from './fetch.ts';
import { type LockMode, syncInProgressError } from './lock.ts';
import { requestLowerBound } from './plan.ts';
import { finishIfUnchanged } from './unchanged.ts';

/*
 * One project's sync (docs/architecture.md, "The flow of one sync"):
 *  1. a sync_runs row 'running' is committed first, so even a crash leaves a trace;
 *  2. the catalog is fetched outside any transaction (no connection held while Apple answers);
 *  3. one transaction: per-project advisory lock, load, diff, batched writes, rule versioning,
 *     and the run row finished — the changes and the 'succeeded' run commit together; or, when
 *     the fetched catalog's digest is the stored one's, one statement that checks it under the
 *     same lock and finishes the run (unchanged.ts);
 *  4. on any failure the transaction rolls back and the run row is marked failed (kind and
 *     message, no secret), auth/forbidden errors also mark the credentials; then it throws.
 * While it runs, the row's `heartbeat_at` is refreshed; a row whose heartbeat stops (the process
 * died, or the database went away and the failure could not be written) is ended as `abandoned`
 * by the sweep (sweep.ts). The fetch's completion time (`fetched_at`) orders syncs of a project.
 */

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
  /** A sync whose fetch completed later had already applied it; this older fetch wrote nothing. */
  superseded: boolean;
  /** What the fetch saw, and the fewest requests that shape allows (plan.ts). */
  shape: { iaps: number; groups: number; subscriptions: number };
  requestLowerBound: number;
}

export async function syncProject(
  ctx: ServiceContext,
  projectIdInput: string,
  options: SyncOptions,
): Promise<SyncSummary> {
  const projectId = parseProjectId(projectIdInput);
  const started = performance.now();
  const opened = await openRun(ctx, projectId, options);
  if (!opened) throw projectNotFound(projectId);
  const { runId, appStoreId, key } = opened;
  const logger = ctx.logger.child({ projectId, runId, ...(options.jobId ? { jobId: options.jobId } : {}) });
  logger.info({ trigger: options.trigger }, 'sync started');
  const heartbeat = startHeartbeat(ctx, runId, logger);

  let client: AppStoreClient | undefined;
  try {
    if (!appStoreId) throw noAppSelected(projectId);
    if (!key) throw noCredentials(projectId);
    client = clientForStoredKey(ctx, key, options.client ?? {});
    let fetched: FetchedCatalog;
    try {
      fetched = await fetchCatalog(client, appStoreId, {
        maxAttributesBytes: ctx.config.limits.productAttributesBytes,
        storedIaps: opened.storedIaps,
      });
    } finally {
      client.close();
    }
    for (const warning of fetched.warnings) logger.warn(warning);
    const stats = client.stats();
    const { digest } = fetched;
    const lock = options.lock ?? 'wait';
    const runEnd = () => ({
      durationMs: Math.round(performance.now() - started),
      requests: stats.requests,
      requestCounts: stats.byCallSite,
    });

    // The same catalog as the stored one's digest (read as the run opened): the unchanged
    // re-sync's one statement, which checks the digest again under the project's lock
    // (unchanged.ts). Otherwise, or if it finds the digest changed since, the full apply.
    const quick =
      opened.digest === digest
        ? await finishIfUnchanged(ctx.db, { projectId, runId, digest, lock, ...runEnd() })
        : 'changed';
    if (quick === 'busy') throw syncInProgressError(projectId);
    const outcome: Pick<ApplyOutcome, 'counts' | 'unchanged' | 'superseded'> =
      quick !== 'changed'
        ? { counts: {}, unchanged: true, superseded: quick === 'superseded' }
        : await ctx.db.transaction(async (tx) => {
            const applied = await applyCatalog(tx, {
              projectId,
              runId,
              catalog: fetched.catalog,
              digest,
              iaps: fetched.shape.iaps,
              lock,
              trigger: options.trigger,
            });
            const end = runEnd();
            // The run's end and the request it served: the database function the unchanged
            // path ends with too (migration 0005), so both end a run the same way.
            await tx.execute(sql`select catalog_sync_run_succeeded(${runId}::uuid, ${end.durationMs},
              ${end.requests}, ${jsonb(end.requestCounts)}, ${jsonb(applied.counts)})`);
            return applied;
          });
    await recordCredentialSuccess(ctx, projectId, key.keyId, key.status);

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
    const error = asAppError(caught, { doing: 'this sync', databaseUrl: ctx.config.databaseUrl });
    await recordFailure(ctx, logger, runId, started, client, error);
    if (error instanceof AppStoreError && (error.kind === 'auth' || error.kind === 'forbidden')) {
      try {
        await recordCredentialFailure(ctx, projectId, error);
      } catch (recordError) {
        logger.error(
          {
            error: boundText(
              scrubSecrets(
                errorMessage(
                  asAppError(recordError, {
                    doing: 'recording the credential failure',
                    databaseUrl: ctx.config.databaseUrl,
                  }),
                ),
              ),
              500,
            ),
          },
          'could not record the credential failure',
        );
      }
    }
    throw error;
  } finally {
    heartbeat.stop();
  }
}

/**
 * The project's selected app, its stored key, its catalog's digest and a new `running` run row,
 * in one statement (one round trip, not reads then an insert: each statement of a sync costs
 * worker CPU in the driver).
 * Undefined, with no row written, when the project does not exist; `key` is undefined when the
 * project has no credentials.
 */
async function openRun(
  ctx: ServiceContext,
  projectId: string,
  options: SyncOptions,
): Promise<
  | {
      runId: string;
      appStoreId: string | null;
      key: (StoredKey & { status: CredentialStatus }) | undefined;
      /** The stored catalog's digest, if one is known (a hint: the unchanged path checks it again). */
      digest: string | null;
      /** In-app purchases in the stored catalog, if its digest is known (a hint for the fetch's plan). */
      storedIaps: number | null;
    }
  | undefined
> {
  const [row] = rowsOf<{
    run_id: string;
    app_store_id: string | null;
    key_id: string | null;
    issuer_id: string | null;
    status: CredentialStatus | null;
    sealed: string | null;
    digest: string | null;
    iaps: number | null;
  }>(
    await ctx.db.execute(sql`
      with project as (select id, app_store_id from projects where id = ${projectId}),
           run as (
             insert into sync_runs (project_id, trigger, job_id, status)
             select id, ${options.trigger}, ${options.jobId ?? null}, 'running' from project
             returning id)
      select run.id as run_id, project.app_store_id, c.key_id, c.issuer_id, c.status,
             c.private_key_encrypted as sealed, d.digest, d.iaps
        from run cross join project
        left join app_store_credentials c on c.project_id = project.id
        left join catalog_digests d on d.project_id = project.id`),
  );
  if (!row) return undefined;
  const { key_id: keyId, issuer_id: issuerId, status, sealed } = row;
  return {
    runId: row.run_id,
    appStoreId: row.app_store_id,
    digest: row.digest,
    storedIaps: row.iaps,
    key:
      keyId !== null && issuerId !== null && status !== null && sealed !== null
        ? { projectId, keyId, issuerId, status, sealed }
        : undefined,
  };
}

/** Refreshes the run's heartbeat until stopped; best effort (a database outage just lets it age). */
function startHeartbeat(
  ctx: ServiceContext,
  runId: string,
  logger: ServiceContext['logger'],
): { stop(): void } {
  const intervalMs = ctx.config.worker.heartbeatIntervalMs;
  let beating: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (beating) return;
    beating = ctx.db
      .update(syncRuns)
      .set({ heartbeatAt: sql`clock_timestamp()` })
      .where(sql`${syncRuns.id} = ${runId} and ${syncRuns.status} = 'running'`)
      .catch((error: unknown) =>
        logger.debug(
          { reason: errorMessage((error as { cause?: unknown }).cause ?? error) },
          'heartbeat not written',
        ),
      )
      .finally(() => {
        beating = undefined;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
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
      {
        error: boundText(
          scrubSecrets(
            errorMessage(
              asAppError(recordError, {
                doing: 'recording the sync run',
                databaseUrl: ctx.config.databaseUrl,
              }),
            ),
          ),
          500,
        ),
      },
      'could not mark the sync run as failed',
    );
  }
}
