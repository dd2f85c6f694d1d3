import type { ResponseEvent } from '../appstore/index.ts';
import { type BudgetState, createDetailsBudget, type DetailsBudget, keyLabel } from '../details/budget.ts';
import type { HealthIssueKind } from '../details/health.ts';
import { type RefreshSummary, refreshDetails } from '../details/refresh.ts';
import { errorKind, errorMessage } from '../errors.ts';
import { emitHealthIfChanged } from '../events/emit.ts';
import { scrubSecrets } from '../log/logger.ts';
import type { RedisConnection } from '../queue/redis.ts';
import type { AppContext } from './context.ts';
import { catalogHealth } from './details.ts';

/*
 * The one implementation of "refresh a project's due details inside its key's
 * budget", run after a structure sync by the worker's job and by `sync --inline`. Both use the
 * same budget in Redis (the key's details share, shared by every process), so an operator's
 * inline sync never spends more of the key than the worker would.
 *
 * The structure sync has already succeeded when this runs, so nothing here throws: a failure
 * (Redis unreachable, a revoked key) is returned as `error`, and the products stay due for the
 * next run.
 */

/**
 * A refresh as the job and `sync --inline` report it: the refresh's own counts (RefreshSummary),
 * with the refreshed and failed products counted rather than listed.
 */
export interface DetailsRefreshResult
  extends Pick<
    RefreshSummary,
    'due' | 'deferred' | 'requests' | 'requestsByCallSite' | 'changes' | 'stoppedBy' | 'retryInMs'
  > {
  refreshed: number;
  failed: number;
  /** The project's products whose details are now older than the maximum age or never read. */
  stale: number | null;
  /** A hash of the key id (budget.ts keyLabel), never the id itself; null when no request was made. */
  key: string | null;
  /** The key's details share after the refresh. */
  budget: BudgetState | null;
  /** Catalog health after the refresh, by kind. */
  health: Record<HealthIssueKind, number> | null;
  /** Why the refresh did not run or stopped (the sync itself succeeded). */
  error: string | null;
}

/** A refresh that did nothing, with the reason when there is one. */
function nothing(error: string | null): DetailsRefreshResult {
  return {
    due: 0,
    refreshed: 0,
    deferred: 0,
    failed: 0,
    requests: 0,
    requestsByCallSite: {},
    changes: {},
    stoppedBy: null,
    stale: null,
    retryInMs: null,
    key: null,
    budget: null,
    health: null,
    error,
  };
}

// One limiter per connection: the worker's jobs share its connection, so they share this too.
const budgets = new WeakMap<RedisConnection, DetailsBudget>();

/**
 * The key budgets for details on the context's Redis (the queue's connection), or null when
 * DETAILS_BUDGET_SHARE is 0 (the detail refresh is off).
 */
export async function detailsBudgetOf(ctx: AppContext): Promise<DetailsBudget | null> {
  const { details } = ctx.config;
  if (details.budgetShare <= 0) return null;
  const { redis, prefix } = await ctx.queue();
  let budget = budgets.get(redis);
  if (!budget) {
    budget = createDetailsBudget(redis, {
      hourlyLimit: details.hourlyLimit,
      share: details.budgetShare,
      windowSeconds: details.windowSeconds,
      prefix,
    });
    budgets.set(redis, budget);
  }
  return budget;
}

export interface RefreshProjectDetailsInput {
  projectId: string;
  /** The sync run the detail changes are recorded under. */
  runId: string;
  /** The key budgets to spend; default: the shared one on the context's Redis (detailsBudgetOf). */
  budget?: DetailsBudget | undefined;
  /** Observes every detail response (the worker's metrics). */
  onResponse?: ((event: ResponseEvent) => void) | undefined;
}

/** Refreshes the project's due details within its key's details share; never throws. */
export async function refreshProjectDetails(
  ctx: AppContext,
  input: RefreshProjectDetailsInput,
): Promise<DetailsRefreshResult> {
  const { projectId, runId } = input;
  let budget: DetailsBudget | null;
  try {
    budget = input.budget ?? (await detailsBudgetOf(ctx));
  } catch (error) {
    // Without the shared budget there is no knowing what the key has left: read nothing.
    const message = scrubSecrets(errorMessage(error));
    ctx.logger.warn(
      { projectId, runId, reason: message },
      "details not refreshed: the key's budget in Redis is out of reach",
    );
    return nothing(`the key's details budget (in Redis) is out of reach: ${message}`);
  }
  if (!budget) return nothing('the detail refresh is off (DETAILS_BUDGET_SHARE=0)');

  try {
    const summary = await refreshDetails(ctx, { projectId, runId, budget, onResponse: input.onResponse });
    const keyId = summary.keyId;
    const health = await catalogHealth(ctx, { projectId }).catch(() => undefined);
    // The platform hears when the catalog's health changes (not on every sync).
    if (health) {
      await emitHealthIfChanged(ctx.db, projectId, health).catch((error: unknown) =>
        ctx.logger.warn(
          { projectId, reason: scrubSecrets(errorMessage(error)) },
          'could not record the catalog.health_changed event',
        ),
      );
    }
    const state = keyId ? await budget.state(keyId).catch(() => undefined) : undefined;
    return {
      due: summary.due,
      refreshed: summary.refreshed.length,
      deferred: summary.deferred,
      failed: summary.failed.length,
      requests: summary.requests,
      requestsByCallSite: summary.requestsByCallSite,
      changes: summary.changes,
      stoppedBy: summary.stoppedBy,
      stale: health?.staleProducts ?? null,
      retryInMs: summary.retryInMs,
      key: keyId ? keyLabel(keyId) : null,
      budget: state ?? null,
      health: health?.counts ?? null,
      error: null,
    };
  } catch (error) {
    const message = scrubSecrets(errorMessage(error));
    ctx.logger.warn(
      { projectId, runId, kind: errorKind(error), error: message },
      'details refresh failed; retried next run',
    );
    return nothing(message);
  }
}
